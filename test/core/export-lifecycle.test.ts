import { describe, expect, it } from 'vitest';
import {
  type ControlEvent,
  isControlEvent,
  type StreamEvent,
} from '../../shared/events/change-event.js';
import { ExportResyncRequiredError } from '../../shared/export/export-changes.js';
import { unlanded } from '../../shared/export/skip-landed.js';
import type { FeedPosition, SourceMigration } from '../../shared/ports/change-feed.js';
import type { StreamTail } from '../../shared/ports/event-publisher.js';
import type { SchemaSource, TableClear, TableClearLog } from '../../shared/ports/lifecycle.js';
import { ChangeLog, ChangeLogFeed } from '../fakes/change-log-feed.js';
import { legacyPosition } from '../fakes/legacy-position.js';
import { MemoryStreamTail } from '../fakes/memory-stream-tail.js';
import type { RecordingLog } from '../fakes/recording-log.js';
import { RecordingPublisher } from '../fakes/recording-publisher.js';
import { rig } from './export-rig.js';

/** A deployment with `docs` users and a few changes to them. */
function history(docs = 4): ChangeLog {
  const log = new ChangeLog();
  for (let i = 1; i <= docs; i++) log.commit({ table: 'users', id: `u${i}`, doc: { n: 0 } });
  log.commit({ table: 'users', id: 'u1', doc: { n: 1 } });
  return log;
}

const describeEvent = (e: StreamEvent) =>
  e.op === 'truncate' || e.op === 'schema'
    ? `${e.op}:${e.table}`
    : 'id' in e
      ? `${e.op}:${e.id}:g${e.generation}`
      : `${e.op}:g${e.generation}`;

const warnings = (log: RecordingLog) => log.at('warn').map((l) => l.message);

class MemoryClearLog implements TableClearLog {
  readonly clears: TableClear[] = [];
  async record(clear: TableClear): Promise<void> {
    this.clears.push(clear);
  }
  async list(): Promise<readonly TableClear[]> {
    return [...this.clears];
  }
  /** `clear-tables users`, recorded with Convex's time `before` it. */
  clearedUsers(before: string): Promise<void> {
    return this.record({
      component: '',
      table: 'users',
      before,
      recordedAt: new Date(0).toISOString(),
    });
  }
}

class ScriptedSchemas implements SchemaSource {
  calls = 0;
  failNext = false;
  constructor(public current: Map<string, Record<string, unknown>>) {}
  async tableSchemas(): Promise<ReadonlyMap<string, Record<string, unknown>>> {
    this.calls++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('TableSummariesUnavailable');
    }
    return new Map(this.current);
  }
}

const schemaOf = (fields: Record<string, string>) => ({
  type: 'object',
  properties: Object.fromEntries(Object.entries(fields).map(([k, t]) => [k, { type: t }])),
});

describe('generations: an expired cursor', () => {
  it('with resync: publishes resync-start, the new generation’s snapshot, then snapshot-complete, in one run', async () => {
    const log = history();
    const feed = new ChangeLogFeed(log);
    const r = rig(feed);
    await r.run({ onExpiredCursor: 'resync' });
    const first = await r.stored();
    const oldCursor = legacyPosition(first?.position)?.phase === 'deltas' ? log.head() : undefined;
    log.commit({ table: 'users', id: 'u2', doc: null });
    log.commit({ table: 'users', id: 'u9', doc: { n: 9 } });
    feed.retainedFrom = log.head();
    const before = r.publisher.published.length;

    const outcome = await r.run({ onExpiredCursor: 'resync' });

    expect(outcome.status).toBe('caught-up');
    const run2 = r.publisher.published.slice(before);
    expect(run2.map(describeEvent)).toEqual([
      'resync-start:g2',
      ...log.liveAt(log.head()).map(({ write }) => `snapshot:${write.id}:g2`),
      'snapshot-complete:g2',
    ]);
    const start = run2[0] as Extract<ControlEvent, { op: 'resync-start' }>;
    expect(start).toMatchObject({
      reason: 'InvalidWindowToReadDocuments',
      gapFrom: oldCursor,
      eventId: 'resync-start/g2',
    });
    expect(run2.at(-1)).toMatchObject({ ts: log.head(), eventId: 'snapshot-complete/g2' });
    const stored = await r.stored();
    expect(stored).toMatchObject({
      generation: 2,
      announcedGeneration: 2,
      lastResync: { reason: 'InvalidWindowToReadDocuments', generation: 2, gapFrom: oldCursor },
    });
    expect(stored?.resyncNeeded).toBeUndefined();
    expect(r.metrics.totals.get('ResyncRequired')).toBe(1);
    expect(r.metrics.totals.get('ResyncStarted')).toBe(1);
  });

  it('with stop: records the condition and throws, publishing nothing (as before)', async () => {
    const log = history();
    const feed = new ChangeLogFeed(log);
    const r = rig(feed);
    await r.run();
    log.commit({ table: 'users', id: 'u3', doc: { n: 3 } });
    feed.retainedFrom = log.head();
    const before = r.publisher.published.length;

    await expect(r.run({ onExpiredCursor: 'stop' })).rejects.toBeInstanceOf(
      ExportResyncRequiredError,
    );

    expect(r.publisher.published.length).toBe(before);
    expect((await r.stored())?.resyncNeeded?.code).toBe('InvalidWindowToReadDocuments');
    expect((await r.stored())?.generation).toBe(1);
  });

  it('a stopped export resumes as the next generation once the setting says resync', async () => {
    const log = history();
    const feed = new ChangeLogFeed(log);
    const r = rig(feed);
    await r.run();
    log.commit({ table: 'users', id: 'u3', doc: { n: 3 } });
    feed.retainedFrom = log.head();
    await expect(r.run({ onExpiredCursor: 'stop' })).rejects.toThrow();

    await r.run({ onExpiredCursor: 'resync' });

    expect(r.publisher.controls.map(describeEvent)).toEqual([
      'snapshot-complete:g1',
      'resync-start:g2',
      'snapshot-complete:g2',
    ]);
    expect((await r.stored())?.generation).toBe(2);
  });

  it('a crash before the first checkpoint of a generation publishes the same resync-start again', async () => {
    const log = history();
    const feed = new ChangeLogFeed(log);
    const r = rig(feed);
    await r.run();
    feed.retainedFrom = log.commit({ table: 'users', id: 'u3', doc: { n: 3 } });
    r.publisher.fail({ call: r.publisher.calls.length + 1, partial: 2 });

    await expect(r.run({ onExpiredCursor: 'resync' })).rejects.toThrow();
    expect((await r.stored())?.announcedGeneration).toBeUndefined();
    await r.run({ onExpiredCursor: 'resync' });

    const starts = r.publisher.controls.filter((e) => e.op === 'resync-start');
    expect(starts.map((e) => e.eventId)).toEqual(['resync-start/g2', 'resync-start/g2']);
    expect((await r.stored())?.announcedGeneration).toBe(2);
  });
});

describe('clear-tables becomes a truncate where the change log passes it', () => {
  it('goes right before the first change after the clear’s time, once', async () => {
    const log = history();
    const clears = new MemoryClearLog();
    const feed = new ChangeLogFeed(log);
    const r = rig(feed, { clears });
    await r.run();
    log.commit({ table: 'users', id: 'u2', doc: { n: 2 } });
    await clears.clearedUsers(log.head());
    log.commit({ table: 'users', id: 'u7', doc: { n: 7 } });
    const before = r.publisher.published.length;

    await r.run();
    await r.run();

    expect(r.publisher.published.slice(before).map(describeEvent)).toEqual([
      'upsert:u2:g1',
      'truncate:users',
      'upsert:u7:g1',
    ]);
    const truncate = r.publisher.controls.find((e) => e.op === 'truncate');
    expect(truncate).toMatchObject({ cause: 'clear-tables', component: '', generation: 1 });
    expect((await r.stored())?.clearsHandled).toBe(1);
  });

  it('is published at the page end when the cursor passes the clear with no later change', async () => {
    const log = history();
    const clears = new MemoryClearLog();
    const r = rig(new ChangeLogFeed(log), { clears });
    await r.run();
    await clears.clearedUsers(log.head());
    log.commit({ table: 'orders', id: 'o1', doc: { n: 1 } });

    await r.run();

    expect(r.publisher.published.slice(-2).map(describeEvent)).toEqual([
      'truncate:users',
      'upsert:o1:g1',
    ]);
  });

  it('waits while the cursor has not reached the clear', async () => {
    const log = history();
    const clears = new MemoryClearLog();
    const r = rig(new ChangeLogFeed(log), { clears });
    await r.run();
    await clears.clearedUsers((BigInt(log.head()) + 10_000_000_000n).toString());

    await r.run();

    expect(r.publisher.controls.filter((e) => e.op === 'truncate')).toHaveLength(0);
    expect((await r.stored())?.clearsHandled ?? 0).toBe(0);
  });

  it('needs no truncate when the snapshot was read after the clear', async () => {
    const log = history();
    const clears = new MemoryClearLog();
    await clears.clearedUsers('1');
    const r = rig(new ChangeLogFeed(log), { clears });

    await r.run();

    expect(r.publisher.controls.filter((e) => e.op === 'truncate')).toHaveLength(0);
    expect((await r.stored())?.clearsHandled).toBe(1);
  });
});

describe('schema events', () => {
  it('precede the first documents of a table, one per table, and repeat only on a change', async () => {
    const log = history();
    const schemas = new ScriptedSchemas(new Map([['/users', schemaOf({ n: 'number' })]]));
    const r = rig(new ChangeLogFeed(log), { schemas });
    await r.run();
    expect(describeEvent(r.publisher.published[0] as StreamEvent)).toBe('schema:users');
    expect(r.publisher.controls.filter((e) => e.op === 'schema')).toHaveLength(1);

    // Same schema, no new table: no event (and no call before the interval).
    log.commit({ table: 'users', id: 'u1', doc: { n: 5 } });
    await r.run();
    expect(schemas.calls).toBe(1);

    // A new table: checked at once; only the new table gets an event.
    schemas.current.set('/orders', schemaOf({ total: 'number' }));
    log.commit({ table: 'orders', id: 'o1', doc: { total: 1 } });
    const before = r.publisher.published.length;
    await r.run();
    expect(r.publisher.published.slice(before).map(describeEvent)).toEqual([
      'schema:orders',
      'upsert:o1:g1',
    ]);

    // A field changes type: found at the next interval.
    schemas.current.set('/users', schemaOf({ n: 'string' }));
    log.commit({ table: 'users', id: 'u1', doc: { n: 'x' } });
    r.clock.advance(3_600_000);
    await r.run();
    const userSchemas = r.publisher.controls.filter(
      (e) => e.op === 'schema' && e.table === 'users',
    );
    expect(userSchemas).toHaveLength(2);
    expect(userSchemas[1]).toMatchObject({ schema: schemaOf({ n: 'string' }) });
    expect(r.metrics.totals.get('SchemaChanges')).toBe(3);
  });

  it('on the legacy source, warns when a table the stream carried is gone from Convex', async () => {
    const log = history();
    const schemas = new ScriptedSchemas(
      new Map([
        ['/users', schemaOf({ n: 'number' })],
        ['/gone', schemaOf({ x: 'number' })],
      ]),
    );
    const r = rig(new ChangeLogFeed(log), { schemas });
    await r.run();
    schemas.current.delete('/gone');
    r.clock.advance(3_600_000);
    log.commit({ table: 'users', id: 'u1', doc: { n: 7 } });

    await r.run();

    const warned = r.log.at('warn').find((l) => l.message.includes('no longer exist'));
    expect(warned?.fields).toEqual({ tables: ['/gone'] });
    expect((await r.stored())?.schemaDigests?.['/gone']).toBeUndefined();
  });

  it('a failure to read schemas is logged and never holds the export back', async () => {
    const log = history();
    const schemas = new ScriptedSchemas(new Map([['/users', schemaOf({ n: 'number' })]]));
    schemas.failNext = true;
    const r = rig(new ChangeLogFeed(log), { schemas });

    const outcome = await r.run();

    expect(outcome.status).toBe('caught-up');
    expect(r.publisher.documents.length).toBeGreaterThan(0);
    expect(warnings(r.log).some((w) => w.includes('schemas'))).toBe(true);
  });
});

describe('moving a legacy export onto Data Sync', () => {
  const migrated: FeedPosition = { source: 'data-sync', phase: 'changes', cursor: 'ds-1' };

  it('asks once, in the changes phase, and records a refusal without asking again', async () => {
    const log = history();
    const calls: FeedPosition[] = [];
    const migration: SourceMigration = {
      migrate: async (from) => {
        calls.push(from);
        return { refused: 'this backend has no Data Sync (404)' };
      },
    };
    const r = rig(new ChangeLogFeed(log), { migration, autoMigrate: true });
    await r.run(); // snapshot phase, then changes: no migration before the run starts there
    await r.run();
    await r.run();

    expect(calls).toHaveLength(1);
    expect((await r.stored())?.migration).toMatchObject({
      outcome: 'refused',
      reason: 'this backend has no Data Sync (404)',
    });
    expect((await r.stored())?.position.source).toBe('legacy');
  });

  it('continues from the Data Sync position it was given, publishing nothing again', async () => {
    const log = history();
    const legacy = new ChangeLogFeed(log);
    const reads: FeedPosition[] = [];
    const feed = {
      start: () => legacy.start(),
      read: async (p: FeedPosition, o: Parameters<ChangeLogFeed['read']>[1]) => {
        if (p.source === 'legacy') return legacy.read(p, o);
        reads.push(p);
        return {
          kind: 'page' as const,
          phase: 'changes' as const,
          events: [],
          next: p,
          caughtUp: true,
        };
      },
    };
    const migration: SourceMigration = { migrate: async () => ({ position: migrated }) };
    const r = rig(feed, { migration, autoMigrate: true });
    await r.run();
    const published = r.publisher.published.length;

    await r.run();

    expect(reads).toEqual([migrated]);
    expect(r.publisher.published.length).toBe(published);
    expect(await r.stored()).toMatchObject({
      position: migrated,
      migration: { outcome: 'migrated' },
      // The opaque cursor's log time is the delta cursor's until a Data Sync page says more.
      cursorTs: log.head(),
    });
  });

  it('a failure to ask is tried again next run', async () => {
    const log = history();
    let attempts = 0;
    const migration: SourceMigration = {
      migrate: async () => {
        attempts++;
        throw new Error('socket hang up');
      },
    };
    const r = rig(new ChangeLogFeed(log), { migration, autoMigrate: true });
    await r.run();
    await r.run();
    await r.run();

    expect(attempts).toBe(2);
    expect((await r.stored())?.migration).toBeUndefined();
  });
});

describe('retention watchdog', () => {
  it('warns once past half the window and reports the share', async () => {
    const log = history();
    const r = rig(new ChangeLogFeed(log));
    const headMs = Number(BigInt(log.head()) / 1_000_000n);
    r.clock.set(headMs + 60_000);
    await r.run({ retentionSeconds: 3600 });
    expect(warnings(r.log).filter((w) => w.includes('retention'))).toHaveLength(0);

    r.clock.set(headMs + 40 * 60_000);
    await r.run({ retentionSeconds: 3600 });

    expect(warnings(r.log).filter((w) => w.includes('retention'))).toHaveLength(1);
    expect(r.metrics.last.get('CursorRetentionUsed')).toBeGreaterThanOrEqual(66);
  });
});

describe('recovery that could not read every shard to its tip', () => {
  it('publishes a found control event again after the replayed events, instead of trusting its copies', async () => {
    const log = history();
    const publisher = new RecordingPublisher();
    const scan = new MemoryStreamTail(publisher);
    // The scan found everything but says it stopped short (a limit, trimmed records).
    const tail: StreamTail = {
      landedSince: async (mark, options) => ({
        ...(await scan.landedSince(mark, options)),
        complete: false,
      }),
    };
    const r = rig(new ChangeLogFeed(log, { snapshotPageSize: 10 }), { publisher, tail });
    publisher.now = r.clock.now;
    r.store.beforeCheckpoint = () => {
      const last = publisher.calls.at(-1);
      return last?.outcome === 'published' && last.events.length > 0
        ? new Error('killed between publish and checkpoint')
        : undefined;
    };
    await r.run({ owner: 'crashed' }).catch(() => undefined);
    r.store.beforeCheckpoint = undefined;
    r.clock.advance(120_000);

    await r.run();

    const copies = publisher.controls.filter((e) => e.op === 'snapshot-complete');
    expect(copies).toHaveLength(2);
    const replay = publisher.calls.at(-1);
    expect(replay?.options?.landedCopies?.size ?? 0).toBe(0);
    // Replayed document events come before the control event's second copy.
    const second = publisher.published.lastIndexOf(copies[1] as StreamEvent);
    expect(publisher.published.slice(second + 1).filter((e) => !isControlEvent(e))).toEqual([]);
  });
});

describe('skipping what landed, around a truncate still to publish', () => {
  const doc = (id: string, table = 'users'): StreamEvent => ({
    v: 1,
    op: 'snapshot',
    generation: 1,
    component: '',
    table,
    id,
    ts: '1718000000000000001',
    eventId: `${id}@1718000000000000001`,
    doc: { _id: id },
  });
  const truncate = (table: string): StreamEvent => ({
    v: 1,
    op: 'truncate',
    generation: 1,
    eventId: `truncate:/${table}@cnew/g1`,
    component: '',
    table,
    cause: 'source',
  });

  it('publishes found documents of that table again after it, and still skips the others', () => {
    const landed = new Map(
      (['a', 'b', 'o'] as const).map((id, i) => [
        `${id}@1718000000000000001`,
        { shard: 's', seq: String(i), table: id === 'o' ? '/orders' : '/users' },
      ]),
    );
    const skipped: { shard: string; seq: string }[] = [];
    const truncated = new Set<string>();

    const first = unlanded([truncate('users'), doc('a')], landed, skipped, undefined, truncated);
    // The table's finds no longer hold the mark back: a later recovery must not find them again.
    expect([...landed.keys()]).toEqual(['o@1718000000000000001']);
    const second = unlanded([doc('b'), doc('o', 'orders')], landed, skipped, undefined, truncated);

    expect(first.map((e) => e.eventId)).toEqual([
      'truncate:/users@cnew/g1',
      'a@1718000000000000001',
    ]);
    expect(second.map((e) => e.eventId)).toEqual(['b@1718000000000000001']);
    expect(skipped).toEqual([{ shard: 's', seq: '2', table: '/orders' }]);
    expect(landed.size).toBe(0);
  });
});
