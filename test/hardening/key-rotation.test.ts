import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { createSecretsManagerClient, createSqsClient } from '../../shared/aws/clients.js';
import { useExportRig } from '../export/rig.js';
import { captureOutput, lambdaContext } from '../helpers/lambda-context.js';
import { DEPLOY_KEY } from '../helpers/simulator.js';

// Issue 15 (1): the README's deploy order is "deploy, then put-secret-value". The functions start
// with the secret's generated placeholder, so their first ticks get 401; once the real key is in
// the secret, the next tick of the same warm container must work, for both functions.

/** What CloudFormation's generated secret looks like: a random 32-character password. */
const PLACEHOLDER = `Zq${randomUUID().replaceAll('-', '').slice(0, 24)}!#%&`;

const secrets = createSecretsManagerClient();

async function placeholderSecret(name: string): Promise<string> {
  await secrets.send(new CreateSecretCommand({ Name: name, SecretString: PLACEHOLDER }));
  return name;
}

describe('deploy key rotation under a warm Lambda', () => {
  const rig = useExportRig();

  it('export: the tick after put-secret-value works in the same container', {
    timeout: 60_000,
  }, async () => {
    const { stream, exportId } = await rig.fresh();
    rig.f.write([{ op: 'insert', table: 'rot_docs', doc: { a: 1 } }]);
    const secretId = await placeholderSecret(`rot-export-${exportId}`);
    vi.stubEnv('CONVEX_URL', rig.f.sim.url);
    vi.stubEnv('CONVEX_DEPLOY_KEY', undefined);
    vi.stubEnv('CONVEX_DEPLOY_KEY_SECRET_ID', secretId);
    vi.stubEnv('BRIDGE_ALLOW_INSECURE_LOOPBACK', 'true');
    vi.stubEnv('BRIDGE_STREAM_NAME', stream);
    vi.stubEnv('BRIDGE_STATE_TABLE', rig.names.table);
    vi.stubEnv('BRIDGE_OVERSIZE_BUCKET', rig.names.bucket);
    vi.stubEnv('BRIDGE_EXPORT_ID', exportId);
    vi.stubEnv('BRIDGE_INCLUDE_TABLES', 'rot_docs');
    // Fetching stops 5 s in; the rest of the budget is room to finish, as in a real function.
    vi.stubEnv('BRIDGE_SAFETY_MARGIN_MS', '15000');
    vi.stubEnv('BRIDGE_POLL_INTERVAL_MS', '100');
    const output = captureOutput();
    try {
      const { handler } = await import('../../lambdas/export/handler.js');
      const first = await handler({} as never, lambdaContext(20_000, 'exporter')).catch(
        (error: Error) => error,
      );
      expect(String(first)).toMatch(/401 BadAdminKey/);

      await secrets.send(
        new PutSecretValueCommand({ SecretId: secretId, SecretString: DEPLOY_KEY }),
      );
      const second = await handler({} as never, lambdaContext(20_000, 'exporter'));
      expect(second).toMatchObject({ status: 'budget-spent', events: 1 });
      // The 401 named where the key comes from (issue 15 (6)), never the key itself.
      expect(String(first)).toContain(`CONVEX_DEPLOY_KEY_SECRET_ID=${secretId}`);

      const emitted = output.text();
      expect(emitted).not.toContain(DEPLOY_KEY);
      expect(emitted).not.toContain(PLACEHOLDER);
    } finally {
      output.restore();
      vi.unstubAllEnvs();
    }
    await rig.verify({ stream, exportId, filter: { includeTables: ['rot_docs'] } });
  });

  it('import: the batch after put-secret-value imports in the same container', {
    timeout: 60_000,
  }, async () => {
    const sqs = createSqsClient();
    const id = randomUUID().slice(0, 8);
    const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `rot-dlq-${id}` })))
      .QueueUrl as string;
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `rot-q-${id}` })))
      .QueueUrl as string;
    const queueArn = (
      await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
      )
    ).Attributes?.QueueArn as string;
    const table = `rot_notes_${id}`;
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Array.from({ length: 5 }, (_, i) => ({
          Id: `m${i}`,
          MessageBody: JSON.stringify({ table, data: { n: i } }),
        })),
      }),
    );
    const received = [];
    while (received.length < 5) {
      const page = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 120,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      received.push(...(page.Messages ?? []));
    }
    const event: SQSEvent = {
      Records: received.map((m) => ({
        messageId: m.MessageId as string,
        receiptHandle: m.ReceiptHandle as string,
        body: m.Body as string,
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
          SentTimestamp: m.Attributes?.SentTimestamp ?? '0',
          SenderId: 'test',
          ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
        },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: 'us-east-1',
      })),
    };
    const secretId = await placeholderSecret(`rot-import-${id}`);
    vi.stubEnv('CONVEX_URL', rig.f.sim.url);
    vi.stubEnv('CONVEX_DEPLOY_KEY', undefined);
    vi.stubEnv('CONVEX_DEPLOY_KEY_SECRET_ID', secretId);
    vi.stubEnv('BRIDGE_ALLOW_INSECURE_LOOPBACK', 'true');
    vi.stubEnv('BRIDGE_QUEUE_URL', queueUrl);
    vi.stubEnv('BRIDGE_DLQ_URL', dlqUrl);
    vi.stubEnv('BRIDGE_IMPORT_TABLES', JSON.stringify({ [table]: {} }));
    vi.stubEnv('BRIDGE_CONVEX_TIMEOUT_MS', '2000');
    const output = captureOutput();
    try {
      const { handler } = await import('../../lambdas/import/handler.js');
      // With the placeholder nothing is imported: the batch is handed back (or the tick fails).
      const first = await handler(event, lambdaContext(30_000, 'importer')).then(
        (response) => ({ response }),
        (error: unknown) => ({ error }),
      );
      if ('response' in first)
        expect(first.response.batchItemFailures).toHaveLength(received.length);
      expect(rig.f.sim.deployment.documents(table)).toHaveLength(0);

      await secrets.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          SecretString: JSON.stringify({ deployKey: DEPLOY_KEY }),
        }),
      );
      const second = await handler(event, lambdaContext(30_000, 'importer'));
      expect(second).toEqual({ batchItemFailures: [] });
      expect(
        rig.f.sim.deployment
          .documents(table)
          .map((d) => d.n)
          .sort(),
      ).toEqual([0, 1, 2, 3, 4]);

      const emitted = output.text();
      expect(emitted).not.toContain(DEPLOY_KEY);
      expect(emitted).not.toContain(PLACEHOLDER);
    } finally {
      output.restore();
      vi.unstubAllEnvs();
    }
  });
});
