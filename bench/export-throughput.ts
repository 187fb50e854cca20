import { ConvexLegacyFeed, toChangeEvent } from '../shared/adapters/convex-legacy-feed.js';
import type { DynamoDbExportStore } from '../shared/adapters/dynamodb-export-store.js';
import type { ChangeEvent, StreamEvent } from '../shared/events/change-event.js';
import { exportChanges } from '../shared/export/export-changes.js';
import { initialExportState } from '../shared/export/export-state.js';
import type { ChangeFeed, FeedPosition } from '../shared/ports/change-feed.js';
import { MemoryMetrics, silentLog } from '../shared/ports/observability.js';
import type { DeltaCursor, SnapshotCursor, SnapshotTs } from '../shared/values/int64.js';
import { deltaCursorAfterSnapshot, toDeltaCursor } from '../shared/values/int64.js';
import { DELTAS_TABLE, SNAPSHOT_TABLE } from './bench-sim.js';
import { type BenchContext, convexClient, freshStore, freshStream, timed } from './context.js';

export type ExportKind = 'snapshot' | 'deltas';

export interface Measured {
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly pages?: number;
}

export interface ExportThroughput {
  readonly kind: ExportKind;
  readonly fetchOnly: Measured;
  readonly publishOnly: Measured;
  readonly sequential: Measured;
  readonly ours: Measured;
  /** ours / min(fetch-only, publish-only). */
  readonly oursVsCeiling: number;
  readonly oursVsSequential: number;
}

export const measured = (events: number, seconds: number, pages?: number): Measured => ({
  events,
  seconds,
  eventsPerSecond: events / seconds,
  ...(pages !== undefined ? { pages } : {}),
});

const PUBLISH_CHUNK = 5_000;
export const LEASE_MS = 600_000;

/** One page source for both phases, exactly as the exporter pages them. */
function pager(ctx: BenchContext, kind: ExportKind) {
  const client = convexClient(ctx);
  if (kind === 'snapshot') {
    const selection = { tableName: SNAPSHOT_TABLE };
    let snapshot: SnapshotTs | undefined;
    let cursor: SnapshotCursor | undefined;
    let done = false;
    return {
      done: () => done,
      async next(): Promise<{ events: ChangeEvent[]; checkpoint: string }> {
        const page = await client.listSnapshot({
          selection,
          ...(snapshot !== undefined ? { snapshot } : {}),
          ...(cursor !== undefined ? { cursor } : {}),
        });
        snapshot = page.snapshot;
        done = !page.hasMore || page.cursor === null;
        cursor = page.cursor ?? undefined;
        return {
          events: page.values.map((d) => toChangeEvent(d, true, 1)),
          checkpoint: done ? deltaCursorAfterSnapshot(page.snapshot) : String(page.cursor),
        };
      },
    };
  }
  const selection = { tableName: DELTAS_TABLE };
  let cursor: DeltaCursor = toDeltaCursor(ctx.sim.deltasFrom);
  let done = false;
  return {
    done: () => done,
    async next() {
      const page = await client.documentDeltas({ cursor, selection });
      cursor = page.cursor;
      done = !page.hasMore;
      return { events: page.values.map((d) => toChangeEvent(d, false, 1)), checkpoint: cursor };
    },
  };
}

/** The client paging the simulator with nothing else to do: the most the source can give. */
async function fetchOnly(ctx: BenchContext, kind: ExportKind) {
  const pages: ChangeEvent[][] = [];
  const source = pager(ctx, kind);
  const { seconds } = await timed(async () => {
    while (!source.done()) pages.push((await source.next()).events);
  });
  const events = pages.reduce((n, p) => n + p.length, 0);
  return { measured: measured(events, seconds, pages.length), events: pages.flat() };
}

/** The same events straight into the stream in large batches: the most the sink takes. */
export async function publishOnly(
  ctx: BenchContext,
  events: readonly StreamEvent[],
): Promise<Measured> {
  const stream = await freshStream(ctx);
  const publisher = stream.publisher();
  const { seconds } = await timed(async () => {
    for (let i = 0; i < events.length; i += PUBLISH_CHUNK)
      await publisher.publish(events.slice(i, i + PUBLISH_CHUNK));
  });
  await stream.drop();
  return measured(events.length, seconds);
}

/** What typical connectors do: fetch a page, publish it (one call at a time), checkpoint, repeat. */
async function sequential(ctx: BenchContext, kind: ExportKind): Promise<Measured> {
  const stream = await freshStream(ctx);
  const publisher = stream.publisher(1);
  const store = freshStore(ctx);
  const held = await store.acquire('bench-sequential', LEASE_MS);
  if (!held) throw new Error('benchmark state lease unavailable');
  let lease = held.lease;
  let state = initialExportState();
  const source = pager(ctx, kind);
  let events = 0;
  let pages = 0;
  const { seconds } = await timed(async () => {
    while (!source.done()) {
      const page = await source.next();
      await publisher.publish(page.events);
      state = { ...state, updatedAt: new Date().toISOString(), newestEventTs: page.checkpoint };
      lease = await store.checkpoint(lease, state, LEASE_MS);
      events += page.events.length;
      pages++;
    }
  });
  await stream.drop();
  return measured(events, seconds, pages);
}

/** The exporter itself, from a fresh state (snapshot) or a cursor at the backlog's start (deltas). */
async function ours(ctx: BenchContext, kind: ExportKind): Promise<Measured> {
  const store = freshStore(ctx);
  if (kind === 'deltas')
    await startAt(store, {
      source: 'legacy',
      phase: 'deltas',
      deltaCursor: toDeltaCursor(ctx.sim.deltasFrom),
    });
  return runExporter(
    ctx,
    new ConvexLegacyFeed(convexClient(ctx)),
    store,
    kind === 'snapshot' ? SNAPSHOT_TABLE : DELTAS_TABLE,
  );
}

/** Puts a fresh export's state at `position`, as if an earlier run had stopped there. */
export async function startAt(store: DynamoDbExportStore, position: FeedPosition): Promise<void> {
  const held = await store.acquire('bench-setup', LEASE_MS);
  if (!held) throw new Error('benchmark state lease unavailable');
  await store.checkpoint(held.lease, { ...initialExportState(), position }, LEASE_MS);
  await store.release(held.lease);
}

/**
 * One run of the real exporter over `feed` on a fresh stream, until caught up; the same settings
 * for every source, so their rows compare.
 */
export async function runExporter(
  ctx: BenchContext,
  feed: ChangeFeed,
  store: DynamoDbExportStore,
  table: string,
): Promise<Measured> {
  const stream = await freshStream(ctx);
  const deps = {
    feed,
    store,
    publisher: stream.publisher(),
    metrics: new MemoryMetrics(),
    log: silentLog,
  };
  const { value: outcome, seconds } = await timed(() =>
    exportChanges(deps, {
      owner: 'bench-ours',
      remainingMs: () => Number.POSITIVE_INFINITY,
      safetyMarginMs: 10_000,
      follow: false,
      pollIntervalMs: 500,
      leaseTtlMs: LEASE_MS,
      filter: { includeTables: [table] },
    }),
  );
  await stream.drop();
  if (outcome.status !== 'caught-up') throw new Error(`exporter ended ${outcome.status}`);
  return measured(outcome.events, seconds, outcome.pages);
}

/**
 * All four measurements of one phase, in one run. `expectedSnapshot` is the seeded document
 * count; the deltas count is whatever the change log holds (writes to one document within a
 * transaction collapse into one revision), so every variant must match the fetch-only count.
 */
export async function exportThroughput(
  ctx: BenchContext,
  kind: ExportKind,
  expectedSnapshot: number,
): Promise<ExportThroughput> {
  const fetched = await fetchOnly(ctx, kind);
  if (kind === 'snapshot' && fetched.measured.events !== expectedSnapshot)
    throw new Error(
      `snapshot: fetched ${fetched.measured.events} of ${expectedSnapshot} documents`,
    );
  const publish = await publishOnly(ctx, fetched.events);
  const seq = await sequential(ctx, kind);
  const our = await ours(ctx, kind);
  for (const [name, m] of Object.entries({ sequential: seq, ours: our })) {
    // A faster run that moved fewer events would be a lie; refuse to report it.
    if (m.events !== fetched.measured.events)
      throw new Error(
        `${kind} ${name}: moved ${m.events} events, fetched ${fetched.measured.events}`,
      );
  }
  return {
    kind,
    fetchOnly: fetched.measured,
    publishOnly: publish,
    sequential: seq,
    ours: our,
    oursVsCeiling:
      our.eventsPerSecond / Math.min(fetched.measured.eventsPerSecond, publish.eventsPerSecond),
    oursVsSequential: our.eventsPerSecond / seq.eventsPerSecond,
  };
}
