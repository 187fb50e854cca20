import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import type {
  LandedScan,
  ShardPosition,
  StreamMark,
  StreamTail,
} from '../ports/event-publisher.js';

export interface StreamRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

async function listShards(kinesis: KinesisClient, streamName: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    const out = await kinesis.send(
      token
        ? new ListShardsCommand({ NextToken: token })
        : new ListShardsCommand({ StreamName: streamName }),
    );
    shards.push(...(out.Shards ?? []));
    token = out.NextToken;
  } while (token);
  return shards;
}

function recordsOf(shardId: string, page: GetRecordsCommandOutput): StreamRecord[] {
  return (page.Records ?? []).map((r) => ({
    shardId,
    sequenceNumber: r.SequenceNumber as string,
    partitionKey: r.PartitionKey as string,
    data: r.Data as Uint8Array,
  }));
}

/** An empty page with nothing behind it: the shard's tip (an open shard never ends). */
const atTip = (page: GetRecordsCommandOutput) =>
  (page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0;

/** Reads every record of every shard from the start until each shard is caught up. */
export async function readWholeStream(
  kinesis: KinesisClient,
  streamName: string,
): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  for (const shard of await listShards(kinesis, streamName)) {
    const shardId = shard.ShardId as string;
    let iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    while (iterator) {
      const page = await kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }),
      );
      out.push(...recordsOf(shardId, page));
      if (atTip(page)) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

/** AT_TIMESTAMP reads start this much before a mark's time, for clock skew (reading more is safe). */
const SKEW_MS = 5_000;

/**
 * The StreamTail over Kinesis: reads every shard after the mark (AFTER/AT_SEQUENCE_NUMBER where
 * the mark has the shard, AT_TIMESTAMP of the mark's time otherwise: a child shard after a
 * split or merge, a shard we had not written to) up to its tip or end, at most `limitPerShard`
 * records each, and collects the eventIds found. Parents are read before children; a shard's
 * finds count only when every ancestor listed was read to its end, so a document whose earlier
 * event is unread in a parent never has a later one skipped (order stays intact).
 */
export class KinesisStreamTail implements StreamTail {
  constructor(
    private readonly kinesis: KinesisClient,
    private readonly streamName: string,
  ) {}

  async landedSince(
    mark: StreamMark,
    options: { readonly limitPerShard: number; readonly signal?: AbortSignal },
  ): Promise<LandedScan> {
    const shards = inLineageOrder(await listShards(this.kinesis, this.streamName));
    const found = new Map<string, ShardPosition>();
    const usable = new Map<string, boolean>();
    let records = 0;
    let bytes = 0;
    let calls = 0;
    let complete = true;
    const since = new Date(
      Math.max(
        Math.min(Date.parse(mark.at) - SKEW_MS, Date.now() - 1_000),
        mark.notBefore !== undefined ? Date.parse(mark.notBefore) : Number.NEGATIVE_INFINITY,
      ),
    );
    for (const shard of shards) {
      const shardId = shard.ShardId as string;
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter(
        (p): p is string => p !== undefined && usable.has(p),
      );
      const ancestorsRead = parents.every((p) => usable.get(p) === true);
      const read = await this.readShard(shardId, mark.shards[shardId], since, options).catch(
        () => undefined,
      );
      calls += read?.calls ?? 0;
      if (read === undefined || !read.toEnd) complete = false;
      usable.set(shardId, ancestorsRead && read?.toEnd === true);
      if (read === undefined || !ancestorsRead) continue;
      records += read.records.length;
      for (const r of read.records) {
        bytes += r.data.length;
        const eventId = eventIdOf(r.data);
        if (eventId !== undefined && !found.has(eventId))
          found.set(eventId, { shard: shardId, seq: r.sequenceNumber });
      }
    }
    return { found, complete, shards: shards.length, records, bytes, calls };
  }

  private async readShard(
    shardId: string,
    from: StreamMark['shards'][string] | undefined,
    since: Date,
    options: { readonly limitPerShard: number; readonly signal?: AbortSignal },
  ): Promise<{ records: StreamRecord[]; toEnd: boolean; calls: number }> {
    const send = options.signal ? { abortSignal: options.signal } : {};
    let iterator = (
      await this.kinesis.send(
        new GetShardIteratorCommand({
          StreamName: this.streamName,
          ShardId: shardId,
          ...(from === undefined
            ? { ShardIteratorType: 'AT_TIMESTAMP', Timestamp: since }
            : {
                ShardIteratorType: from.inclusive ? 'AT_SEQUENCE_NUMBER' : 'AFTER_SEQUENCE_NUMBER',
                StartingSequenceNumber: from.seq,
              }),
        }),
        send,
      )
    ).ShardIterator;
    const records: StreamRecord[] = [];
    let calls = 0;
    while (iterator) {
      const left = options.limitPerShard - records.length;
      if (left <= 0) return { records, toEnd: false, calls };
      const page = await this.kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: Math.min(10_000, left) }),
        send,
      );
      calls++;
      records.push(...recordsOf(shardId, page));
      if (atTip(page)) break;
      iterator = page.NextShardIterator;
    }
    return { records, toEnd: true, calls };
  }
}

/** Parents before children (a parent not listed has expired: nothing to wait for). */
function inLineageOrder(shards: readonly Shard[]): Shard[] {
  const byId = new Map(shards.map((s) => [s.ShardId as string, s]));
  const out: Shard[] = [];
  const done = new Set<string>();
  const visit = (s: Shard) => {
    const id = s.ShardId as string;
    if (done.has(id)) return;
    done.add(id);
    for (const p of [s.ParentShardId, s.AdjacentParentShardId]) {
      const parent = p === undefined ? undefined : byId.get(p);
      if (parent) visit(parent);
    }
    out.push(s);
  };
  for (const s of shards) visit(s);
  return out;
}

/** The eventId of a record the bridge wrote (`doc` or `docRef` alike); undefined for others. */
function eventIdOf(data: Uint8Array): string | undefined {
  try {
    const id = (JSON.parse(Buffer.from(data).toString('utf8')) as { eventId?: unknown }).eventId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
