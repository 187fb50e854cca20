import type { HashKeyRange } from '../events/change-event.js';

/** One shard as ListShards describes it (closed shards included, while their records last). */
export interface ShardInfo {
  readonly shardId: string;
  readonly parentShardId?: string;
  readonly adjacentParentShardId?: string;
  readonly hashKeyRange: HashKeyRange;
}

/** ListShards' `Shards` as the AWS SDK returns them (every field optional in its types). */
export interface ListedShard {
  readonly ShardId?: string | undefined;
  readonly ParentShardId?: string | undefined;
  readonly AdjacentParentShardId?: string | undefined;
  readonly HashKeyRange?:
    | { readonly StartingHashKey?: string | undefined; readonly EndingHashKey?: string | undefined }
    | undefined;
}

/** ListShards' output as `ShardInfo`s; a shard without an id or a range is an error. */
export function fromListShards(shards: readonly ListedShard[]): ShardInfo[] {
  return shards.map((s) => {
    const start = s.HashKeyRange?.StartingHashKey;
    const end = s.HashKeyRange?.EndingHashKey;
    if (s.ShardId === undefined || start === undefined || end === undefined)
      throw new Error(`ListShards returned a shard without an id or a hash-key range`);
    return {
      shardId: s.ShardId,
      ...(s.ParentShardId ? { parentShardId: s.ParentShardId } : {}),
      ...(s.AdjacentParentShardId ? { adjacentParentShardId: s.AdjacentParentShardId } : {}),
      hashKeyRange: { start, end },
    };
  });
}

/** A record in consumption order with the shard it was read from. */
export interface OrderedRecord<T> {
  readonly shard: ShardInfo;
  readonly record: T;
}

/**
 * Orders records read from a whole stream into a valid consumption order: each shard's records
 * in the order given (the order GetRecords returned them), and a shard's first record only after
 * every record of its parents (KCL's rule after a split or merge). A parent ListShards no longer
 * lists (trimmed away) counts as finished. `choose` picks which ready shard gives the next
 * record (default: the first listed, so shards are read one after another); any choice is a
 * valid order, which is what lets tests try many interleavings.
 */
export function orderStreamRecords<T>(
  shards: readonly ShardInfo[],
  records: ReadonlyMap<string, readonly T[]>,
  choose: (ready: readonly ShardInfo[]) => ShardInfo = (ready) => ready[0] as ShardInfo,
): OrderedRecord<T>[] {
  const byId = new Map(shards.map((s) => [s.shardId, s]));
  for (const shardId of records.keys())
    if (!byId.has(shardId)) throw new Error(`records of ${shardId}, a shard not listed`);
  const next = new Map(shards.map((s) => [s.shardId, 0]));
  const drained = (s: ShardInfo) =>
    (next.get(s.shardId) ?? 0) >= (records.get(s.shardId)?.length ?? 0);
  // Finished: read to its end, and so are its ancestors (an empty parent of an unread
  // grandparent is not finished). `depth` stops at a cycle, which ListShards never reports.
  const finished = (shardId: string | undefined, depth = 0): boolean => {
    const shard = shardId === undefined ? undefined : byId.get(shardId);
    if (shard === undefined) return true;
    if (depth > shards.length) throw new Error(`shard lineage of ${shardId} is a cycle`);
    return drained(shard) && parentsFinished(shard, depth + 1);
  };
  const parentsFinished = (s: ShardInfo, depth = 0) =>
    finished(s.parentShardId, depth) && finished(s.adjacentParentShardId, depth);
  const out: OrderedRecord<T>[] = [];
  for (;;) {
    const ready = shards.filter((s) => !drained(s) && parentsFinished(s));
    if (ready.length === 0) break;
    const shard = choose(ready);
    const position = next.get(shard.shardId) ?? 0;
    const list = records.get(shard.shardId);
    if (!ready.includes(shard) || list === undefined)
      throw new Error(`choose returned ${shard.shardId}, which is not ready`);
    out.push({ shard, record: list[position] as T });
    next.set(shard.shardId, position + 1);
  }
  const left = shards.filter((s) => !drained(s)).map((s) => s.shardId);
  if (left.length > 0) throw new Error(`shards whose parents never finish: ${left.join(', ')}`);
  return out;
}
