import { describe, expect, it } from 'vitest';
import {
  type DocumentEntry,
  finalState,
  MemoryConsumerStore,
} from '../../shared/consumer/consumer-store.js';
import { FULL_RANGE, MAX_HASH_KEY, partitionKeyHash } from '../../shared/consumer/hash-key.js';
import {
  type ConsumerContext,
  ConsumerRecordError,
  StreamConsumer,
} from '../../shared/consumer/stream-consumer.js';
import { controlEventId, type HashKeyRange } from '../../shared/events/change-event.js';
import { parseLossless } from '../../shared/values/lossless-json.js';

const T0 = 1_790_000_000_000_000_000n;
const at = (n: number) => (T0 + BigInt(n)).toString();
const ALL: ConsumerContext = { shardId: 'shardId-000000000000', hashKeyRange: FULL_RANGE };

type Json = Record<string, unknown>;

/** A document event; `generation: undefined` leaves the field out (a record of an older version). */
function doc(
  op: 'snapshot' | 'upsert' | 'delete',
  id: string,
  n: number,
  extra: { generation?: number | undefined; table?: string; component?: string; v?: number } = {},
): Json {
  const { table = 'users', component = '', v = n } = extra;
  const generation = 'generation' in extra ? extra.generation : 1;
  return {
    v: 1,
    op,
    ...(generation === undefined ? {} : { generation }),
    component,
    table,
    id,
    ts: at(n),
    eventId: `${id}@${at(n)}`,
    doc: op === 'delete' ? null : { _id: id, v },
  };
}

const truncate = (table: string, generation = 1, extra: Json = {}): Json => ({
  v: 1,
  op: 'truncate',
  generation,
  eventId: controlEventId.truncate('', table, at(0), generation),
  component: '',
  table,
  cause: 'source',
  ...extra,
});

const snapshotComplete = (generation: number, extra: Json = {}): Json => ({
  v: 1,
  op: 'snapshot-complete',
  generation,
  eventId: controlEventId.snapshotComplete(generation),
  ...extra,
});

const resyncStart = (generation: number): Json => ({
  v: 1,
  op: 'resync-start',
  generation,
  eventId: controlEventId.resyncStart(generation),
  reason: 'InvalidWindowToReadDocuments',
});

/** Applies events in order on one shard covering every key; returns live docs as key → v. */
async function run(events: readonly Json[], context = ALL) {
  const store = new MemoryConsumerStore();
  const consumer = new StreamConsumer(store);
  const outcomes = [];
  for (const e of events) outcomes.push(await consumer.apply(e, context));
  const live = Object.fromEntries(
    [...(await finalState(store))].map(([key, d]) => [key, d.v as number]),
  );
  return { live, outcomes, store };
}

// Two ids in opposite halves of the hash-key space, to test the range rules.
const HALF = MAX_HASH_KEY / 2n;
const LOW = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].find((k) => partitionKeyHash(k) <= HALF) as string;
const HIGH = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].find((k) => partitionKeyHash(k) > HALF) as string;
const LOW_RANGE: HashKeyRange = { start: '0', end: HALF.toString() };
const HIGH_RANGE: HashKeyRange = { start: (HALF + 1n).toString(), end: MAX_HASH_KEY.toString() };

describe('StreamConsumer: the rules of docs/events.md, "Consuming"', () => {
  it.for<[string, Json[], Record<string, number>]>([
    [
      'an insert then a newer update: the update wins',
      [doc('upsert', 'a', 1), doc('upsert', 'a', 2)],
      { '/users/a': 2 },
    ],
    [
      'an older event after a newer one is dropped',
      [doc('upsert', 'a', 2), doc('upsert', 'a', 1)],
      { '/users/a': 2 },
    ],
    [
      'a replay (same eventId) changes nothing',
      [doc('upsert', 'a', 1, { v: 7 }), doc('upsert', 'a', 1, { v: 8 })],
      { '/users/a': 7 },
    ],
    [
      'a delete removes; a replayed older upsert does not resurrect',
      [doc('upsert', 'a', 1), doc('delete', 'a', 2), doc('upsert', 'a', 1)],
      {},
    ],
    [
      'one transaction (one ts) writes several documents',
      [doc('upsert', 'a', 1), doc('upsert', 'b', 1)],
      { '/users/a': 1, '/users/b': 1 },
    ],
    [
      'the same id in two tables is two documents',
      [doc('upsert', 'a', 1), doc('upsert', 'a', 1, { table: 'orders' })],
      { '/users/a': 1, '/orders/a': 1 },
    ],
    [
      'a record without generation is generation 1',
      [doc('snapshot', 'a', 1, { generation: undefined }), doc('upsert', 'a', 1, { v: 9 })],
      { '/users/a': 1 },
    ],
    [
      'an event of a newer generation applies even with the same ts',
      [doc('snapshot', 'a', 1), doc('snapshot', 'a', 1, { generation: 2, v: 5 })],
      { '/users/a': 5 },
    ],
    [
      'an event of an older generation is dropped even when newer',
      [doc('snapshot', 'a', 1, { generation: 2 }), doc('upsert', 'a', 9)],
      { '/users/a': 1 },
    ],
    [
      'truncate removes the table only',
      [doc('upsert', 'a', 1), doc('upsert', 'b', 1, { table: 'orders' }), truncate('users')],
      { '/orders/b': 1 },
    ],
    [
      'truncate is per component',
      [doc('upsert', 'a', 1), doc('upsert', 'a', 1, { component: 'shop' }), truncate('users')],
      { 'shop/users/a': 1 },
    ],
    [
      'after a truncate the replayed older events apply again',
      [
        doc('upsert', 'a', 1),
        doc('upsert', 'a', 2),
        truncate('users'),
        doc('upsert', 'a', 1),
        doc('upsert', 'a', 2),
      ],
      { '/users/a': 2 },
    ],
    [
      'after a truncate, Data Sync values with their old ts apply',
      [doc('snapshot', 'a', 5), truncate('users'), doc('upsert', 'a', 5, { v: 50 })],
      { '/users/a': 50 },
    ],
    [
      'only the first event after a truncate skips the ts check',
      [doc('upsert', 'a', 5), truncate('users'), doc('upsert', 'a', 3), doc('upsert', 'a', 2)],
      { '/users/a': 3 },
    ],
    [
      'a truncate of generation 1 spares a document already in generation 2',
      [doc('snapshot', 'a', 1, { generation: 2 }), truncate('users', 1)],
      { '/users/a': 1 },
    ],
    [
      'a truncate of generation 2 removes generation-1 documents',
      [doc('snapshot', 'a', 1), truncate('users', 2)],
      {},
    ],
    [
      'a replayed truncate and its values end as the first time',
      [
        truncate('users'),
        doc('upsert', 'a', 1),
        doc('upsert', 'a', 2),
        truncate('users'),
        doc('upsert', 'a', 1),
        doc('upsert', 'a', 2),
      ],
      { '/users/a': 2 },
    ],
    [
      'snapshot-complete sweeps documents of older generations only',
      [
        doc('snapshot', 'a', 1),
        doc('snapshot', 'b', 1),
        resyncStart(2),
        doc('snapshot', 'a', 1, { generation: 2 }),
        snapshotComplete(2),
      ],
      { '/users/a': 1 },
    ],
    [
      'a gen-1 delete replayed after the sweep keeps the document gone',
      [doc('snapshot', 'b', 1), snapshotComplete(2), doc('delete', 'b', 3)],
      {},
    ],
    [
      'snapshot-complete of generation 1 sweeps nothing',
      [doc('snapshot', 'a', 1, { generation: undefined }), snapshotComplete(1)],
      { '/users/a': 1 },
    ],
    [
      'resync-start alone changes nothing',
      [doc('snapshot', 'a', 1), resyncStart(2)],
      { '/users/a': 1 },
    ],
    [
      'an unknown op is ignored',
      [doc('upsert', 'a', 1), { v: 1, op: 'heartbeat', generation: 1, eventId: 'x' }],
      { '/users/a': 1 },
    ],
  ])('%s', async ([, events, expected]) => {
    expect((await run(events)).live).toEqual(expected);
  });

  it('a control copy speaks for its hashKeyRange only', async () => {
    const events = [doc('upsert', LOW, 1), doc('upsert', HIGH, 1)];
    const low = await run([...events, truncate('users', 1, { hashKeyRange: LOW_RANGE })]);
    expect(low.live).toEqual({ [`/users/${HIGH}`]: 1 });
    const high = await run([...events, snapshotComplete(2, { hashKeyRange: HIGH_RANGE })]);
    expect(high.live).toEqual({ [`/users/${LOW}`]: 1 });
  });

  it('a copy aimed at a parent and read from a child speaks only for the child (split race)', async () => {
    // Aimed at a shard spanning every key, it landed on the child holding the low half: the
    // high half's documents belong to the other child and its own copy.
    const child: ConsumerContext = { shardId: 'shardId-000000000002', hashKeyRange: LOW_RANGE };
    const { live } = await run(
      [
        doc('upsert', LOW, 1),
        doc('upsert', HIGH, 1),
        truncate('users', 1, { hashKeyRange: FULL_RANGE }),
      ],
      child,
    );
    expect(live).toEqual({ [`/users/${HIGH}`]: 1 });
  });

  it('a copy whose range misses the shard changes nothing', async () => {
    const shard: ConsumerContext = { shardId: 'shardId-1', hashKeyRange: LOW_RANGE };
    const { live, outcomes } = await run(
      [doc('upsert', LOW, 1), truncate('users', 1, { hashKeyRange: HIGH_RANGE })],
      shard,
    );
    expect(live).toEqual({ [`/users/${LOW}`]: 1 });
    expect(outcomes.at(-1)).toEqual({ kind: 'truncated', removed: 0 });
  });

  it('keeps tombstones that say why a document is gone', async () => {
    const { store } = await run([
      doc('upsert', 'a', 1),
      doc('delete', 'b', 2),
      doc('upsert', 'c', 3, { table: 'orders' }),
      truncate('users'),
      snapshotComplete(2),
    ]);
    const removed = (await Promise.all(['a', 'b'].map((id) => store.getDocument('', 'users', id))))
      .concat(await store.getDocument('', 'orders', 'c'))
      .map((e) => (e as DocumentEntry).removed);
    expect(removed).toEqual(['truncate', 'truncate', 'sweep']);
  });

  it('reports what each record did', async () => {
    const { outcomes } = await run([
      doc('upsert', 'a', 2),
      doc('upsert', 'a', 1),
      doc('snapshot', 'a', 3, { generation: 2 }),
      doc('upsert', 'a', 4),
      truncate('users', 2),
      resyncStart(3),
      snapshotComplete(3),
      {
        v: 1,
        op: 'schema',
        generation: 3,
        eventId: 's',
        component: '',
        table: 'users',
        schema: { type: 'object' },
      },
      { v: 1, op: 'later-op', generation: 3, eventId: 'l' },
    ]);
    expect(outcomes).toEqual([
      { kind: 'applied', key: '/users/a' },
      { kind: 'skipped', key: '/users/a', reason: 'not-newer' },
      { kind: 'applied', key: '/users/a' },
      { kind: 'skipped', key: '/users/a', reason: 'older-generation' },
      { kind: 'truncated', removed: 1 },
      { kind: 'resync-started', generation: 3 },
      { kind: 'swept', removed: 0 },
      { kind: 'schema', key: '/users' },
      { kind: 'ignored', op: 'later-op' },
    ]);
  });

  it('keeps the last schema read per table', async () => {
    const schema = (table: string, n: number): Json => ({
      v: 1,
      op: 'schema',
      generation: 1,
      eventId: controlEventId.schema('', table, `d${n}`, 1),
      component: '',
      table,
      schema: { revision: n },
    });
    const { store } = await run([schema('users', 1), schema('orders', 2), schema('users', 3)]);
    expect((await store.getSchema('', 'users'))?.schema).toEqual({ revision: 3 });
    expect((await store.getSchema('', 'orders'))?.schema).toEqual({ revision: 2 });
    expect(await store.getSchema('', 'messages')).toBeUndefined();
  });
});

describe('StreamConsumer: records it refuses', () => {
  it.for<[string, Json]>([
    ['a later contract version', { ...doc('upsert', 'a', 1), v: 2 }],
    ['an upsert without doc', { ...doc('upsert', 'a', 1), doc: undefined }],
    ['a numeric ts', { ...doc('upsert', 'a', 1), ts: 1_790_000_000 }],
    ['generation 0', doc('upsert', 'a', 1, { generation: 0 })],
    ['a fractional generation', doc('upsert', 'a', 1, { generation: 1.5 })],
    ['a truncate without table', { ...truncate('users'), table: undefined }],
    [
      'a truncate with a non-decimal range',
      truncate('users', 1, { hashKeyRange: { start: '0x0', end: '1' } }),
    ],
    [
      'a schema event without schema',
      { v: 1, op: 'schema', generation: 1, eventId: 's', component: '', table: 't' },
    ],
    [
      'a claim check without a resolver',
      { ...doc('upsert', 'a', 1), doc: undefined, docRef: { bucket: 'b', key: 'k', bytes: 9 } },
    ],
  ])('%s', async ([, event]) => {
    await expect(new StreamConsumer(new MemoryConsumerStore()).apply(event, ALL)).rejects.toThrow(
      ConsumerRecordError,
    );
  });

  it('refuses a record that is not JSON', async () => {
    const consumer = new StreamConsumer(new MemoryConsumerStore());
    await expect(consumer.applyRecord('{"v":1,', ALL)).rejects.toThrow(/not JSON/);
  });
});

describe('StreamConsumer: claim checks and parsing', () => {
  const full = doc('upsert', 'a', 1, { v: 42 });
  const ref = {
    ...full,
    doc: undefined,
    docRef: { bucket: 'bucket', key: 'events/_root/users/a/1.json', bytes: 100 },
  };

  it('resolves a claim check and applies the full event', async () => {
    const asked: unknown[] = [];
    const store = new MemoryConsumerStore();
    const consumer = new StreamConsumer(store, {
      resolveClaimCheck: async (docRef) => {
        asked.push(docRef);
        return JSON.parse(JSON.stringify(full));
      },
    });
    await consumer.applyRecord(JSON.stringify(ref), ALL);
    expect(asked).toEqual([ref.docRef]);
    expect((await finalState(store)).get('/users/a')).toEqual({ _id: 'a', v: 42 });
  });

  it('refuses a claim check whose object holds another event', async () => {
    const consumer = new StreamConsumer(new MemoryConsumerStore(), {
      resolveClaimCheck: async () => doc('upsert', 'b', 1),
    });
    await expect(consumer.apply(ref, ALL)).rejects.toThrow(/holds b@/);
  });

  it('works with a lossless parser: numbers stay exact text, generations still count', async () => {
    const store = new MemoryConsumerStore();
    const consumer = new StreamConsumer(store, { parse: parseLossless });
    const text = (generation: number, big: string) =>
      `{"v":1,"op":"snapshot","generation":${generation},"component":"","table":"t","id":"a","ts":"${at(1)}","eventId":"a@${at(1)}","doc":{"_id":"a","n":${big}}}`;
    await consumer.applyRecord(text(1, '12345678901234567890'), ALL);
    await consumer.applyRecord(new TextEncoder().encode(text(2, '1.0')), ALL);
    const entry = await store.getDocument('', 't', 'a');
    expect([entry?.generation, String((entry?.doc as Json | undefined)?.n)]).toEqual([2, '1.0']);
  });
});

describe('partitionKeyHash: where Kinesis routes a partition key', () => {
  it.for<[string, string]>([
    // md5 digests as integers, computed independently (Python hashlib)
    ['', '281949768489412648962353822266799178366'],
    ['a', '16955237001963240173058271559858726497'],
    ['é', '136732923097551493579404309126273812335'],
    ['jd7f3k', '295811901848242215563388998168779412963'],
  ])('%j', ([key, expected]) => {
    expect(partitionKeyHash(key).toString()).toBe(expected);
  });
});
