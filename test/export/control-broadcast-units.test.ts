import { describe, expect, it } from 'vitest';
import {
  covers,
  intersect,
  type ShardInfo,
  uncoveredShards,
} from '../../shared/adapters/kinesis-shards.js';
import type { ChangeEvent, TruncateEvent } from '../../shared/events/change-event.js';
import { type ExportOptions, exportChanges } from '../../shared/export/export-changes.js';
import { unlanded } from '../../shared/export/skip-landed.js';
import { holdBack } from '../../shared/export/stream-mark.js';
import type {
  ControlCopy,
  LandedControl,
  ShardPosition,
} from '../../shared/ports/event-publisher.js';
import { MemoryMetrics } from '../../shared/ports/observability.js';
import { ChangeLog, ChangeLogFeed } from '../fakes/change-log-feed.js';
import { FakeClock } from '../fakes/clock.js';
import { MemoryExportStore } from '../fakes/memory-export-store.js';
import { MemoryStreamTail } from '../fakes/memory-stream-tail.js';
import { RecordingLog } from '../fakes/recording-log.js';
import { FAKE_SHARD, RecordingPublisher } from '../fakes/recording-publisher.js';

/** Pure parts of the broadcast: hash-range coverage through shard lineage, and recovery's skip. */

const r = (start: bigint, end: bigint) => ({ start, end });
const shard = (id: string, start: bigint, end: bigint, open = true, parents: string[] = []) =>
  ({ id, range: r(start, end), open, parents }) satisfies ShardInfo;
const copy = (shard: string, start: bigint, end: bigint, seq = '1'): ControlCopy => ({
  shard,
  seq,
  range: { start: start.toString(), end: end.toString() },
});

describe('hash key ranges', () => {
  it('intersects, or says they do not meet', () => {
    expect(intersect(r(0n, 10n), r(5n, 20n))).toEqual(r(5n, 10n));
    expect(intersect(r(5n, 20n), r(0n, 10n))).toEqual(r(5n, 10n));
    expect(intersect(r(0n, 4n), r(5n, 9n))).toBeUndefined();
    expect(intersect(r(0n, 5n), r(5n, 9n))).toEqual(r(5n, 5n));
  });

  it('covers a range by a union of parts, in any order, with overlaps, but not across a gap', () => {
    expect(covers([r(6n, 10n), r(0n, 5n)], r(0n, 10n))).toBe(true);
    expect(covers([r(0n, 7n), r(3n, 10n)], r(2n, 9n))).toBe(true);
    expect(covers([r(0n, 4n), r(6n, 10n)], r(0n, 10n))).toBe(false);
    expect(covers([r(1n, 10n)], r(0n, 10n))).toBe(false);
    expect(covers([r(0n, 9n)], r(0n, 10n))).toBe(false);
    expect(covers([], r(0n, 10n))).toBe(false);
    const max = 2n ** 128n - 1n;
    expect(covers([r(0n, max / 2n), r(max / 2n + 1n, max)], r(0n, max))).toBe(true);
  });
});

describe('which open shards a control event still has to reach', () => {
  const two = [shard('A', 0n, 49n), shard('B', 50n, 99n)];

  it('every open shard without a copy; none once each has one; closed shards never', () => {
    expect(uncoveredShards(two, []).map((s) => s.id)).toEqual(['A', 'B']);
    expect(uncoveredShards(two, [copy('A', 0n, 49n)]).map((s) => s.id)).toEqual(['B']);
    expect(uncoveredShards(two, [copy('A', 0n, 49n), copy('B', 50n, 99n)])).toEqual([]);
    const closed = [shard('A', 0n, 49n, false), shard('B', 50n, 99n)];
    expect(uncoveredShards(closed, []).map((s) => s.id)).toEqual(['B']);
  });

  it('a copy speaks only for its range within the shard it landed on', () => {
    // Aimed at a parent's whole range but landed on one child of a split: covers that child only.
    const split = [
      shard('P', 0n, 99n, false),
      shard('C1', 0n, 49n, true, ['P']),
      shard('C2', 50n, 99n, true, ['P']),
    ];
    expect(uncoveredShards(split, [copy('C1', 0n, 99n)]).map((s) => s.id)).toEqual(['C2']);
    // A copy on a shard that is not listed (expired, or not known yet) covers nothing.
    expect(uncoveredShards(two, [copy('X', 0n, 99n)]).map((s) => s.id)).toEqual(['A', 'B']);
  });

  it('a copy on an ancestor covers its descendants (a consumer reads parents first)', () => {
    const split = [
      shard('P', 0n, 99n, false),
      shard('C1', 0n, 49n, false, ['P']),
      shard('C2', 50n, 99n, true, ['P']),
      shard('G1', 0n, 24n, true, ['C1']),
      shard('G2', 25n, 49n, true, ['C1']),
    ];
    expect(uncoveredShards(split, [copy('P', 0n, 99n)])).toEqual([]);
    expect(uncoveredShards(split, [copy('C1', 0n, 49n)]).map((s) => s.id)).toEqual(['C2']);
    // A parent's copy aimed at only part of it (landed there during a merge) covers only that part.
    expect(uncoveredShards(split, [copy('P', 0n, 30n)]).map((s) => s.id)).toEqual(['C2', 'G2']);
  });

  it('a merged shard is covered by the union of its parents’ copies', () => {
    const merged = [
      shard('A', 0n, 49n, false),
      shard('B', 50n, 99n, false),
      shard('M', 0n, 99n, true, ['A', 'B']),
    ];
    expect(uncoveredShards(merged, [copy('A', 0n, 49n)]).map((s) => s.id)).toEqual(['M']);
    expect(uncoveredShards(merged, [copy('A', 0n, 49n), copy('B', 50n, 99n)])).toEqual([]);
    // Two copies that landed on the merged shard itself, each aimed at one former parent.
    expect(uncoveredShards(merged, [copy('M', 0n, 49n), copy('M', 50n, 99n)])).toEqual([]);
    expect(uncoveredShards(merged, [copy('M', 0n, 49n)]).map((s) => s.id)).toEqual(['M']);
  });
});

describe('recovery keeps a found control event, with its copies', () => {
  const doc = (id: string, ts: string): ChangeEvent => ({
    v: 1,
    op: 'upsert',
    generation: 1,
    component: '',
    table: 't',
    id,
    ts,
    eventId: `${id}@${ts}`,
    doc: {},
  });
  const truncate: TruncateEvent = {
    v: 1,
    op: 'truncate',
    generation: 1,
    component: '',
    table: 't',
    cause: 'clear-tables',
    eventId: 'truncate:/t@1/g1',
  };
  const copies = [copy('A', 0n, 49n, '7'), copy('B', 50n, 99n, '3')];
  const control: LandedControl = { shard: 'A', seq: '7', copies };

  it('drops found documents, keeps the control event and hands its copies on', () => {
    const landed = new Map<string, ShardPosition>([
      ['a@1', { shard: 'A', seq: '5' }],
      [truncate.eventId, control],
    ]);
    const skipped: ShardPosition[] = [];
    const handed = new Map<string, readonly ControlCopy[]>();
    const events = [doc('a', '1'), truncate, doc('b', '2')];
    expect(unlanded(events, landed, skipped, handed)).toEqual([truncate, doc('b', '2')]);
    expect(handed.get(truncate.eventId)).toEqual(copies);
    expect(skipped).toEqual([{ shard: 'A', seq: '5' }, ...copies]);
    expect(landed.size).toBe(0);
  });

  it('a control event found without its copies is published in full again', () => {
    const landed = new Map<string, ShardPosition>([[truncate.eventId, { shard: 'A', seq: '7' }]]);
    const skipped: ShardPosition[] = [];
    const handed = new Map<string, readonly ControlCopy[]>();
    expect(unlanded([truncate], landed, skipped, handed)).toEqual([truncate]);
    expect(handed.size).toBe(0);
    expect(skipped).toEqual([]);
  });

  it('holds the mark back on every shard a pending control event has a copy on', () => {
    const mark = { shards: { A: { seq: '9' }, B: { seq: '9' } }, at: '2026-01-01T00:00:00.000Z' };
    expect(holdBack(mark, [control]).shards).toEqual({
      A: { seq: '7', inclusive: true },
      B: { seq: '3', inclusive: true },
    });
  });
});

describe('recovery through the export use case (fakes)', () => {
  it('a crash after a batch with snapshot-complete: the replay hands its copy to the publisher, which writes none again', async () => {
    const log = new ChangeLog();
    for (let i = 1; i <= 3; i++) log.commit({ table: 't', id: `d${i}`, doc: { i } });
    const clock = new FakeClock();
    const store = new MemoryExportStore(clock.now);
    const publisher = new RecordingPublisher();
    publisher.now = clock.now;
    const tail = new MemoryStreamTail(publisher);
    const deps = {
      feed: new ChangeLogFeed(log, { snapshotPageSize: 10 }),
      store,
      publisher,
      tail,
      metrics: new MemoryMetrics(),
      log: new RecordingLog(),
      now: clock.now,
    };
    const options: ExportOptions = {
      owner: 'run',
      remainingMs: () => Number.POSITIVE_INFINITY,
      safetyMarginMs: 1_000,
      follow: false,
      pollIntervalMs: 500,
      leaseTtlMs: 60_000,
    };
    // The first run's checkpoint after its publish never lands (killed in between).
    store.beforeCheckpoint = () => {
      const last = publisher.calls.at(-1);
      return last?.outcome === 'published' && last.events.length > 0
        ? new Error('killed between publish and checkpoint')
        : undefined;
    };
    await exportChanges(deps, { ...options, owner: 'crashed' }).catch(() => undefined);
    store.beforeCheckpoint = undefined;
    clock.advance(120_000);
    const complete = publisher.controls.filter((e) => e.op === 'snapshot-complete');
    expect(complete).toHaveLength(1);
    const eventId = complete[0]?.eventId as string;

    const callsBefore = publisher.calls.length;
    expect((await exportChanges(deps, options)).status).toBe('caught-up');
    const replay = publisher.calls
      .slice(callsBefore)
      .find((c) => c.events.some((e) => e.eventId === eventId));
    expect(replay?.events.map((e) => e.op)).toEqual(['snapshot-complete']);
    expect(replay?.options?.landedCopies?.get(eventId)).toEqual([
      {
        shard: FAKE_SHARD,
        seq: expect.any(String),
        range: { start: '0', end: expect.any(String) },
      },
    ]);
    expect(publisher.controls).toHaveLength(1);
    expect(publisher.documents).toHaveLength(3);
  });
});
