import { documentKey } from '../../shared/consumer/consumer-store.js';
import {
  type HashBounds,
  intersectRanges,
  partitionKeyHash,
  rangeContains,
  toBounds,
} from '../../shared/consumer/hash-key.js';
import { orderStreamRecords, type ShardInfo } from '../../shared/consumer/shard-order.js';
import type { ConsumerContext } from '../../shared/consumer/stream-consumer.js';
import type { Rng } from '../fakes/prng.js';

/** Anything that applies a record's text in a shard's context. */
export interface RecordSink {
  applyRecord(data: string, context: ConsumerContext): Promise<unknown>;
}

/**
 * Reads a whole model stream into `sink` in one valid order: `rng` picks which ready shard gives
 * the next record (per-shard order and parents-before-children always hold; without `rng`,
 * shard after shard), now jumping between shards per record, now staying on one; now and then
 * applies the last few records of that shard again, as a consumer that crashed before saving
 * its position does (a Lambda retrying its batch, a KCL worker restarting from its checkpoint).
 */
export async function consumeStream(
  shards: readonly ShardInfo[],
  records: ReadonlyMap<string, readonly string[]>,
  sink: RecordSink,
  rng?: Rng,
): Promise<{ applied: number; reapplied: number }> {
  // Half the orders stay on a shard for a while (a worker reading a batch), half jump per record.
  const bursty = rng?.chance(0.5) ?? false;
  let current: ShardInfo | undefined;
  const choose = (ready: readonly ShardInfo[]) => {
    if (!(bursty && current && ready.includes(current) && rng?.chance(0.9)))
      current = rng?.pick(ready) ?? ready[0];
    return current as ShardInfo;
  };
  const order = orderStreamRecords(shards, records, choose);
  const read = new Map<string, number>();
  let reapplied = 0;
  for (const { shard, record } of order) {
    const context = { shardId: shard.shardId, hashKeyRange: shard.hashKeyRange };
    await sink.applyRecord(record, context);
    const n = (read.get(shard.shardId) ?? 0) + 1;
    read.set(shard.shardId, n);
    if (rng?.chance(0.02)) {
      const again = (records.get(shard.shardId) ?? []).slice(n - rng.int(1, Math.min(n, 8)), n);
      for (const r of again) await sink.applyRecord(r, context);
      reapplied += again.length;
    }
  }
  return { applied: order.length, reapplied };
}

/** Keys whose document differs between two states, with both sides (empty when equal). */
export function diffStates(
  actual: ReadonlyMap<string, unknown>,
  expected: ReadonlyMap<string, unknown>,
): { key: string; actual: unknown; expected: unknown }[] {
  const out = [];
  for (const key of new Set([...actual.keys(), ...expected.keys()])) {
    const a = actual.get(key);
    const e = expected.get(key);
    if (JSON.stringify(a) !== JSON.stringify(e)) out.push({ key, actual: a, expected: e });
  }
  return out.sort((x, y) => (x.key < y.key ? -1 : 1));
}

/**
 * Consumers with a rule left out, to show the tests tell them apart from the documented one:
 * `eventId` deduplicates on eventId alone (the rule docs/events.md gave before generations);
 * `no-tombstones` lets a truncate forget that it removed a document, so the events replayed
 * after it are dropped as not newer.
 */
export class FlawedConsumer implements RecordSink {
  private readonly docs = new Map<
    string,
    {
      generation: number;
      ts: bigint;
      doc: unknown;
      hash: bigint;
      truncated: boolean;
      table: string;
    }
  >();
  private readonly seen = new Set<string>();

  constructor(private readonly flaw: 'eventId' | 'no-tombstones') {}

  async applyRecord(data: string, context: ConsumerContext): Promise<void> {
    const e = JSON.parse(data);
    const generation: number = e.generation ?? 1;
    const shard = toBounds(context.hashKeyRange);
    const range: HashBounds | undefined = e.hashKeyRange
      ? intersectRanges(toBounds(e.hashKeyRange), shard)
      : shard;
    const inScope = (hash: bigint) => range !== undefined && rangeContains(range, hash);
    switch (e.op) {
      case 'snapshot':
      case 'upsert':
      case 'delete': {
        if (this.flaw === 'eventId') {
          if (this.seen.has(e.eventId)) return;
          this.seen.add(e.eventId);
        }
        const key = documentKey(e.component, e.table, e.id);
        const entry = this.docs.get(key);
        const ts = BigInt(e.ts);
        if (entry) {
          if (generation < entry.generation) return;
          if (generation === entry.generation && ts <= entry.ts && !entry.truncated) return;
        }
        this.docs.set(key, {
          generation,
          ts,
          doc: e.doc,
          hash: partitionKeyHash(e.id),
          truncated: false,
          table: `${e.component}/${e.table}`,
        });
        return;
      }
      case 'truncate':
        for (const entry of this.docs.values())
          if (
            entry.table === `${e.component}/${e.table}` &&
            inScope(entry.hash) &&
            entry.generation <= generation
          ) {
            entry.doc = null;
            entry.truncated = this.flaw !== 'no-tombstones';
          }
        return;
      case 'snapshot-complete':
        for (const entry of this.docs.values())
          if (inScope(entry.hash) && entry.generation < generation) entry.doc = null;
        return;
      default:
        return;
    }
  }

  finalState(): Map<string, unknown> {
    const out = new Map<string, unknown>();
    for (const [key, entry] of this.docs) if (entry.doc !== null) out.set(key, entry.doc);
    return out;
  }
}
