import { describe, expect, it } from 'vitest';
import { backOff, backoffSeconds, HALT_BACKOFF } from '../../shared/import/backoff.js';
import { type Dependency, drainQueue } from '../../shared/import/drain-queue.js';
import type { ImportDeps, ImportOptions } from '../../shared/import/import-batch.js';
import { importBatch } from '../../shared/import/import-batch.js';
import type { ImportSettings } from '../../shared/import/import-message.js';
import { DEFAULT_REQUEST_LIMITS } from '../../shared/import/plan-requests.js';
import { PrimaryKeyIndexes } from '../../shared/import/primary-key-indexes.js';
import {
  RecordsRejectedError,
  TargetRefusedError,
  TargetUnavailableError,
} from '../../shared/ports/import-target.js';
import {
  type MessageQueue,
  type Postponement,
  QueueUnavailableError,
  type ReceivedMessage,
} from '../../shared/ports/message-queue.js';
import { type LogSink, MemoryMetrics } from '../../shared/ports/observability.js';

// The use cases' halt, back-off and outage paths in process, on small stand-ins for the ports
// (the same paths run over moto and the simulator in import-halt and import-follow).

const settings: ImportSettings = {
  tables: { events: {}, users: { primaryKey: [['email']] } },
  unknownTables: 'reject',
};
const options = (o: Partial<ImportOptions> = {}): ImportOptions => ({
  settings,
  limits: DEFAULT_REQUEST_LIMITS,
  remainingMs: () => 60_000,
  safetyMarginMs: 1_000,
  indexReadyTimeoutMs: 1_000,
  ...o,
});
const event = (n: number) => JSON.stringify({ table: 'events', data: { n } });
const refused = () =>
  new TargetRefusedError('unauthorized', 'BadAdminKey', 'check CONVEX_DEPLOY_KEY; 401');

/** An SQS queue in a few lines: receives hand out visible messages; postpone(0) brings them back. */
class Queue implements MessageQueue {
  readonly messages: {
    id: string;
    body: string;
    receipt?: string | undefined;
    receives: number;
  }[] = [];
  readonly postponed: { id: string; seconds: number }[] = [];
  readonly acknowledged: string[] = [];
  receiveErrors: unknown[] = [];
  ackErrors: unknown[] = [];
  /** Called when a receive finds the queue empty: nothing visible or in flight. */
  onEmpty: (() => void) | undefined;
  receives = 0;

  send(...bodies: string[]): void {
    for (const body of bodies)
      this.messages.push({ id: `m${this.messages.length + 1}`, body, receives: 0 });
  }

  async receive(max: number): Promise<ReceivedMessage[]> {
    await Promise.resolve();
    this.receives++;
    const error = this.receiveErrors.shift();
    if (error) throw error;
    const out: ReceivedMessage[] = [];
    for (const m of this.messages) {
      if (out.length >= Math.min(10, max) || m.receipt !== undefined) continue;
      m.receives++;
      m.receipt = `${m.id}#${m.receives}`;
      out.push({ id: m.id, body: m.body, receipt: m.receipt, receiveCount: m.receives });
    }
    if (out.length === 0) {
      if (this.messages.length === 0) this.onEmpty?.();
      await new Promise((r) => setImmediate(r));
    }
    return out;
  }

  async acknowledge(messages: readonly ReceivedMessage[]): Promise<void> {
    await Promise.resolve();
    const error = this.ackErrors.shift();
    if (error) throw error;
    for (const r of messages) {
      const i = this.messages.findIndex((m) => m.id === r.id);
      if (i >= 0) this.messages.splice(i, 1);
      this.acknowledged.push(r.id);
    }
  }

  async postpone(items: readonly Postponement[]): Promise<string[]> {
    await Promise.resolve();
    for (const { message, seconds } of items) {
      this.postponed.push({ id: message.id, seconds });
      const m = this.messages.find((x) => x.id === message.id);
      if (m && seconds === 0) m.receipt = undefined;
    }
    return [];
  }

  receivesOf(id: string): number {
    return this.messages.find((m) => m.id === id)?.receives ?? -1;
  }
}

function rig(importRecords: (body: string) => Promise<void> = async () => {}) {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const log: LogSink = {
    info: (message, fields) =>
      lines.push({ level: 'info', message, ...(fields ? { fields } : {}) }),
    warn: (message, fields) =>
      lines.push({ level: 'warn', message, ...(fields ? { fields } : {}) }),
    error: (message, fields) =>
      lines.push({ level: 'error', message, ...(fields ? { fields } : {}) }),
  };
  const bodies: string[] = [];
  const metrics = new MemoryMetrics();
  const deps: ImportDeps = {
    target: {
      importRecords: async (body) => {
        bodies.push(body);
        await importRecords(body);
      },
    },
    indexes: { ensure: async () => [] },
    quarantine: { send: async () => [] },
    metrics,
    log,
  };
  return { deps, lines, bodies, metrics };
}

describe('backoff', () => {
  it('grows by receive count up to just under SQS’s 12 h ceiling', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffSeconds(n))).toEqual([
      30, 120, 480, 1920, 7680, 30720,
    ]);
    expect(backoffSeconds(7)).toBe(HALT_BACKOFF.maxSeconds);
    expect(backoffSeconds(1_000)).toBe(HALT_BACKOFF.maxSeconds);
    expect(backoffSeconds(0)).toBe(30);
    expect(backoffSeconds(3, { baseSeconds: 1, factor: 2, maxSeconds: 3 })).toBe(3);
    // With maxReceiveCount 5, the sixth receive (into the DLQ) comes ~2 h 50 min after the first.
    const total = [1, 2, 3, 4, 5].reduce((s, n) => s + backoffSeconds(n), 0);
    expect(total).toBe(10_230);
  });

  it('postpones only the listed messages, and says when the queue would not', async () => {
    const r = rig();
    const received: ReceivedMessage[] = [
      { id: 'a', body: '', receipt: 'ra', receiveCount: 2 },
      { id: 'b', body: '', receipt: 'rb' },
      { id: 'c', body: '', receipt: 'rc' },
    ];
    const asked: Postponement[] = [];
    await backOff(
      {
        postpone: async (items) => {
          asked.push(...items);
          return ['b'];
        },
      },
      received,
      ['a', 'b'],
      r.deps.log,
    );
    expect(asked.map((p) => [p.message.id, p.seconds])).toEqual([
      ['a', 120],
      ['b', 30],
    ]);
    expect(r.lines.at(-1)).toMatchObject({
      level: 'warn',
      fields: { messages: 1, seconds: [30, 120], receiveCounts: [1, 2], notPostponed: 1 },
    });

    await backOff(
      { postpone: () => Promise.reject(new Error('denied')) },
      received,
      ['c'],
      r.deps.log,
    );
    expect(r.lines.map((l) => l.message)).toContain(
      'could not back the messages off; they come back after the queue’s own timeout',
    );
    const before = r.lines.length;
    await backOff({ postpone: async () => [] }, received, ['nope'], r.deps.log);
    expect(r.lines).toHaveLength(before);
  });
});

describe('importBatch halts', () => {
  it('on a refusal while preparing indexes, sends nothing and holds every valid message back', async () => {
    const r = rig();
    const deps: ImportDeps = { ...r.deps, indexes: { ensure: () => Promise.reject(refused()) } };
    const batch = [
      { id: 'k', body: JSON.stringify({ table: 'users', data: { email: 'a@x' } }) },
      { id: 'e', body: event(1) },
      { id: 'bad', body: '{' },
    ];
    const result = await importBatch(deps, batch, options());
    expect(result).toMatchObject({
      failedIds: ['k', 'e'],
      imported: 0,
      quarantined: 1,
      requests: 0,
      halt: { kind: 'unauthorized', code: 'BadAdminKey' },
    });
    expect(r.bodies).toEqual([]);
    expect(r.metrics.totals.get('ImportHalted')).toBe(1);
  });

  it('tells index backfill apart from other index failures (both retried later)', async () => {
    for (const [ensure, message] of [
      [async () => ['users'], 'primary key indexes are not ready'],
      [
        () => Promise.reject(new TargetUnavailableError('Convex: 503')),
        'could not prepare the primary key indexes',
      ],
    ] as const) {
      const r = rig();
      const deps: ImportDeps = { ...r.deps, indexes: { ensure } };
      const keyed = { id: 'k', body: JSON.stringify({ table: 'users', data: { email: 'a@x' } }) };
      const result = await importBatch(deps, [keyed, { id: 'e', body: event(1) }], options());
      expect(result).toMatchObject({ failedIds: ['k'], imported: 1 });
      expect(result.halt).toBeUndefined();
      expect(r.lines.find((l) => l.level === 'error')?.message).toContain(message);
    }
  });

  it('stops a bisection that meets a refusal: nothing more is sent', async () => {
    let calls = 0;
    const r = rig(async (body) => {
      calls++;
      if (calls === 1 && body.includes('"n":0'))
        throw new RecordsRejectedError('Bad', 'one of them');
      throw refused();
    });
    const batch = [0, 1, 2, 3].map((n) => ({ id: `e${n}`, body: event(n) }));
    const result = await importBatch(r.deps, batch, options());
    expect(result).toMatchObject({
      failedIds: ['e0', 'e1', 'e2', 'e3'],
      halt: { code: 'BadAdminKey' },
    });
    expect(calls).toBe(2); // the whole request, then the first half; the second half is not sent
  });

  it('checks readiness through the index admin and reports a refusal there as a halt', async () => {
    const r = rig();
    const indexes = new PrimaryKeyIndexes(
      {
        addPrimaryKeyIndexes: async () => {},
        primaryKeyIndexesReady: () => Promise.reject(refused()),
      },
      1,
    );
    const keyed = { id: 'k', body: JSON.stringify({ table: 'users', data: { email: 'b@x' } }) };
    const result = await importBatch({ ...r.deps, indexes }, [keyed], options());
    expect(result.halt?.kind).toBe('unauthorized');
  });
});

describe('drainQueue', () => {
  const waitLog = () => {
    const waits: [Dependency, string, number][] = [];
    const resumed: Dependency[] = [];
    return {
      waits,
      resumed,
      hooks: {
        onWait: (what: Dependency, reason: string, ms: number) => waits.push([what, reason, ms]),
        onResume: (what: Dependency) => resumed.push(what),
        outageWait: { baseMs: 1, maxMs: 4 },
      },
    };
  };

  it('a halt ends the run, follow or not, and backs the failed messages off by receive count', async () => {
    const r = rig(() => Promise.reject(refused()));
    const queue = new Queue();
    queue.send(event(1), event(2));
    const totals = await drainQueue(queue, r.deps, {
      import: options(),
      follow: true,
      signal: new AbortController().signal,
      haltBackoff: { baseSeconds: 5, factor: 3, maxSeconds: 100 },
    });
    expect(totals).toEqual({
      imported: 0,
      quarantined: 0,
      retried: 2,
      halt: expect.objectContaining({ code: 'BadAdminKey' }),
    });
    expect(queue.postponed).toEqual([
      { id: 'm1', seconds: 5 },
      { id: 'm2', seconds: 5 },
    ]);
    expect(queue.acknowledged).toEqual([]);
  });

  it('a follower waits out an unreachable queue, says so, and resumes', async () => {
    const r = rig();
    const queue = new Queue();
    queue.send(event(1));
    queue.receiveErrors = [
      new QueueUnavailableError('SQS ReceiveMessage failed: connection refused'),
      new QueueUnavailableError('SQS ReceiveMessage failed: connection refused'),
    ];
    const stop = new AbortController();
    queue.onEmpty = () => stop.abort();
    const w = waitLog();
    const totals = await drainQueue(queue, r.deps, {
      import: options(),
      follow: true,
      signal: stop.signal,
      ...w.hooks,
    });
    expect(totals).toEqual({ imported: 1, quarantined: 0, retried: 0 });
    expect(w.waits).toEqual([
      ['queue', 'SQS ReceiveMessage failed: connection refused', 1],
      ['queue', 'SQS ReceiveMessage failed: connection refused', 2],
    ]);
    expect(w.resumed).toEqual(['queue']);
  });

  it('a one-shot run, or any other queue error, fails at once', async () => {
    const r = rig();
    const queue = new Queue();
    queue.receiveErrors = [new QueueUnavailableError('down')];
    await expect(
      drainQueue(queue, r.deps, {
        import: options(),
        follow: false,
        signal: new AbortController().signal,
      }),
    ).rejects.toThrow('down');
    queue.receiveErrors = [new Error('QueueDoesNotExist')];
    await expect(
      drainQueue(queue, r.deps, {
        import: options(),
        follow: true,
        signal: new AbortController().signal,
      }),
    ).rejects.toThrow('QueueDoesNotExist');
  });

  it('a follower holds a batch through a target outage without receiving it again, then imports it', async () => {
    let failures = 3;
    const r = rig(async () => {
      if (failures-- > 0) throw new TargetUnavailableError('Convex: connection refused');
    });
    const queue = new Queue();
    queue.send(event(1), event(2));
    const stop = new AbortController();
    queue.onEmpty = () => stop.abort();
    const w = waitLog();
    const totals = await drainQueue(queue, r.deps, {
      import: options(),
      follow: true,
      signal: stop.signal,
      ...w.hooks,
    });
    expect(totals).toEqual({ imported: 2, quarantined: 0, retried: 0 });
    expect(w.waits.map(([what, , ms]) => [what, ms])).toEqual([
      ['target', 1],
      ['target', 2],
      ['target', 4],
    ]);
    expect(w.waits[0]?.[1]).toBe('Convex: connection refused');
    expect(w.resumed).toEqual(['target']);
    expect(queue.acknowledged).toEqual(['m1', 'm2']);
    // Held, not received again: one receive each; kept invisible beyond each wait.
    expect(r.bodies).toHaveLength(4);
    expect(queue.postponed.every((p) => p.seconds >= 121)).toBe(true);
  });

  it('a follower stopped during an outage hands the held messages back at once', async () => {
    const stop = new AbortController();
    const r = rig(async () => {
      stop.abort();
      throw new TargetUnavailableError('Convex: 503');
    });
    const queue = new Queue();
    queue.send(event(1));
    const totals = await drainQueue(queue, r.deps, {
      import: options(),
      follow: true,
      signal: stop.signal,
      outageWait: { baseMs: 1, maxMs: 1 },
    });
    expect(totals).toEqual({ imported: 0, quarantined: 0, retried: 1 });
    expect(queue.postponed.at(-1)).toEqual({ id: 'm1', seconds: 0 });
    expect(queue.messages[0]?.receipt).toBeUndefined(); // visible again
  });

  it('a follower waits for the target when index setup cannot reach it', async () => {
    let failures = 1;
    const r = rig();
    const deps: ImportDeps = {
      ...r.deps,
      indexes: {
        ensure: async () => {
          if (failures-- > 0) throw new TargetUnavailableError('Convex: 502');
          return [];
        },
      },
    };
    const queue = new Queue();
    queue.send(JSON.stringify({ table: 'users', data: { email: 'x@y' } }));
    const stop = new AbortController();
    queue.onEmpty = () => stop.abort();
    const w = waitLog();
    const totals = await drainQueue(queue, deps, {
      import: options(),
      follow: true,
      signal: stop.signal,
      ...w.hooks,
    });
    expect(totals.imported).toBe(1);
    expect(w.waits).toEqual([['target', 'Convex: 502', 1]]);
  });

  it('retries an acknowledgement while SQS is unreachable (following), not otherwise', async () => {
    const r = rig();
    const queue = new Queue();
    queue.send(event(1));
    queue.ackErrors = [new QueueUnavailableError('SQS DeleteMessageBatch failed')];
    const stop = new AbortController();
    queue.onEmpty = () => stop.abort();
    const w = waitLog();
    await drainQueue(queue, r.deps, {
      import: options(),
      follow: true,
      signal: stop.signal,
      ...w.hooks,
    });
    expect(queue.acknowledged).toEqual(['m1']);
    expect(w.waits.map(([what]) => what)).toEqual(['queue']);

    const oneShot = new Queue();
    oneShot.send(event(2));
    oneShot.ackErrors = [new QueueUnavailableError('SQS DeleteMessageBatch failed')];
    await expect(
      drainQueue(oneShot, r.deps, {
        import: options(),
        follow: false,
        signal: new AbortController().signal,
      }),
    ).rejects.toThrow('DeleteMessageBatch');

    const never = new Queue();
    never.send(event(3));
    never.ackErrors = Array.from({ length: 8 }, () => new QueueUnavailableError('still down'));
    await expect(
      drainQueue(never, r.deps, {
        import: options(),
        follow: true,
        signal: new AbortController().signal,
        outageWait: { baseMs: 1, maxMs: 1 },
      }),
    ).rejects.toThrow('still down');
  });

  it('imports what it received before the queue became unreachable mid-gather', async () => {
    const r = rig();
    const queue = new Queue();
    for (let n = 0; n < 12; n++) queue.send(event(n));
    queue.receiveErrors = [undefined, new QueueUnavailableError('gone')];
    const totals = await drainQueue(queue, r.deps, {
      import: options(),
      follow: false,
      signal: new AbortController().signal,
    });
    expect(totals.imported).toBe(12);
  });

  it('a follower does not wait when some of a batch got through', async () => {
    const r = rig(async (body) => {
      if (body.includes('"n":2')) throw new TargetUnavailableError('Convex: 503');
    });
    const queue = new Queue();
    queue.send(event(1), event(2));
    const stop = new AbortController();
    const w = waitLog();
    const totals = await drainQueue(queue, r.deps, {
      import: options({ limits: { ...DEFAULT_REQUEST_LIMITS, maxMessages: 1 } }),
      follow: true,
      signal: stop.signal,
      onBatch: () => stop.abort(),
      ...w.hooks,
    });
    expect(totals).toEqual({ imported: 1, quarantined: 0, retried: 1 });
    expect(w.waits).toEqual([]);
    expect(queue.receivesOf('m2')).toBe(1);
  });
});
