import { describe, expect, it } from 'vitest';
import { drainQueue } from '../../shared/import/drain-queue.js';
import {
  type ImportDeps,
  type ImportOptions,
  type ImportResult,
  type InboundMessage,
  importBatch,
} from '../../shared/import/import-batch.js';
import type { ImportSettings } from '../../shared/import/import-message.js';
import { DEFAULT_REQUEST_LIMITS } from '../../shared/import/plan-requests.js';
import { PrimaryKeyIndexes } from '../../shared/import/primary-key-indexes.js';
import { MemoryMetrics } from '../../shared/ports/observability.js';
import { FakeIndexAdmin, MemoryImportTarget } from '../fakes/memory-import-target.js';
import { MemoryQuarantine } from '../fakes/memory-quarantine.js';
import { MemoryQueue } from '../fakes/memory-queue.js';
import { RecordingLog } from '../fakes/recording-log.js';
import { deferred } from '../helpers/sync.js';

const settings: ImportSettings = {
  tables: {
    users: { primaryKey: [['email']] },
    orders: { primaryKey: [['org'], ['id']] },
    products: { primaryKey: [['sku']] },
    events: {},
  },
  unknownTables: 'reject',
};
const POLL_MS = 500;
const MARGIN = 5_000;
/** One record per request, so each message's fate is its own. */
const ONE_PER_REQUEST = { ...DEFAULT_REQUEST_LIMITS, maxMessages: 1 };

function rig(readyAfterPolls = 1) {
  const target = new MemoryImportTarget();
  const admin = new FakeIndexAdmin(readyAfterPolls);
  const sleeps: number[] = [];
  const indexes = new PrimaryKeyIndexes(admin, POLL_MS, async (ms) => {
    sleeps.push(ms);
  });
  const quarantine = new MemoryQuarantine();
  const metrics = new MemoryMetrics();
  const log = new RecordingLog();
  const deps: ImportDeps = { target, indexes, quarantine, metrics, log };
  const options = (o: Partial<ImportOptions> = {}): ImportOptions => ({
    settings,
    limits: DEFAULT_REQUEST_LIMITS,
    remainingMs: () => 60_000,
    safetyMarginMs: MARGIN,
    indexReadyTimeoutMs: 60_000,
    ...o,
  });
  return {
    target,
    admin,
    sleeps,
    quarantine,
    metrics,
    log,
    deps,
    options,
    run: (batch: readonly InboundMessage[], o: Partial<ImportOptions> = {}) =>
      importBatch(deps, batch, options(o)),
  };
}

const body = (table: string, data: Record<string, unknown>, op?: 'upsert' | 'delete') =>
  JSON.stringify({ table, ...(op ? { op } : {}), data });
const msg = (id: string, text: string, groupId?: string): InboundMessage => ({
  id,
  body: text,
  ...(groupId !== undefined ? { groupId } : {}),
});
const event = (id: string, n: number, groupId?: string) => msg(id, body('events', { n }), groupId);
const applied = (target: MemoryImportTarget, field: string) =>
  target.applied.map((r) => r.data[field]);

describe('validation', () => {
  it('quarantines invalid messages with their reason code, body unchanged, and imports the rest', async () => {
    const r = rig();
    const bad = {
      empty: msg('e1', ''),
      json: msg('e2', '{"table":'),
      unknownTable: msg('e3', body('nope', { a: 1 }), 'g1'),
      deleteAppend: msg('e4', body('events', { x: 1 }, 'delete')),
      missingKey: msg('e5', body('users', { name: 'ada' })),
      unsafe: msg('e6', '{"table":"events","data":{"n":9007199254740993}}'),
      reserved: msg('e7', body('events', { _ab_cdc_deleted_at: 'x' })),
    };

    const result = await r.run([...Object.values(bad), event('ok', 1, 'g1')]);

    expect(result).toEqual({ failedIds: [], imported: 1, quarantined: 7, requests: 1 });
    expect(Object.fromEntries(r.quarantine.parked.map((p) => [p.id, p.code]))).toEqual({
      e1: 'EmptyBody',
      e2: 'InvalidJson',
      e3: 'UnknownTable',
      e4: 'DeleteWithoutPrimaryKey',
      e5: 'MissingPrimaryKeyField',
      e6: 'UnsafeInteger',
      e7: 'ReservedFieldName',
    });
    const e3 = r.quarantine.parked.find((p) => p.id === 'e3');
    expect(e3).toMatchObject({ table: 'nope', groupId: 'g1', body: bad.unknownTable.body });
    expect(e3?.reason).toMatch(/not configured/);
    expect(r.metrics.totals.get('QuarantinedUnsafeInteger')).toBe(1);
    expect(r.metrics.totals.get('MessagesQuarantined')).toBe(7);
    expect(r.target.applied).toEqual([{ tableName: 'events', data: { n: 1 } }]);
  });
});

describe('failures', () => {
  it('a transient failure returns exactly the ids of that request as failed', async () => {
    const r = rig();
    r.target.failTransiently(1, (b) => b.includes('"n":3'));
    const batch = [1, 2, 3, 4, 5].map((n) => event(`a${n}`, n));

    const result = await r.run(batch, { limits: { ...DEFAULT_REQUEST_LIMITS, maxMessages: 2 } });

    expect(result).toEqual({ failedIds: ['a3', 'a4'], imported: 3, quarantined: 0, requests: 3 });
    expect(applied(r.target, 'n')).toEqual([1, 2, 5]);
    expect(r.metrics.totals.get('MessagesRetried')).toBe(2);
    expect(r.quarantine.parked).toHaveLength(0);
  });

  it('bisects a refused (400) request down to the refused record and imports everything else once', async () => {
    const r = rig();
    r.target.rejectBodiesContaining('REFUSE-ME', 'InvalidDocument');
    const batch = [1, 2, 3, 4, 5, 6, 7, 8].map((n) =>
      msg(`b${n}`, body('events', n === 6 ? { n, note: 'REFUSE-ME' } : { n })),
    );

    const result = await r.run(batch);

    expect(result).toMatchObject({ failedIds: [], imported: 7, quarantined: 1 });
    expect(result.requests).toBe(r.target.attempts.length);
    expect(applied(r.target, 'n')).toEqual([1, 2, 3, 4, 5, 7, 8]);
    expect(r.quarantine.parked).toMatchObject([
      { id: 'b6', code: 'ConvexRejected', table: 'events', body: batch[5]?.body },
    ]);
    expect(r.quarantine.parked[0]?.reason).toMatch(/InvalidDocument/);
  });

  it('isolates two refused records in one request', async () => {
    const r = rig();
    r.target.rejectBodiesContaining('REFUSE-ME');
    const batch = Array.from({ length: 13 }, (_, i) =>
      msg(`c${i}`, body('events', i === 2 || i === 11 ? { i, x: 'REFUSE-ME' } : { i })),
    );

    const result = await r.run(batch);

    expect(result).toMatchObject({ failedIds: [], imported: 11, quarantined: 2 });
    expect(r.quarantine.parked.map((p) => p.id)).toEqual(['c2', 'c11']);
    expect(applied(r.target, 'i')).toEqual([0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 12]);
  });

  it('returns a message the quarantine refused as failed, so the queue keeps it', async () => {
    const r = rig();
    r.target.rejectBodiesContaining('REFUSE-ME');
    r.quarantine.refuse = (item) =>
      item.id === 'q2' || item.id === 'q4' ? 'SQS: ThrottlingException' : undefined;

    const result = await r.run([
      msg('q1', ''),
      msg('q2', '{'),
      event('q3', 3),
      msg('q4', body('events', { n: 4, x: 'REFUSE-ME' })),
    ]);

    expect(result).toEqual({ failedIds: ['q2', 'q4'], imported: 1, quarantined: 1, requests: 3 });
    expect(r.quarantine.parked.map((p) => p.id)).toEqual(['q1']);
    expect(r.log.at('error').map((l) => l.fields?.messageId)).toEqual(['q2', 'q4']);
  });
});

describe('order through failures', () => {
  it('FIFO: a failed message holds back the later messages of its group; other groups proceed', async () => {
    const r = rig();
    r.target.failTransiently(1, (b) => b.includes('"n":2'));
    const batch = [
      event('f1', 1, 'g1'),
      event('f2', 2, 'g1'),
      event('f3', 3, 'g2'),
      event('f4', 4, 'g2'),
      event('f5', 5, 'g1'),
      event('f6', 6, 'g3'),
    ];

    const result = await r.run(batch, { limits: ONE_PER_REQUEST });

    expect(result.failedIds).toEqual(['f2', 'f5']);
    expect(applied(r.target, 'n')).toEqual([1, 3, 4, 6]);
    expect(result.requests).toBe(5); // f5 was never sent
  });

  it('FIFO: messages of a blocked group are taken out of a shared request, the rest still go', async () => {
    const r = rig();
    r.target.failTransiently(1, (b) => b.includes('"n":0'));
    const batch = [
      event('s0', 0, 'g3'),
      event('s1', 1, 'g1'),
      event('s2', 2, 'g2'),
      event('s3', 3, 'g1'),
    ];

    const result = await r.run(batch, { limits: { ...DEFAULT_REQUEST_LIMITS, maxMessages: 2 } });

    expect(result.failedIds).toEqual(['s0', 's1', 's3']);
    expect(applied(r.target, 'n')).toEqual([2]);
    expect(r.target.accepted).toHaveLength(1);
  });

  it('standard queue: a failed change of a document holds back its later changes, by primary key', async () => {
    const r = rig();
    r.target.failTransiently(1, (b) => b.includes('A1'));
    const batch = [
      msg('k1', body('users', { email: 'a@x', name: 'A1' })),
      msg('k2', body('users', { email: 'b@x', name: 'B1' })),
      msg('k3', body('users', { email: 'a@x' }, 'delete')),
      msg('k4', body('users', { email: 'a@x', name: 'A2' })),
      msg('o1', body('orders', { org: 'acme', id: 1, total: 5 })),
      msg('o2', body('orders', { org: 'acme', id: 2, total: 6 })),
      event('e1', 1),
      event('e2', 2),
    ];

    const result = await r.run(batch, { limits: ONE_PER_REQUEST });

    expect(result.failedIds).toEqual(['k1', 'k3', 'k4']);
    expect(r.target.applied.map((a) => `${a.tableName}:${JSON.stringify(a.data)}`)).toEqual([
      'users:{"email":"b@x","name":"B1"}',
      'orders:{"org":"acme","id":1,"total":5}',
      'orders:{"org":"acme","id":2,"total":6}',
      'events:{"n":1}',
      'events:{"n":2}',
    ]);
  });

  it('standard queue: composite keys block only the same document', async () => {
    const r = rig();
    r.target.failTransiently(1, (b) => b.includes('"total":5'));
    const batch = [
      msg('o1', body('orders', { org: 'acme', id: 1, total: 5 })),
      msg('o2', body('orders', { org: 'acme', id: 2, total: 6 })),
      msg('o3', body('orders', { org: 'acme', id: 1, total: 7 })),
      msg('o4', body('orders', { org: 'beta', id: 1, total: 8 })),
    ];

    const result = await r.run(batch, { limits: ONE_PER_REQUEST });

    expect(result.failedIds).toEqual(['o1', 'o3']);
    expect(applied(r.target, 'total')).toEqual([6, 8]);
  });
});

describe('primary key indexes', () => {
  it('creates the indexes once, waits for the backfill, then imports; a later batch does not ask again', async () => {
    const r = rig(3);
    let pollsAtFirstImport = -1;
    r.target.onImport = () => {
      if (pollsAtFirstImport < 0) pollsAtFirstImport = r.admin.polls.length;
    };
    const batch = [
      msg('u1', body('users', { email: 'a@x' })),
      msg('o1', body('orders', { org: 'acme', id: 1 })),
      event('e1', 1),
    ];

    expect(await r.run(batch)).toMatchObject({ failedIds: [], imported: 3 });
    expect(r.admin.added).toEqual([{ users: [['email']], orders: [['org'], ['id']] }]);
    expect(r.admin.polls).toEqual([
      ['users', 'orders'],
      ['users', 'orders'],
      ['users', 'orders'],
    ]);
    expect(r.sleeps).toEqual([POLL_MS, POLL_MS]);
    expect(pollsAtFirstImport).toBe(3);

    expect(await r.run([msg('u2', body('users', { email: 'b@x' }))])).toMatchObject({
      imported: 1,
    });
    expect(r.admin.added).toHaveLength(1);
    expect(r.admin.polls).toHaveLength(3);
  });

  it('fails only the keyed tables when their index is not ready in time; append tables proceed', async () => {
    const r = rig(Number.POSITIVE_INFINITY);
    const batch = [
      msg('u1', body('users', { email: 'a@x' })),
      event('e1', 1),
      msg('o1', body('orders', { org: 'acme', id: 1 })),
      event('e2', 2),
    ];

    const result = await r.run(batch, { indexReadyTimeoutMs: 0 });

    expect(result).toEqual({ failedIds: ['u1', 'o1'], imported: 2, quarantined: 0, requests: 1 });
    expect(applied(r.target, 'n')).toEqual([1, 2]);
    expect(r.log.at('error')[0]?.message).toMatch(/primary key indexes are not ready/);
    expect(r.quarantine.parked).toHaveLength(0);
  });

  it('holds back only the table whose index is still backfilling, not other keyed tables', async () => {
    const r = rig(1);
    expect(await r.run([msg('u1', body('users', { email: 'a@x' }))])).toMatchObject({
      imported: 1,
    });
    r.admin.neverReady.add('orders');
    const batch = [
      msg('u2', body('users', { email: 'b@x' })),
      msg('o1', body('orders', { org: 'acme', id: 1 })),
      msg('p1', body('products', { sku: 'p-1' })),
    ];

    const result = await r.run(batch, { indexReadyTimeoutMs: 0 });

    // users was ready before; products is new and ready; orders alone is still backfilling.
    expect(result).toMatchObject({ failedIds: ['o1'], imported: 2 });
    expect(r.log.at('error')[0]?.fields).toMatchObject({ tables: ['orders'] });
  });

  it('waits for an index no longer than the invocation budget allows', async () => {
    const r = rig(Number.POSITIVE_INFINITY);

    // 400 ms left above the margin is less than one poll interval: give up after the first poll
    const result = await r.run([msg('u1', body('users', { email: 'a@x' }))], {
      remainingMs: () => MARGIN + 400,
    });

    expect(result.failedIds).toEqual(['u1']);
    expect(r.admin.polls).toHaveLength(1);
    expect(r.sleeps).toEqual([]);
  });
});

describe('budget', () => {
  it('sends no new request once less than the margin remains; those messages fail', async () => {
    const r = rig();
    let left = 60_000;
    r.target.onImport = () => {
      left = MARGIN - 1;
    };
    const batch = [event('t1', 1), msg('bad', ''), event('t2', 2), event('t3', 3)];

    const result = await r.run(batch, { limits: ONE_PER_REQUEST, remainingMs: () => left });

    expect(result).toEqual({ failedIds: ['t2', 't3'], imported: 1, quarantined: 1, requests: 1 });
    expect(r.target.attempts).toHaveLength(1);
  });

  it('sends nothing when the budget is spent from the start, but still quarantines invalid messages', async () => {
    const r = rig();

    const result = await r.run([event('t1', 1), msg('bad', '{'), event('t2', 2)], {
      remainingMs: () => MARGIN - 1,
    });

    expect(result).toEqual({ failedIds: ['t1', 't2'], imported: 0, quarantined: 1, requests: 0 });
    expect(r.target.attempts).toHaveLength(0);
  });
});

describe('drainQueue', () => {
  const drainOptions = (r: ReturnType<typeof rig>, o: Partial<ImportOptions> = {}) => ({
    import: r.options({ limits: ONE_PER_REQUEST, ...o }),
    follow: false,
    signal: new AbortController().signal,
  });

  it('acknowledges imported and quarantined messages, leaves failed ones for redelivery, and stops', async () => {
    const r = rig();
    const queue = new MemoryQueue();
    queue.send(body('events', { n: 1 }), { id: 'm1' });
    queue.send('', { id: 'm2' });
    queue.send(body('events', { n: 3 }), { id: 'm3' });
    queue.send(body('events', { n: 4 }), { id: 'm4' });
    r.target.failTransiently(1, (b) => b.includes('"n":3'));

    const first = await drainQueue(queue, r.deps, drainOptions(r));

    expect(first).toEqual({ imported: 2, quarantined: 1, retried: 1 });
    expect(queue.acknowledged).toEqual(['m1', 'm2', 'm4']);
    expect(queue.inFlight).toEqual(['m3']);
    expect(queue.visible).toEqual([]);

    queue.redeliver();
    const second = await drainQueue(queue, r.deps, drainOptions(r));

    expect(second).toEqual({ imported: 1, quarantined: 0, retried: 0 });
    expect(queue.acknowledged).toEqual(['m1', 'm2', 'm4', 'm3']);
    expect(queue.receivesOf('m3')).toBe(0); // gone
    expect(queue.inFlight).toEqual([]);
    expect(queue.staleAcks).toEqual([]);
    expect(applied(r.target, 'n')).toEqual([1, 4, 3]);
  });

  it('returns at once on an empty queue when not following', async () => {
    const r = rig();
    const queue = new MemoryQueue();

    expect(await drainQueue(queue, r.deps, drainOptions(r))).toEqual({
      imported: 0,
      quarantined: 0,
      retried: 0,
    });
    expect(queue.emptyReceives).toBe(1);
  });

  it('gathers many receives into one import batch', async () => {
    const r = rig();
    const queue = new MemoryQueue();
    for (let n = 0; n < 25; n++) queue.send(body('events', { n }));
    const batches: ImportResult[] = [];

    const totals = await drainQueue(queue, r.deps, {
      ...drainOptions(r, { limits: DEFAULT_REQUEST_LIMITS }),
      onBatch: (result) => batches.push(result),
    });

    expect(totals.imported).toBe(25);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.requests).toBe(1);
    expect(queue.acknowledged).toHaveLength(25);
  });

  it('FIFO queue: a failed message and its group come back after redelivery and import in order', async () => {
    const r = rig();
    const queue = new MemoryQueue({ fifo: true });
    queue.send(body('events', { n: 1 }), { id: 'p1', groupId: 'g1' });
    queue.send(body('events', { n: 2 }), { id: 'p2', groupId: 'g1' });
    queue.send(body('events', { n: 3 }), { id: 'p3', groupId: 'g2' });
    r.target.failTransiently(1, (b) => b.includes('"n":1'));

    expect(await drainQueue(queue, r.deps, drainOptions(r))).toEqual({
      imported: 1,
      quarantined: 0,
      retried: 2,
    });
    expect(queue.inFlight).toEqual(['p1', 'p2']);

    queue.redeliver();
    await drainQueue(queue, r.deps, drainOptions(r));

    expect(applied(r.target, 'n')).toEqual([3, 1, 2]);
    expect(queue.acknowledged).toEqual(['p3', 'p1', 'p2']);
  });

  it('in follow mode keeps receiving after the queue is empty, until aborted', async () => {
    const r = rig();
    const queue = new MemoryQueue();
    queue.send(body('events', { n: 1 }));
    queue.send(body('events', { n: 2 }));
    const ctrlC = new AbortController();
    const allFour = deferred();
    let imported = 0;

    const draining = drainQueue(queue, r.deps, {
      import: r.options(),
      follow: true,
      signal: ctrlC.signal,
      onBatch: (result) => {
        imported += result.imported;
        if (imported === 4) allFour.resolve();
      },
    });
    await queue.emptyReceivesReach(3); // it went on polling an empty queue
    queue.send(body('events', { n: 3 }));
    queue.send(body('events', { n: 4 }));
    await allFour.promise;
    const polled = queue.emptyReceives;
    await queue.emptyReceivesReach(polled + 2);
    ctrlC.abort();

    expect(await draining).toEqual({ imported: 4, quarantined: 0, retried: 0 });
    expect(applied(r.target, 'n')).toEqual([1, 2, 3, 4]);
    expect(queue.acknowledged).toHaveLength(4);
    expect(queue.inFlight).toEqual([]);
  });
});
