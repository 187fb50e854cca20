import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../shared/events/change-event.js';
import {
  type ExportDeps,
  type ExportOptions,
  exportChanges,
} from '../../shared/export/export-changes.js';
import { initialExportState } from '../../shared/export/export-state.js';
import { advanceMark, compareSeq, holdBack } from '../../shared/export/stream-mark.js';
import { MemoryMetrics } from '../../shared/ports/observability.js';
import { ChangeLog, ChangeLogFeed } from '../fakes/change-log-feed.js';
import { FakeClock } from '../fakes/clock.js';
import { MemoryExportStore } from '../fakes/memory-export-store.js';
import { MemoryStreamTail } from '../fakes/memory-stream-tail.js';
import { Rng } from '../fakes/prng.js';
import { RecordingLog } from '../fakes/recording-log.js';
import { FAKE_SHARD, RecordingPublisher } from '../fakes/recording-publisher.js';
import { deltasAt } from '../fakes/scripted-feed.js';

/** One export over fakes with a stream tail; `run()` is one invocation. */
function rig(log: ChangeLog, pageSizes = { snapshotPageSize: 3, deltaPageSize: 3 }) {
  const clock = new FakeClock();
  const feed = new ChangeLogFeed(log, pageSizes);
  const store = new MemoryExportStore(clock.now);
  const publisher = new RecordingPublisher();
  publisher.now = clock.now;
  const tail = new MemoryStreamTail(publisher);
  const metrics = new MemoryMetrics();
  const logs = new RecordingLog();
  const deps: ExportDeps = { feed, store, publisher, tail, metrics, log: logs, now: clock.now };
  const options = (o: Partial<ExportOptions> = {}): ExportOptions => ({
    owner: `run-${Math.random()}`,
    remainingMs: () => Number.POSITIVE_INFINITY,
    safetyMarginMs: 1_000,
    follow: false,
    pollIntervalMs: 500,
    leaseTtlMs: 60_000,
    ...o,
  });
  return {
    clock,
    feed,
    store,
    publisher,
    tail,
    metrics,
    logs,
    deps,
    run: (o: Partial<ExportOptions> = {}) => {
      clock.advance(1_000);
      return exportChanges(deps, options(o));
    },
    /** Runs with the lease taken over at the first checkpoint after a publish (a crash's effect). */
    crashAfterPublish: async () => {
      const before = store.attemptCount;
      store.beforeCheckpoint = (attempt) => {
        const last = publisher.calls.at(-1);
        if (attempt > before && last?.outcome === 'published' && last.events.length > 0)
          return new Error('killed between publish and checkpoint');
        return undefined;
      };
      await exportChanges(deps, options()).catch(() => undefined);
      store.beforeCheckpoint = undefined;
      clock.advance(120_000); // the dead run's lease expires
    },
  };
}

const dupes = (events: readonly ChangeEvent[]) =>
  events.length - new Set(events.map((e) => e.eventId)).size;

/** Per document, events first appear in increasing ts order. */
function firstAppearancesOrdered(events: readonly ChangeEvent[]): boolean {
  const seen = new Set<string>();
  const newest = new Map<string, bigint>();
  for (const e of events) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    const ts = BigInt(e.ts);
    if ((newest.get(e.id) ?? -1n) >= ts) return false;
    newest.set(e.id, ts);
  }
  return true;
}

function busyLog(docs: number, changes: number): ChangeLog {
  const log = new ChangeLog();
  for (let i = 1; i <= docs; i++) log.commit({ table: 't', id: `d${i}`, doc: { n: 0 } });
  for (let i = 1; i <= changes; i++)
    log.commit({ table: 't', id: `d${(i % docs) + 1}`, doc: i % 7 === 0 ? null : { n: i } });
  return log;
}

describe('stream marks', () => {
  it('compares sequence numbers exactly, beyond 2^53', () => {
    expect(
      compareSeq('49590338271490256608559692538361571095921575989136588898', '9'),
    ).toBeGreaterThan(0);
    expect(
      compareSeq(
        '49590338271490256608559692538361571095921575989136588899',
        '49590338271490256608559692538361571095921575989136588898',
      ),
    ).toBeGreaterThan(0);
    expect(compareSeq('100', '099')).toBeGreaterThan(0);
    expect(compareSeq('12', '12')).toBe(0);
  });

  it('advances per shard to the later position and holds back to the first pending record', () => {
    const mark = { shards: { a: { seq: '10' }, b: { seq: '5' } }, at: '2024-01-01T00:00:00.000Z' };
    const after = advanceMark(mark, {
      shards: { a: { seq: '12' }, c: { seq: '3' } },
      at: '2024-01-01T00:01:00.000Z',
    });
    expect(after).toEqual({
      shards: { a: { seq: '12' }, b: { seq: '5' }, c: { seq: '3' } },
      at: '2024-01-01T00:01:00.000Z',
    });
    expect(advanceMark(mark, undefined)).toBe(mark);
    const held = holdBack(after, [
      { shard: 'a', seq: '11' },
      { shard: 'a', seq: '9' },
      { shard: 'd', seq: '2' },
    ]);
    expect(held.shards).toEqual({
      a: { seq: '9', inclusive: true },
      b: { seq: '5' },
      c: { seq: '3' },
      d: { seq: '2', inclusive: true },
    });
    expect(holdBack(after, [])).toBe(after);
  });
});

describe('recovery without republishing', () => {
  it('a crash between publish and checkpoint: the next run skips what landed and counts Duplicates', async () => {
    const log = busyLog(5, 0);
    const r = rig(log);
    expect((await r.run()).status).toBe('caught-up');
    for (let i = 0; i < 20; i++) log.commit({ table: 't', id: `d${(i % 5) + 1}`, doc: { i } });

    await r.crashAfterPublish();
    const landed = r.publisher.documents.length;
    expect((await r.store.read()).state?.position).not.toEqual(deltasAt(log.head()));

    expect((await r.run()).status).toBe('caught-up');
    expect(dupes(r.publisher.documents)).toBe(0);
    expect(r.publisher.documents.length).toBeGreaterThan(landed);
    expect(r.metrics.totals.get('Duplicates')).toBeGreaterThan(0);
    expect(r.metrics.totals.get('RecoveredRecords')).toBe(r.metrics.totals.get('Duplicates'));
    const state = (await r.store.read()).state;
    expect(state?.lastRecovery).toMatchObject({ found: r.metrics.totals.get('Duplicates') });
    // the mark moved past the skipped records: the next run reads nothing again
    await r.run();
    expect(r.tail.scans.at(-1)?.result.records).toBe(0);
    const all = log.expectedEvents(log.transactions[4]?.ts ?? '');
    expect(new Set(r.publisher.documents.map((e) => e.eventId))).toEqual(
      new Set(all.map((e) => e.eventId)),
    );
  });

  it('a publish that failed after a prefix landed: only the rest goes out', async () => {
    const log = busyLog(4, 0);
    const r = rig(log);
    await r.run();
    for (let i = 0; i < 9; i++) log.commit({ table: 't', id: `d${(i % 4) + 1}`, doc: { i } });
    r.publisher.fail({ call: r.publisher.calls.length + 1, partial: 2 });
    await expect(r.run()).rejects.toThrow();
    await r.run();
    expect(dupes(r.publisher.documents)).toBe(0);
    expect(r.metrics.totals.get('Duplicates')).toBe(2);
  });

  it('a takeover: the old holder published the batch, the new holder finds it and skips it', async () => {
    const log = busyLog(3, 0);
    const r = rig(log);
    await r.run();
    for (let i = 0; i < 6; i++) log.commit({ table: 't', id: `d${(i % 3) + 1}`, doc: { i } });
    r.store.beforeCheckpoint = (attempt) => {
      if (attempt === r.store.attemptCount) r.store.steal('newer-run', 1);
    };
    const lost = await r.run();
    expect(lost.status).toBe('lease-lost');
    r.store.beforeCheckpoint = undefined;
    r.clock.advance(10);
    await r.run();
    expect(dupes(r.publisher.documents)).toBe(0);
    expect(firstAppearancesOrdered(r.publisher.documents)).toBe(true);
  });

  it('keeps per-document order: a found earlier event is skipped, the later one still goes out', async () => {
    const log = busyLog(1, 0);
    const r = rig(log, { snapshotPageSize: 3, deltaPageSize: 1 });
    await r.run();
    log.commit({ table: 't', id: 'd1', doc: { v: 1 } });
    log.commit({ table: 't', id: 'd1', doc: { v: 2 } });
    // the first change landed (a PutRecords whose answer was lost), nothing was checkpointed
    r.publisher.fail({ call: r.publisher.calls.length + 1, partial: 1 });
    await expect(r.run()).rejects.toThrow();
    await r.run();
    const changes = r.publisher.documents.filter((e) => e.op !== 'snapshot');
    expect(changes.map((e) => e.doc?.v)).toEqual([1, 2]);
  });

  it('holds the mark back until found events came up: a second crash mid-replay still skips them', async () => {
    const log = busyLog(4, 0);
    const r = rig(log, { snapshotPageSize: 3, deltaPageSize: 2 });
    await r.run();
    for (let i = 0; i < 12; i++) log.commit({ table: 't', id: `d${(i % 4) + 1}`, doc: { i } });
    // a whole batch of 12 landed after the checkpoint, unsaved (a stalled or killed writer's)
    const base = (await r.store.read()).state?.baseSnapshotTs ?? '';
    r.publisher.land(log.expectedEvents(base).filter((e) => e.op !== 'snapshot'));
    // the next run gets one page through (all of it found, skipped), then its second read fails
    let reads = 0;
    r.feed.failRead(new Error('Convex: 503'), () => ++reads === 2);
    await expect(r.run()).rejects.toThrow('503');
    r.feed.clearFaults();
    const savedMark = (await r.store.read()).state?.streamMark;
    expect(savedMark?.shards[FAKE_SHARD]?.inclusive).toBe(true);
    r.clock.advance(120_000);
    await r.run();
    expect(dupes(r.publisher.documents)).toBe(0);
  });

  it('a checkpoint from an older version (no mark): at-least-once this once, said in the log; a mark from then on', async () => {
    const log = busyLog(3, 0);
    const r = rig(log);
    const older = { ...initialExportState(1, new Date(r.clock.now()), deltasAt(log.head())) };
    r.store.seed({ ...older, baseSnapshotTs: log.head(), newestEventTs: log.head() });
    log.commit({ table: 't', id: 'd1', doc: { x: 1 } });
    await r.run();
    expect(
      r.logs
        .at('warn')
        .map((l) => l.message)
        .join(),
    ).toMatch(/older version.*at-least-once/);
    expect((await r.store.read()).state?.streamMark).toBeDefined();
    // Same generation: what landed before the mark's time may well be this export's own records.
    expect((await r.store.read()).state?.streamMark?.notBefore).toBeUndefined();
  });

  it("a fresh start (new export or a resync's generation) never scans before its own start", async () => {
    const log = busyLog(3, 4);
    const r = rig(log);
    r.store.seed(initialExportState(2, new Date(r.clock.now()), r.feed.start()));
    await r.run();
    const mark = (await r.store.read()).state?.streamMark;
    expect(mark?.notBefore).toBeDefined();
    // The floor stays while the mark advances with later publishes.
    log.commit({ table: 't', id: 'd1', doc: { later: true } });
    await r.run();
    const later = (await r.store.read()).state?.streamMark;
    expect(later?.at.localeCompare(later.notBefore as string)).toBeGreaterThan(0);
    expect(later?.notBefore).toBe(mark?.notBefore);
  });

  it('an unreadable stream only costs duplicates: every event still goes out', async () => {
    const log = busyLog(3, 0);
    const r = rig(log);
    await r.run();
    for (let i = 0; i < 6; i++) log.commit({ table: 't', id: `d${(i % 3) + 1}`, doc: { i } });
    await r.crashAfterPublish();
    r.tail.fail();
    await r.run();
    expect(
      r.logs
        .at('warn')
        .map((l) => l.message)
        .join(),
    ).toMatch(/could not read the stream/);
    expect(dupes(r.publisher.documents)).toBeGreaterThan(0);
    const want = new Set(log.expectedEvents(log.transactions[2]?.ts ?? '').map((e) => e.eventId));
    expect(new Set(r.publisher.documents.map((e) => e.eventId))).toEqual(want);
  });

  it('a scan cut short by its limit skips only the prefix it read: no loss, order kept', async () => {
    const log = busyLog(2, 0);
    const r = rig(log, { snapshotPageSize: 3, deltaPageSize: 100 });
    await r.run();
    for (let i = 0; i < 30; i++) log.commit({ table: 't', id: `d${(i % 2) + 1}`, doc: { i } });
    await r.crashAfterPublish();
    // a stalled old writer lands a lot more after the checkpoint than one batch's worth
    r.publisher.land(r.publisher.documents.slice(0, 2));
    await r.run();
    expect(firstAppearancesOrdered(r.publisher.documents)).toBe(true);
    const want = new Set(log.expectedEvents(log.transactions[1]?.ts ?? '').map((e) => e.eventId));
    expect(new Set(r.publisher.documents.map((e) => e.eventId))).toEqual(want);
  });
});

describe('property: seeded crashes between publish and checkpoint never lose, reorder or repeat', () => {
  it.for(Array.from({ length: 12 }, (_, i) => 7_001 + i * 104_729))('seed %i', async (seed) => {
    const rng = new Rng(seed);
    const log = busyLog(6, 0);
    const r = rig(log, { snapshotPageSize: 4, deltaPageSize: 1 + rng.int(0, 3) });
    for (let round = 0; round < 10; round++) {
      const writes = rng.int(0, 11);
      for (let i = 0; i < writes; i++)
        log.commit({
          table: 't',
          id: `d${1 + rng.int(0, 5)}`,
          doc: rng.int(0, 8) === 0 ? null : { round, i },
        });
      const fate = rng.int(0, 2);
      if (fate === 0) await r.crashAfterPublish();
      else if (fate === 1) {
        r.publisher.fail({
          call: r.publisher.calls.length + 1 + rng.int(0, 1),
          partial: rng.int(0, 3),
        });
        await r.run().catch(() => undefined);
        r.clock.advance(120_000);
      } else await r.run();
    }
    r.publisher.clearPlans();
    await r.run();
    expect(dupes(r.publisher.documents)).toBe(0);
    expect(firstAppearancesOrdered(r.publisher.documents)).toBe(true);
    const base = (await r.store.read()).state?.baseSnapshotTs ?? '';
    const want = new Set(log.expectedEvents(base).map((e) => e.eventId));
    expect(new Set(r.publisher.documents.map((e) => e.eventId))).toEqual(want);
  });
});
