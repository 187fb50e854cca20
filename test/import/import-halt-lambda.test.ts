import { DeleteMessageBatchCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { countRequests } from '../helpers/simulator.js';
import { createQueuePair, depthOf, receiveAsLambda, useImportRig } from './rig.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('import Lambda handler with a wrong deploy key', () => {
  const rig = useImportRig();

  it('stops at the first request, says to fix CONVEX_DEPLOY_KEY, counts ImportHalted, and backs the batch off in the queue beyond its visibility timeout', async () => {
    const pair = await createQueuePair(rig.sqs, { visibilityTimeout: 1 });
    const bodies = Array.from({ length: 5 }, (_, i) =>
      JSON.stringify({ table: 'notes', data: { n: i } }),
    );
    await rig.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: pair.queueUrl,
        Entries: [
          ...bodies.map((MessageBody, i) => ({ Id: `v${i}`, MessageBody })),
          {
            Id: 'bad',
            MessageBody: '{"table":"nowhere","data":{}}',
            MessageAttributes: { 'trace-id': { DataType: 'String', StringValue: 't-42' } },
          },
        ],
      }),
    );
    vi.stubEnv('CONVEX_URL', rig.f.sim.url);
    vi.stubEnv('CONVEX_DEPLOY_KEY', 'prod:sim-deployment|d3Jvbmcta2V5');
    vi.stubEnv('BRIDGE_ALLOW_INSECURE_LOOPBACK', 'true');
    vi.stubEnv('BRIDGE_DLQ_URL', pair.dlqUrl);
    vi.stubEnv('BRIDGE_IMPORT_TABLES', JSON.stringify({ notes: {} }));
    vi.stubEnv('BRIDGE_IMPORT_MAX_REQUEST_MESSAGES', '1');
    let out = '';
    // Powertools writes warnings and errors to stderr, the rest (and metrics) to stdout.
    const capture = (chunk: unknown) => {
      out += `${String(chunk)}\n`;
      return true;
    };
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      const { handler } = await import('../../lambdas/import/handler.js');
      const event = await receiveAsLambda(rig.sqs, pair);
      expect(event.Records).toHaveLength(6);
      const context = {
        awsRequestId: 'r1',
        getRemainingTimeInMillis: () => 60_000,
      } as unknown as Context;
      const response = await handler(event, context);
      const valid = event.Records.filter((r) => r.body.includes('"notes"'));
      expect(response).toEqual({
        batchItemFailures: valid.map((r) => ({ itemIdentifier: r.messageId })),
      });
      // The event source mapping deletes what the handler did not report as failed.
      const done = event.Records.filter((r) => !valid.includes(r));
      await rig.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: pair.queueUrl,
          Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
        }),
      );
      expect(countRequests(rig.f.sim, '/api/streaming_import/import_airbyte_records')).toBe(1);
      expect(rig.f.sim.deployment.documents('notes')).toEqual([]);
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const halted = lines.find((l) => String(l.message).includes('import halted'));
      expect(halted?.level).toBe('ERROR');
      expect(String(halted?.error)).toContain('CONVEX_DEPLOY_KEY');
      expect(lines.some((l) => l.ImportHalted === 1)).toBe(true); // EMF metric
      const backedOff = lines.find((l) => String(l.message).includes('backed off'));
      expect(backedOff).toMatchObject({ messages: 5, seconds: [30] });

      // The queue's own timeout (1 s) has passed; the five stay invisible: no quick redelivery.
      await sleep(1_500);
      expect(await depthOf(rig.sqs, pair.queueUrl)).toEqual({ visible: 0, inFlight: 5 });
      // The invalid one was parked with its reason, and with its producer's attribute.
      const parked = await rig.drainDlq(pair.dlqUrl);
      expect(parked).toHaveLength(1);
      expect(parked[0]?.attributes).toMatchObject({
        'bridge-error-code': 'UnknownTable',
        'trace-id': 't-42',
      });
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      vi.unstubAllEnvs();
    }
  });
});
