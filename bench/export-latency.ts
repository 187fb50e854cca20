import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { percentile } from '../local/flow-stats.js';
import { ConvexLegacyFeed } from '../shared/adapters/convex-legacy-feed.js';
import { exportChanges, lagSeconds } from '../shared/export/export-changes.js';
import { MemoryMetrics, silentLog } from '../shared/ports/observability.js';
import { type BenchContext, convexClient, freshStore, freshStream } from './context.js';

export interface LatencyResult {
  readonly changes: number;
  readonly ratePerSecond: number;
  /** The exporter's BRIDGE_POLL_INTERVAL_MS while caught up. */
  readonly pollIntervalMs: number;
  /** How often the measuring consumer polls each shard (adds up to this much). */
  readonly consumerPollMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const TABLE = 'bench_latency';
const CONSUMER_POLL_MS = 20;

/**
 * Commit time in Convex to record readable in the stream, for changes written at a steady rate
 * while the exporter follows: one insert per transaction, read back by a consumer on every shard.
 */
export async function exportLatency(
  ctx: BenchContext,
  options: { changes: number; ratePerSecond: number; pollIntervalMs: number },
): Promise<LatencyResult> {
  const stream = await freshStream(ctx);
  const store = freshStore(ctx);
  const stop = new AbortController();
  const exporter = exportChanges(
    {
      feed: new ConvexLegacyFeed(convexClient(ctx)),
      store,
      publisher: stream.publisher(),
      metrics: new MemoryMetrics(),
      log: silentLog,
    },
    {
      owner: 'bench-latency',
      remainingMs: () => Number.POSITIVE_INFINITY,
      safetyMarginMs: 10_000,
      follow: true,
      pollIntervalMs: options.pollIntervalMs,
      leaseTtlMs: 600_000,
      filter: { includeTables: [TABLE] },
      signal: stop.signal,
    },
  );
  try {
    // Measure the steady state: wait until the (empty) snapshot is done and the export follows.
    for (let i = 0; (await store.read()).state?.position.phase !== 'deltas'; i++) {
      if (i > 600) throw new Error('exporter never reached the change log');
      await sleep(50);
    }
    const iterators = new Map<string, string | undefined>();
    const shards = await ctx.kinesis.send(new ListShardsCommand({ StreamName: stream.name }));
    for (const shard of shards.Shards ?? []) {
      const out = await ctx.kinesis.send(
        new GetShardIteratorCommand({
          StreamName: stream.name,
          ShardId: shard.ShardId,
          ShardIteratorType: 'LATEST',
        }),
      );
      iterators.set(shard.ShardId as string, out.ShardIterator);
    }
    const writer = writeSteadily(ctx, options.changes, options.ratePerSecond);
    const latencies: number[] = [];
    const deadline = Date.now() + 60_000 + (options.changes / options.ratePerSecond) * 1000;
    while (latencies.length < options.changes) {
      if (Date.now() > deadline)
        throw new Error(
          `only ${latencies.length} of ${options.changes} changes reached the stream`,
        );
      for (const [shardId, iterator] of iterators) {
        if (!iterator) continue;
        const page = await ctx.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
        const now = Date.now();
        for (const record of page.Records ?? []) {
          const event = JSON.parse(Buffer.from(record.Data as Uint8Array).toString('utf8')) as {
            ts: string;
          };
          latencies.push(lagSeconds(now, event.ts) * 1000);
        }
        iterators.set(shardId, page.NextShardIterator);
      }
      await sleep(CONSUMER_POLL_MS);
    }
    await writer;
    const at = (p: number) => percentile(latencies, p) as number;
    return {
      changes: latencies.length,
      ratePerSecond: options.ratePerSecond,
      pollIntervalMs: options.pollIntervalMs,
      consumerPollMs: CONSUMER_POLL_MS,
      p50Ms: at(50),
      p95Ms: at(95),
      p99Ms: at(99),
      maxMs: at(100),
    };
  } finally {
    stop.abort();
    await exporter.catch(() => undefined);
    await stream.drop();
  }
}

/** One insert per transaction on a fixed schedule (not "sleep after each"), so the rate holds. */
async function writeSteadily(ctx: BenchContext, changes: number, perSecond: number): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < changes; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    await ctx.sim.admin('/_sim/transaction', {
      writes: [{ op: 'insert', table: TABLE, doc: { i } }],
    });
  }
}
