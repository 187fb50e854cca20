import { describe, expect, it } from 'vitest';
import { finalState, MemoryConsumerStore } from '../../shared/consumer/consumer-store.js';
import { FULL_RANGE } from '../../shared/consumer/hash-key.js';
import { StreamConsumer } from '../../shared/consumer/stream-consumer.js';
import { controlEventId, type StreamEvent } from '../../shared/events/change-event.js';
import { FlawedConsumer } from './consume.js';

const CONTEXT = { shardId: 'shardId-000000000000', hashKeyRange: FULL_RANGE };
const TS = '1790000000000000001';

/**
 * field-notes §9, "Generations and eventId": a document that did not change across a resync is
 * re-emitted in the new generation's snapshot with the same `<id>@<ts>`. Deduplicating on
 * eventId alone drops that copy, and the sweep at `snapshot-complete` then deletes a document
 * that is alive in Convex. The documented rule compares (generation, ts) per document instead.
 */
describe('a resync re-emits an unchanged document with the same eventId', () => {
  const unchanged = (generation: number): StreamEvent => ({
    v: 1,
    op: 'snapshot',
    generation,
    component: '',
    table: 'users',
    id: 'k57a',
    ts: TS,
    eventId: `k57a@${TS}`,
    doc: { _id: 'k57a', name: 'Ada' },
  });
  const history: StreamEvent[] = [
    unchanged(1),
    {
      v: 1,
      op: 'snapshot-complete',
      generation: 1,
      eventId: controlEventId.snapshotComplete(1),
    },
    // The cursor expired; the exporter starts generation 2 and copies every live document again.
    {
      v: 1,
      op: 'resync-start',
      generation: 2,
      eventId: controlEventId.resyncStart(2),
      reason: 'InvalidWindowToReadDocuments',
    },
    unchanged(2),
    {
      v: 1,
      op: 'snapshot-complete',
      generation: 2,
      eventId: controlEventId.snapshotComplete(2),
    },
  ];
  const records = history.map((e) => JSON.stringify({ ...e, hashKeyRange: FULL_RANGE }));

  it('the same eventId in both generations (what makes the old rule fail)', () => {
    expect(history.filter((e) => e.op === 'snapshot').map((e) => e.eventId)).toEqual([
      `k57a@${TS}`,
      `k57a@${TS}`,
    ]);
  });

  it('a consumer deduplicating on eventId alone loses the live document (WRONG)', async () => {
    const old = new FlawedConsumer('eventId');
    for (const r of records) await old.applyRecord(r, CONTEXT);
    expect(old.finalState()).toEqual(new Map());
  });

  it('the reference consumer keeps it: generation 2 is newer than the entry, so it applies', async () => {
    const store = new MemoryConsumerStore();
    const consumer = new StreamConsumer(store);
    for (const r of records) await consumer.applyRecord(r, CONTEXT);
    expect(await finalState(store)).toEqual(
      new Map([['/users/k57a', { _id: 'k57a', name: 'Ada' }]]),
    );
    expect((await store.getDocument('', 'users', 'k57a'))?.generation).toBe(2);
  });
});

/**
 * field-notes §9, "Truncates and replays": a page [truncate, values…] replayed after a crash.
 * Re-applying the truncate and then skipping the replayed values as already seen loses them.
 */
describe('a truncate and the values after it, replayed', () => {
  const truncate: StreamEvent = {
    v: 1,
    op: 'truncate',
    generation: 1,
    eventId: controlEventId.truncate('', 'users', 'c00000000000000a1', 1),
    component: '',
    table: 'users',
    cause: 'source',
  };
  const value: StreamEvent = {
    v: 1,
    op: 'upsert',
    generation: 1,
    component: '',
    table: 'users',
    id: 'k57a',
    ts: TS,
    eventId: `k57a@${TS}`,
    doc: { _id: 'k57a' },
  };
  const records = [truncate, value, truncate, value].map((e) =>
    JSON.stringify({ ...e, hashKeyRange: FULL_RANGE }),
  );

  it.for(['eventId', 'no-tombstones'] as const)(
    'a consumer with the %s flaw loses the value (WRONG)',
    async (flaw) => {
      const flawed = new FlawedConsumer(flaw);
      for (const r of records) await flawed.applyRecord(r, CONTEXT);
      expect(flawed.finalState()).toEqual(new Map());
    },
  );

  it('the reference consumer applies the value again after the truncate tombstone', async () => {
    const store = new MemoryConsumerStore();
    const consumer = new StreamConsumer(store);
    for (const r of records) await consumer.applyRecord(r, CONTEXT);
    expect([...(await finalState(store)).keys()]).toEqual(['/users/k57a']);
  });
});
