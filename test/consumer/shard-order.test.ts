import { describe, expect, it } from 'vitest';
import {
  fromListShards,
  orderStreamRecords,
  type ShardInfo,
} from '../../shared/consumer/shard-order.js';
import { Rng } from '../fakes/prng.js';

const range = { start: '0', end: '9' };
const shard = (shardId: string, parent?: string, adjacent?: string): ShardInfo => ({
  shardId,
  ...(parent ? { parentShardId: parent } : {}),
  ...(adjacent ? { adjacentParentShardId: adjacent } : {}),
  hashKeyRange: range,
});

// s0 splits into s1 and s2; s2 and s3 merge into s4.
const SHARDS = [
  shard('s0'),
  shard('s1', 's0'),
  shard('s2', 's0'),
  shard('s3'),
  shard('s4', 's2', 's3'),
];
const RECORDS = new Map([
  ['s0', ['s0.1', 's0.2']],
  ['s1', ['s1.1']],
  ['s2', ['s2.1', 's2.2']],
  ['s3', ['s3.1', 's3.2']],
  ['s4', ['s4.1']],
]);

/** The rules any valid order keeps: each shard in order; a child after all of its parents. */
function assertValid(order: readonly { shard: ShardInfo; record: string }[]) {
  const position = new Map(order.map((o, i) => [o.record, i]));
  expect(order.length).toBe([...RECORDS.values()].flat().length);
  for (const [shardId, records] of RECORDS) {
    const at = records.map((r) => position.get(r) as number);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    const info = SHARDS.find((s) => s.shardId === shardId) as ShardInfo;
    for (const parent of [info.parentShardId, info.adjacentParentShardId]) {
      if (parent === undefined) continue;
      const lastOfParent = Math.max(
        ...(RECORDS.get(parent) ?? []).map((r) => position.get(r) as number),
      );
      expect(Math.min(...at)).toBeGreaterThan(lastOfParent);
    }
  }
}

describe('orderStreamRecords', () => {
  it('by default reads shard after shard, parents first', () => {
    const order = orderStreamRecords(SHARDS, RECORDS);
    expect(order.map((o) => o.record)).toEqual([
      's0.1',
      's0.2',
      's1.1',
      's2.1',
      's2.2',
      's3.1',
      's3.2',
      's4.1',
    ]);
    assertValid(order);
  });

  it('keeps per-shard order and lineage whatever shard the chooser picks', () => {
    const rng = new Rng(41);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const order = orderStreamRecords(SHARDS, RECORDS, (ready) => rng.pick(ready));
      assertValid(order);
      seen.add(order.map((o) => o.record).join());
    }
    // The chooser really interleaves: many distinct valid orders came out.
    expect(seen.size).toBeGreaterThan(20);
  });

  it('waits for a grandparent even when the parent between holds no records', () => {
    const shards = [shard('g'), shard('p', 'g'), shard('c', 'p')];
    const records = new Map([
      ['g', ['g.1']],
      ['c', ['c.1']],
    ]);
    // The chooser would take the child first if it were offered.
    const order = orderStreamRecords(shards, records, (ready) => ready.at(-1) as ShardInfo);
    expect(order.map((o) => o.record)).toEqual(['g.1', 'c.1']);
  });

  it('treats a parent ListShards no longer lists (trimmed) as finished', () => {
    const order = orderStreamRecords([shard('c', 'gone')], new Map([['c', ['c.1']]]));
    expect(order.map((o) => o.record)).toEqual(['c.1']);
  });

  it('refuses records of an unlisted shard, a chooser that picks a shard not ready, and a cycle', () => {
    expect(() => orderStreamRecords([shard('a')], new Map([['b', ['b.1']]]))).toThrow(/not listed/);
    expect(() => orderStreamRecords(SHARDS, RECORDS, () => SHARDS[4] as ShardInfo)).toThrow(
      /not ready/,
    );
    const cycle = [shard('x', 'y'), shard('y', 'x')];
    expect(() =>
      orderStreamRecords(
        cycle,
        new Map([
          ['x', ['x.1']],
          ['y', ['y.1']],
        ]),
      ),
    ).toThrow(/never finish/);
    const emptyCycle = [shard('x', 'y'), shard('y', 'z'), shard('z', 'y')];
    expect(() => orderStreamRecords(emptyCycle, new Map([['x', ['x.1']]]))).toThrow(/cycle/);
  });
});

describe('fromListShards', () => {
  it('takes the SDK shape and refuses a shard without a range', () => {
    expect(
      fromListShards([
        {
          ShardId: 's1',
          ParentShardId: 's0',
          HashKeyRange: { StartingHashKey: '0', EndingHashKey: '5' },
        },
      ]),
    ).toEqual([{ shardId: 's1', parentShardId: 's0', hashKeyRange: { start: '0', end: '5' } }]);
    expect(() => fromListShards([{ ShardId: 's1' }])).toThrow(/hash-key range/);
  });
});
