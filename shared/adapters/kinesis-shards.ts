import { type KinesisClient, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import type { HashKeyRange } from '../events/change-event.js';
import type { ControlCopy } from '../ports/event-publisher.js';

/** A hash key range as numbers, both ends inclusive (Kinesis hash keys are 0 … 2^128−1). */
export interface KeyRange {
  readonly start: bigint;
  readonly end: bigint;
}

/** One shard as the broadcast needs it: its range, whether it takes writes, and its parents. */
export interface ShardInfo {
  readonly id: string;
  readonly range: KeyRange;
  /** No ending sequence number: the shard takes writes (a closed one was split or merged). */
  readonly open: boolean;
  /** Parent and adjacent parent (a merge's second parent), when Kinesis lists them. */
  readonly parents: readonly string[];
}

export async function listShards(
  kinesis: KinesisClient,
  streamName: string,
  signal?: AbortSignal,
): Promise<Shard[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    const out = await kinesis.send(
      token
        ? new ListShardsCommand({ NextToken: token })
        : new ListShardsCommand({ StreamName: streamName }),
      signal ? { abortSignal: signal } : {},
    );
    shards.push(...(out.Shards ?? []));
    token = out.NextToken;
  } while (token);
  return shards;
}

export function shardInfo(shard: Shard): ShardInfo {
  return {
    id: shard.ShardId as string,
    range: {
      start: BigInt(shard.HashKeyRange?.StartingHashKey ?? '0'),
      end: BigInt(shard.HashKeyRange?.EndingHashKey ?? '0'),
    },
    open: shard.SequenceNumberRange?.EndingSequenceNumber === undefined,
    parents: [shard.ParentShardId, shard.AdjacentParentShardId].filter(
      (p): p is string => p !== undefined,
    ),
  };
}

/** Parents before children (a parent not listed has expired: nothing to wait for). */
export function inLineageOrder<T extends { readonly ShardId?: string | undefined }>(
  shards: readonly (T & Pick<Shard, 'ParentShardId' | 'AdjacentParentShardId'>)[],
): T[] {
  const byId = new Map(shards.map((s) => [s.ShardId as string, s]));
  const out: T[] = [];
  const done = new Set<string>();
  const visit = (s: T & Pick<Shard, 'ParentShardId' | 'AdjacentParentShardId'>) => {
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

export const toKeyRange = (r: HashKeyRange): KeyRange => ({
  start: BigInt(r.start),
  end: BigInt(r.end),
});

export const toHashKeyRange = (r: KeyRange): HashKeyRange => ({
  start: r.start.toString(),
  end: r.end.toString(),
});

/** The overlap of two ranges, or undefined when they do not meet. */
export function intersect(a: KeyRange, b: KeyRange): KeyRange | undefined {
  // Math.max/min do not take bigints.
  let { start, end } = a;
  if (b.start > start) start = b.start;
  if (b.end < end) end = b.end;
  return start <= end ? { start, end } : undefined;
}

/** Whether the union of `parts` covers every key of `target`. */
export function covers(parts: readonly KeyRange[], target: KeyRange): boolean {
  let next = target.start; // the first key not yet known to be covered
  for (const p of [...parts].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))) {
    if (p.start > next) return false;
    if (p.end >= next) next = p.end + 1n;
    if (next > target.end) return true;
  }
  return next > target.end;
}

/** A shard and every ancestor of it that is listed (parents of parents included). */
function lineageOf(id: string, byId: ReadonlyMap<string, ShardInfo>): Set<string> {
  const seen = new Set<string>();
  const stack = [id];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    if (seen.has(next)) continue;
    seen.add(next);
    for (const p of byId.get(next)?.parents ?? []) stack.push(p);
  }
  return seen;
}

/**
 * The range a copy speaks for: what it was aimed at (its `hashKeyRange`) within the range of the
 * shard it landed on; undefined when the shard is not listed or the two do not meet.
 */
export function effectiveRange(
  copy: { readonly shard: string; readonly range: HashKeyRange },
  byId: ReadonlyMap<string, ShardInfo>,
): KeyRange | undefined {
  const shard = byId.get(copy.shard);
  return shard === undefined ? undefined : intersect(toKeyRange(copy.range), shard.range);
}

/**
 * The open shards a control event still has to reach. An open shard is covered when the copies
 * that landed on it or on any of its ancestors (read before it by a consumer) together speak for
 * its whole range.
 */
export function uncoveredShards(
  shards: readonly ShardInfo[],
  copies: readonly Pick<ControlCopy, 'shard' | 'range'>[],
): ShardInfo[] {
  const byId = new Map(shards.map((s) => [s.id, s]));
  const byShard = new Map<string, KeyRange[]>();
  for (const copy of copies) {
    const range = effectiveRange(copy, byId);
    if (range === undefined) continue;
    byShard.set(copy.shard, [...(byShard.get(copy.shard) ?? []), range]);
  }
  return shards.filter((shard) => {
    if (!shard.open) return false;
    const parts = [...lineageOf(shard.id, byId)].flatMap((id) => byShard.get(id) ?? []);
    return !covers(parts, shard.range);
  });
}
