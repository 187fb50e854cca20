import type { Context, SQSEvent } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { ConvexImportTarget } from '../../shared/adapters/convex-import-target.js';
import type { InboundMessage } from '../../shared/import/import-batch.js';
import type { ImportSettings } from '../../shared/import/import-message.js';
import { PrimaryKeyIndexes } from '../../shared/import/primary-key-indexes.js';
import { DEPLOY_KEY } from '../helpers/simulator.js';
import { expectedState, useImportRig, userFields } from './rig.js';

describe('import under failure', () => {
  const rig = useImportRig();
  const settings: ImportSettings = {
    tables: { accounts: { primaryKey: [['id']] }, ledger: { primaryKey: [['id']] }, notes: {} },
    unknownTables: 'reject',
  };

  it('ends exactly right for primary-key tables after 5xx, timeouts and partial commits, once failures are redelivered', {
    timeout: 60_000,
  }, async () => {
    const messages = Array.from({ length: 600 }, (_, i) => ({
      table: i % 2 ? 'accounts' : 'ledger',
      op: i % 7 === 3 ? 'delete' : 'upsert',
      data: { id: i % 10, version: i },
    }));
    rig.f.sim.knobs.transactionMaxWrites = 25; // so a failed request can have committed a prefix
    rig.f.sim.faults.configure({
      failRate: {
        path: 'import_airbyte_records',
        rate: 0.4,
        seed: 11,
        action: { kind: 'status', status: 503, code: 'OptimisticConcurrencyControlFailure' },
      },
      script: [
        {
          path: 'import_airbyte_records',
          action: { kind: 'partialImport', records: 30 },
          times: 3,
        },
        { path: 'import_airbyte_records', action: { kind: 'hang' } },
      ],
    });
    // A FIFO queue with one message group per document key: a failed message and every later one
    // of its group go back to the head of the queue, in order, while other groups move on.
    let pending: InboundMessage[] = messages.map((m) => rig.inbound(m, `${m.table}:${m.data.id}`));
    const byId = new Map(pending.map((m) => [m.id, m]));
    let rounds = 0;
    let redelivered = 0;
    const client = rig.f.client({
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
      timeoutMs: 300,
    });
    const indexes = new PrimaryKeyIndexes(client, 10);
    while (pending.length > 0 && rounds < 200) {
      rounds++;
      const delivered = pending.slice(0, 100);
      const result = await rig.run(
        delivered,
        settings,
        { limits: { maxBytes: 8 * 1024, maxMessages: 60 } },
        { target: new ConvexImportTarget(client), indexes },
      );
      redelivered += result.failedIds.length;
      pending = [
        ...result.failedIds.map((id) => byId.get(id) as InboundMessage),
        ...pending.slice(100),
      ];
    }
    expect(rig.f.sim.faults.pending).toBe(0); // every scripted partial commit and hang happened
    rig.f.sim.faults.clear();
    expect(pending).toEqual([]);
    expect(redelivered).toBeGreaterThan(0);
    expect(rig.f.sim.stats.get('POST /api/streaming_import/import_airbyte_records hang')).toBe(1);
    const expected = expectedState(messages, (d) => String(d.id));
    for (const table of ['accounts', 'ledger']) {
      const actual = new Map(
        rig.f.sim.deployment.documents(table).map((d) => [String(d.id), userFields(d)]),
      );
      expect(actual).toEqual(expected.get(table));
    }
    // Stronger than the end state: every write Convex committed, per key, went forward in
    // message order (a replayed version may repeat; an older one may never follow a newer one).
    for (const table of ['accounts', 'ledger']) {
      const applied = new Map<string, number[]>();
      for (const entry of rig.f.sim.deployment.log) {
        if (
          entry.record.tablet.name !== table ||
          entry.value === null ||
          entry.value.version === undefined
        )
          continue;
        const list = applied.get(String(entry.value.id)) ?? [];
        list.push(entry.value.version as number);
        applied.set(String(entry.value.id), list);
      }
      for (const [key, versions] of applied) {
        const backwards = versions.findIndex((v, i) => i > 0 && v < (versions[i - 1] as number));
        expect({ table, key, backwards }).toEqual({ table, key, backwards: -1 });
      }
    }
    process.stdout.write(`import faults: ${rounds} delivery rounds, ${redelivered} redeliveries\n`);
  });

  it('waits for index backfill before the first import, and fails clearly (for a retry) when it never finishes', async () => {
    rig.f.sim.knobs.indexBackfillPolls = 3;
    const client = rig.f.client();
    const waiting = await rig.run(
      [rig.inbound({ table: 'accounts', data: { id: 'w1' } })],
      { ...settings, tables: { waiting_t: { primaryKey: [['id']] } } },
      {},
      { target: new ConvexImportTarget(client), indexes: new PrimaryKeyIndexes(client, 10) },
    );
    expect(waiting).toMatchObject({ failedIds: [] });

    rig.f.sim.knobs.indexBackfillPolls = 1_000_000;
    const never = {
      tables: { never_ready: { primaryKey: [['id']] }, notes: {} },
      unknownTables: 'reject' as const,
    };
    const keyed = rig.inbound({ table: 'never_ready', data: { id: 1 } });
    const plain = rig.inbound({ table: 'notes', data: { text: 'still imported' } });
    const result = await rig.run(
      [keyed, plain],
      never,
      { indexReadyTimeoutMs: 300 },
      { target: new ConvexImportTarget(client), indexes: new PrimaryKeyIndexes(client, 20) },
    );
    expect(result).toMatchObject({ failedIds: [keyed.id], imported: 1, quarantined: 0 });
    const error = rig.lines.find((l) => l.message.startsWith('primary key indexes are not ready'));
    expect(String(error?.fields?.error)).toContain('never_ready still backfilling after 300 ms');
  });

  it('on a FIFO queue, holds back a failed group’s later messages and lets other groups through', async () => {
    rig.f.sim.faults.configure({
      script: [
        { path: 'import_airbyte_records', action: { kind: 'status', status: 503 }, times: 3 },
      ],
    });
    const client = rig.f.client({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    const a1 = rig.inbound({ table: 'notes', data: { n: 'a1' } }, 'A');
    const a2 = rig.inbound({ table: 'notes', data: { n: 'a2' } }, 'A');
    const b1 = rig.inbound({ table: 'notes', data: { n: 'b1' } }, 'B');
    const a3 = rig.inbound({ table: 'notes', data: { n: 'a3' } }, 'A');
    const b2 = rig.inbound({ table: 'notes', data: { n: 'b2' } }, 'B');
    // One message per request: the first request (a1) fails after all retries.
    const result = await rig.run(
      [a1, a2, b1, a3, b2],
      settings,
      { limits: { maxBytes: 8 * 1024 * 1024, maxMessages: 1 } },
      { target: new ConvexImportTarget(client) },
    );
    expect(result.failedIds).toEqual([a1.id, a2.id, a3.id]);
    const notes = rig.f.sim.deployment.documents('notes').map((d) => d.n);
    expect(notes).toEqual(expect.arrayContaining(['b1', 'b2']));
    expect(notes).not.toContain('a2');
  });

  it('on a standard queue, holds back later changes of a document whose earlier change failed', async () => {
    rig.f.sim.faults.configure({
      script: [
        { path: 'import_airbyte_records', action: { kind: 'status', status: 503 }, times: 3 },
      ],
    });
    const client = rig.f.client({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    const older = rig.inbound({ table: 'accounts', data: { id: 'std-1', v: 1 } });
    const other = rig.inbound({ table: 'accounts', data: { id: 'std-2', v: 1 } });
    const newer = rig.inbound({ table: 'accounts', data: { id: 'std-1', v: 2 } });
    const result = await rig.run(
      [older, other, newer],
      settings,
      { limits: { maxBytes: 8 * 1024 * 1024, maxMessages: 1 } },
      { target: new ConvexImportTarget(client) },
    );
    expect(result.failedIds).toEqual([older.id, newer.id]);
    const ids = rig.f.sim.deployment.documents('accounts').map((d) => d.id);
    expect(ids).toContain('std-2');
    expect(ids).not.toContain('std-1');
  });
});

describe('import Lambda handler', () => {
  const rig = useImportRig();

  it('returns exactly the transiently failed message ids as batchItemFailures', async () => {
    vi.stubEnv('CONVEX_URL', rig.f.sim.url);
    vi.stubEnv('CONVEX_DEPLOY_KEY', DEPLOY_KEY);
    vi.stubEnv('BRIDGE_ALLOW_INSECURE_LOOPBACK', 'true');
    vi.stubEnv('BRIDGE_DLQ_URL', rig.dlq());
    vi.stubEnv('BRIDGE_IMPORT_TABLES', JSON.stringify({ people: { primaryKey: [['email']] } }));
    vi.stubEnv('BRIDGE_IMPORT_MAX_REQUEST_MESSAGES', '5');
    vi.stubEnv('BRIDGE_CONVEX_TIMEOUT_MS', '1000');
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const { handler } = await import('../../lambdas/import/handler.js');
      const bodies = Array.from({ length: 15 }, (_, i) =>
        JSON.stringify({ table: 'people', data: { email: `p${i}@x.io`, i } }),
      );
      bodies.splice(7, 0, '{"table":"people","data":{"no":"email"}}');
      const event: SQSEvent = {
        Records: bodies.map((body, i) => ({
          messageId: `msg-${i}`,
          receiptHandle: `rh-${i}`,
          body,
          attributes: {
            ApproximateReceiveCount: '1',
            SentTimestamp: '0',
            SenderId: 'x',
            ApproximateFirstReceiveTimestamp: '0',
          },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:people',
          awsRegion: 'us-east-1',
        })),
      };
      // Index setup succeeds; then the second import request fails with 503 on every retry.
      rig.f.sim.knobs.indexBackfillPolls = 0;
      rig.f.sim.faults.configure({
        script: [
          { path: 'import_airbyte_records', action: { kind: 'delay', ms: 0 } },
          {
            path: 'import_airbyte_records',
            action: { kind: 'status', status: 503, code: 'Overloaded', message: 'busy' },
            times: 5,
          },
        ],
      });
      const context = {
        awsRequestId: 'r1',
        getRemainingTimeInMillis: () => 60_000,
      } as unknown as Context;
      const response = await handler(event, context);
      // Requests hold 5 valid messages each: msg-0..4, then msg-5,6,8,9,10 (msg-7 is invalid).
      expect(response).toEqual({
        batchItemFailures: ['msg-5', 'msg-6', 'msg-8', 'msg-9', 'msg-10'].map((itemIdentifier) => ({
          itemIdentifier,
        })),
      });
      const emails = rig.f.sim.deployment
        .documents('people')
        .map((d) => d.email)
        .sort();
      expect(emails).toHaveLength(10);
      const parked = await rig.drainDlq();
      expect(parked.map((p) => p.attributes['bridge-error-code'])).toEqual([
        'MissingPrimaryKeyField',
      ]);
    } finally {
      stdout.mockRestore();
      vi.unstubAllEnvs();
    }
  });
});
