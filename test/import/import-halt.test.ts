import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { ConvexImportTarget } from '../../shared/adapters/convex-import-target.js';
import { SqsMessageQueue } from '../../shared/adapters/sqs-message-queue.js';
import { drainQueue } from '../../shared/import/drain-queue.js';
import type { ImportSettings } from '../../shared/import/import-message.js';
import { PrimaryKeyIndexes } from '../../shared/import/primary-key-indexes.js';
import { MemoryMetrics } from '../../shared/ports/observability.js';
import { runCli } from '../helpers/run-cli.js';
import { countRequests, DEPLOY_KEY, READ_ONLY_KEY } from '../helpers/simulator.js';
import { createQueuePair, depthOf, useImportRig } from './rig.js';

const WRONG_KEY = 'prod:sim-deployment|d3Jvbmcta2V5';
/** After a `prod:` prefix, a second ':' starts base64 JSON "act as" attributes; this is not. */
const MALFORMED_KEY = 'prod:sim-deployment:%%%';
const IMPORT_PATH = '/api/streaming_import/import_airbyte_records';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a Convex answer that is not about one record halts the import batch', () => {
  const rig = useImportRig();
  const settings: ImportSettings = {
    tables: { people: { primaryKey: [['email']] }, notes: {} },
    unknownTables: 'reject',
  };
  /** Five valid notes and one invalid message, one valid message per request. */
  const batch = () => [
    ...Array.from({ length: 5 }, (_, i) => rig.inbound({ table: 'notes', data: { n: i } })),
    rig.inbound({ table: 'nowhere', data: { n: 9 } }),
  ];
  const oneEach = { limits: { maxBytes: 8 * 1024 * 1024, maxMessages: 1 } };
  const errorLine = () => rig.lines.filter((l) => l.level === 'error').at(-1);

  it('a wrong key (401): one request, nothing imported, every valid message handed back, an error naming CONVEX_DEPLOY_KEY and the ImportHalted metric', async () => {
    const metrics = new MemoryMetrics();
    const messages = batch();
    const result = await rig.run(messages, settings, oneEach, {
      target: new ConvexImportTarget(rig.f.client({ deployKey: WRONG_KEY })),
      metrics,
    });
    expect(result).toMatchObject({
      failedIds: messages.slice(0, 5).map((m) => m.id),
      imported: 0,
      quarantined: 1, // the invalid one is still parked: that does not depend on the key
      halt: { kind: 'unauthorized', code: 'BadAdminKey' },
    });
    expect(countRequests(rig.f.sim, IMPORT_PATH)).toBe(1);
    expect(rig.f.sim.deployment.documents('notes')).toEqual([]);
    expect(errorLine()?.message).toMatch(/import halted/);
    expect(String(errorLine()?.fields?.error)).toContain('CONVEX_DEPLOY_KEY');
    expect(String(errorLine()?.fields?.error)).toContain('401 BadAdminKey');
    expect(metrics.totals.get('ImportHalted')).toBe(1);
    expect(metrics.totals.get('MessagesImported')).toBe(0);
  });

  it('a malformed key (400 HeaderParseFailure) halts too, instead of parking every record as ConvexRejected', async () => {
    const messages = batch();
    const result = await rig.run(messages, settings, oneEach, {
      target: new ConvexImportTarget(rig.f.client({ deployKey: MALFORMED_KEY })),
    });
    expect(result).toMatchObject({
      failedIds: messages.slice(0, 5).map((m) => m.id),
      quarantined: 1,
      halt: { kind: 'unauthorized', code: 'HeaderParseFailure' },
    });
    expect(countRequests(rig.f.sim, IMPORT_PATH)).toBe(1);
  });

  it('a key without the import permission (403 OperationNotPermitted) halts', async () => {
    const result = await rig.run(batch(), settings, oneEach, {
      target: new ConvexImportTarget(rig.f.client({ deployKey: READ_ONLY_KEY })),
    });
    expect(result.halt).toMatchObject({ kind: 'forbidden', code: 'OperationNotPermitted' });
    expect(result.imported).toBe(0);
    expect(countRequests(rig.f.sim, IMPORT_PATH)).toBe(1);
  });

  it('any other answer that is not about one record (404) halts; 5xx stays a retry of those messages only', async () => {
    rig.f.sim.faults.configure({
      script: [{ path: 'import_airbyte_records', action: { kind: 'status', status: 404 } }],
    });
    const halted = await rig.run(batch(), settings, oneEach, {
      target: new ConvexImportTarget(rig.f.client()),
    });
    expect(halted.halt).toMatchObject({ kind: 'refused', code: 'HTTP 404' });
    expect(countRequests(rig.f.sim, IMPORT_PATH)).toBe(1);

    rig.f.sim.stats.clear();
    rig.f.sim.faults.configure({
      script: [
        { path: 'import_airbyte_records', action: { kind: 'status', status: 503 }, times: 3 },
      ],
    });
    const client = rig.f.client({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    const retried = await rig.run(batch(), settings, oneEach, {
      target: new ConvexImportTarget(client),
    });
    expect(retried.halt).toBeUndefined();
    expect(retried).toMatchObject({ imported: 4, quarantined: 1 });
    expect(retried.failedIds).toHaveLength(1);
  });

  it('on the primary-key path a 401 is a halt, not "indexes are not ready"', async () => {
    const client = rig.f.client({ deployKey: WRONG_KEY });
    const keyed = rig.inbound({ table: 'people', data: { email: 'k@x.io' } });
    const plain = rig.inbound({ table: 'notes', data: { n: 'p' } });
    const result = await rig.run(
      [keyed, plain],
      settings,
      {},
      {
        target: new ConvexImportTarget(client),
        indexes: new PrimaryKeyIndexes(new ConvexImportTarget(client), 10),
      },
    );
    expect(result).toMatchObject({
      failedIds: [keyed.id, plain.id],
      imported: 0,
      halt: { kind: 'unauthorized', code: 'BadAdminKey' },
    });
    expect(countRequests(rig.f.sim, IMPORT_PATH)).toBe(0);
    expect(rig.lines.some((l) => l.message.includes('indexes are not ready'))).toBe(false);
    expect(String(errorLine()?.fields?.error)).toContain('CONVEX_DEPLOY_KEY');
  });

  it('backs halted messages off in the queue, longer with each receive, loses none, and imports them all once the key is fixed (the ones the queue gave up on brought back by dlq redrive)', {
    timeout: 90_000,
  }, async () => {
    // maxReceiveCount 2: a message received a third time goes to the DLQ.
    const pair = await createQueuePair(rig.sqs, { maxReceiveCount: 2, visibilityTimeout: 1 });
    const send = async (from: number, to: number) => {
      const entries = [];
      for (let i = from; i < to; i++)
        entries.push({
          Id: String(i),
          MessageBody: JSON.stringify({ table: 'ledger', data: { n: i } }),
        });
      await rig.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: pair.queueUrl, Entries: entries }),
      );
    };
    await send(0, 6);
    const queue = new SqsMessageQueue(rig.sqs, pair.queueUrl);
    const wrong = rig.deps({
      target: new ConvexImportTarget(rig.f.client({ deployKey: WRONG_KEY })),
    });
    const drain = () =>
      drainQueue(queue, wrong, {
        import: rig.options({ tables: { ledger: {} }, unknownTables: 'reject' }),
        follow: false,
        signal: new AbortController().signal,
        haltBackoff: { baseSeconds: 3, factor: 2, maxSeconds: 60 },
      });

    const first = await drain();
    expect(first).toMatchObject({ imported: 0, retried: 6, halt: { code: 'BadAdminKey' } });
    // The queue's own timeout is 1 s; the halt postponed them for 3 s after the first receive.
    await sleep(1_500);
    expect(await depthOf(rig.sqs, pair.queueUrl)).toEqual({ visible: 0, inFlight: 6 });
    await sleep(2_000);
    await send(6, 9); // three more, received once when the six are received a second time
    const second = await drain();
    expect(second).toMatchObject({ imported: 0, retried: 9, halt: { code: 'BadAdminKey' } });
    // Second receive of the six: 6 s now. After 4 s the new three (3 s) are back, the six are not.
    await sleep(4_000);
    expect(await depthOf(rig.sqs, pair.queueUrl)).toEqual({ visible: 3, inFlight: 6 });
    await sleep(2_500);
    expect(countRequests(rig.f.sim, IMPORT_PATH)).toBe(2); // one request per halted run
    expect(rig.f.sim.deployment.documents('ledger')).toEqual([]);

    // The key is fixed. The six were received twice: the next receive moves them to the DLQ.
    const env = {
      CONVEX_URL: rig.f.sim.url,
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      BRIDGE_QUEUE_URL: pair.queueUrl,
      BRIDGE_DLQ_URL: pair.dlqUrl,
      BRIDGE_IMPORT_TABLES: JSON.stringify({ ledger: {} }),
    };
    const fixed = await runCli(['import'], env);
    expect(fixed.stdout).toContain('import: 3 imported');
    expect(fixed.code).toBe(0);
    const list = await runCli(['dlq', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/MaxReceiveCount\s+6/);
    const redrive = await runCli(['dlq', 'redrive', '--reason', 'MaxReceiveCount'], env);
    expect(redrive).toMatchObject({ code: 0 });
    expect(redrive.stdout).toContain('moved 6 message(s) back to the queue');
    const again = await runCli(['import'], env);
    expect(again.stdout).toContain('import: 6 imported');
    expect(again.code).toBe(0);
    const imported = rig.f.sim.deployment
      .documents('ledger')
      .map((d) => Number(d.n))
      .sort((a, b) => a - b);
    expect(imported).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]); // every message, exactly once
  });
});
