import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { type HashKeyRange, isControlEvent } from '../events/change-event.js';
import type {
  ControlCopy,
  LandedControl,
  LandedScan,
  ShardPosition,
  StreamMark,
  StreamTail,
} from '../ports/event-publisher.js';
import {
  effectiveRange,
  inLineageOrder,
  listShards,
  shardInfo,
  toHashKeyRange,
} from './kinesis-shards.js';

export interface StreamRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
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

/**
 * Reads every record of every shard from the start until each shard is caught up, parents
 * before children (the order a consumer applies them in). Control events' copies come back as
 * the records they are, one per shard copy.
 */
export async function readWholeStream(
  kinesis: KinesisClient,
  streamName: string,
): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  for (const shard of inLineageOrder(await listShards(kinesis, streamName))) {
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
 * event is unread in a parent never has a later one skipped (order stays intact). Copies of
 * control events count from every shard read: each is a fact about its own shard, and the
 * publisher only uses them to leave that shard (and its descendants) out of a broadcast.
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
    const listed = inLineageOrder(await listShards(this.kinesis, this.streamName, options.signal));
    const byId = new Map(listed.map((s) => [s.ShardId as string, shardInfo(s)]));
    const found = new Map<string, ShardPosition>();
    const copies = new Map<string, ControlCopy[]>();
    const controlTables = new Map<string, string>();
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
    for (const shard of listed) {
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
      if (read === undefined) continue;
      records += read.records.length;
      for (const r of read.records) {
        bytes += r.data.length;
        const seen = identify(r.data);
        if (seen === undefined) continue;
        if (seen.control) {
          const range = effectiveRange({ shard: shardId, range: seen.range ?? fullRange }, byId);
          if (range === undefined) continue;
          const list = copies.get(seen.eventId) ?? [];
          list.push({ shard: shardId, seq: r.sequenceNumber, range: toHashKeyRange(range) });
          copies.set(seen.eventId, list);
          if (seen.table !== undefined) controlTables.set(seen.eventId, seen.table);
        } else if (ancestorsRead && !found.has(seen.eventId))
          found.set(seen.eventId, {
            shard: shardId,
            seq: r.sequenceNumber,
            ...(seen.table !== undefined ? { table: seen.table } : {}),
          });
      }
    }
    for (const [eventId, list] of copies) {
      const first = list[0] as ControlCopy;
      const table = controlTables.get(eventId);
      const entry: LandedControl = {
        shard: first.shard,
        seq: first.seq,
        copies: list,
        ...(table !== undefined ? { table } : {}),
      };
      found.set(eventId, entry);
    }
    return {
      found,
      copies,
      complete,
      shards: listed.length,
      records,
      bytes,
      calls,
    };
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

/** A copy written before copies carried their range (none were): it spoke for its whole shard. */
const fullRange: HashKeyRange = { start: '0', end: (2n ** 128n - 1n).toString() };

/**
 * The eventId of a record the bridge wrote (`doc` or `docRef` alike), whether it is a control
 * event's copy, and the range such a copy was aimed at; undefined for records of others.
 */
function identify(
  data: Uint8Array,
): { eventId: string; control: boolean; range?: HashKeyRange; table?: string } | undefined {
  let parsed: {
    eventId?: unknown;
    op?: unknown;
    hashKeyRange?: unknown;
    component?: unknown;
    table?: unknown;
  };
  try {
    parsed = JSON.parse(Buffer.from(data).toString('utf8')) as typeof parsed;
  } catch {
    return undefined;
  }
  if (typeof parsed.eventId !== 'string') return undefined;
  const table =
    typeof parsed.component === 'string' && typeof parsed.table === 'string'
      ? { table: `${parsed.component}/${parsed.table}` }
      : {};
  if (typeof parsed.op !== 'string' || !isControlEvent({ op: parsed.op }))
    return { eventId: parsed.eventId, control: false, ...table };
  const range = parsed.hashKeyRange as Partial<HashKeyRange> | undefined;
  const key = (k: unknown): k is string => typeof k === 'string' && /^\d{1,39}$/.test(k);
  return key(range?.start) && key(range?.end)
    ? {
        eventId: parsed.eventId,
        control: true,
        range: { start: range.start, end: range.end },
        ...table,
      }
    : { eventId: parsed.eventId, control: true, ...table };
}
