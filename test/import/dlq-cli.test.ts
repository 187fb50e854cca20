import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { DEPLOY_KEY } from '../helpers/simulator.js';
import { createQueuePair, depthOf, useImportRig } from './rig.js';

const str = (StringValue: string) => ({ DataType: 'String', StringValue });

interface Listed {
  id: string;
  code: string;
  reason: string;
  table?: string;
  ageSeconds: number;
  attributes: Record<string, string>;
}

describe('convex-bridge dlq', () => {
  const rig = useImportRig();

  it('quarantines with the producer’s attributes, lists by reason, shows one, redrives a filtered set back, and the fixed messages import', {
    timeout: 90_000,
  }, async () => {
    const id = randomUUID().slice(0, 8);
    const endpoint = process.env.AWS_ENDPOINT_URL as string;
    const env = {
      CONVEX_URL: rig.f.sim.url,
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      BRIDGE_QUEUE_URL: `${endpoint}/123456789012/import-${id}`,
      BRIDGE_DLQ_URL: `${endpoint}/123456789012/import-dlq-${id}`,
      BRIDGE_IMPORT_TABLES: JSON.stringify({ people: { primaryKey: [['email']] } }),
    };
    expect((await runCli(['setup'], env)).code).toBe(0);
    const nine = Object.fromEntries(
      Array.from({ length: 9 }, (_, i) => [`attr-${i}`, str(`v${i}`)]),
    );
    await rig.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: env.BRIDGE_QUEUE_URL,
        Entries: [
          {
            Id: 'p1',
            MessageBody: JSON.stringify({ table: 'people', data: { email: 'a@x.io' } }),
            MessageAttributes: { 'trace-id': str('t-1') },
          },
          {
            Id: 'o1',
            MessageBody: JSON.stringify({ table: 'orders', data: { sku: 'o-1' } }),
            MessageAttributes: { 'trace-id': str('t-2'), tenant: str('acme') },
          },
          {
            Id: 'o2',
            MessageBody: JSON.stringify({ table: 'orders', data: { sku: 'o-2' } }),
            MessageAttributes: {
              'trace-id': str('t-3'),
              blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
            },
          },
          {
            Id: 'o3',
            MessageBody: JSON.stringify({ table: 'orders', data: { sku: 'o-3' } }),
            MessageAttributes: nine,
          },
          {
            Id: 'j',
            MessageBody: '{"table": "people", ',
            MessageAttributes: { 'trace-id': str('t-5') },
          },
        ],
      }),
    );
    const run = await runCli(['import'], env);
    expect(run.stdout).toContain('import: 1 imported, 4 quarantined (DLQ)');
    expect(run.code).toBe(0);

    const list = await runCli(['dlq', 'list'], env);
    expect(list).toMatchObject({ code: 0, stderr: '' });
    expect(list.stdout).toMatch(/4 message\(s\)/);
    expect(list.stdout).toMatch(/UnknownTable\s+3/);
    expect(list.stdout).toMatch(/InvalidJson\s+1/);
    expect(list.stdout).toMatch(/UnknownTable\s+orders\s+\d+s/);
    process.stdout.write(`dlq list:\n${list.stdout}`);

    const json = await runCli(['dlq', 'list', '--json'], env);
    const listed = JSON.parse(json.stdout) as {
      messages: Listed[];
      byReason: Record<string, number>;
    };
    expect(listed.byReason).toEqual({ UnknownTable: 3, InvalidJson: 1 });
    const o1 = listed.messages.find((m) => m.attributes['trace-id'] === 't-2');
    expect(o1).toMatchObject({
      code: 'UnknownTable',
      table: 'orders',
      attributes: { tenant: 'acme' },
    });
    const o3 = listed.messages.find((m) => 'attr-0' in m.attributes) as Listed;
    // SQS allows 10 attributes: our four, and six of the producer's nine; the rest are named.
    expect(Object.keys(o3.attributes)).toHaveLength(6);
    expect(o3.reason).toContain('attributes dropped (SQS allows 10): attr-6, attr-7, attr-8');
    expect(listed.messages.every((m) => m.ageSeconds >= 0 && m.ageSeconds < 60)).toBe(true);

    const show = await runCli(['dlq', 'show', o1?.id as string], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('UnknownTable');
    expect(show.stdout).toContain('trace-id');
    expect(show.stdout).toContain('"sku":"o-1"');
    const missing = await runCli(['dlq', 'show', 'no-such-id'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no-such-id');

    const dry = await runCli(['dlq', 'redrive', '--reason', 'UnknownTable', '--dry-run'], env);
    expect(dry).toMatchObject({ code: 0 });
    expect(dry.stdout).toContain('would move 3 message(s) back to the queue');
    expect((await depthOf(rig.sqs, env.BRIDGE_DLQ_URL)).visible).toBe(4);

    // The fix: orders becomes a known table. Only those go back, with their own attributes.
    const fixed = {
      ...env,
      BRIDGE_IMPORT_TABLES: JSON.stringify({ people: { primaryKey: [['email']] }, orders: {} }),
    };
    const redrive = await runCli(
      ['dlq', 'redrive', '--reason', 'UnknownTable', '--table', 'orders'],
      fixed,
    );
    expect(redrive).toMatchObject({ code: 0 });
    expect(redrive.stdout).toContain('moved 3 message(s) back to the queue');
    process.stdout.write(`dlq redrive:\n${redrive.stdout}`);
    const back = await rig.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: env.BRIDGE_QUEUE_URL,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        VisibilityTimeout: 0,
      }),
    );
    const backAttributes = (back.Messages ?? []).map((m) => Object.keys(m.MessageAttributes ?? {}));
    expect(backAttributes).toHaveLength(3);
    for (const names of backAttributes)
      expect(names.some((n) => n.startsWith('bridge-'))).toBe(false);
    expect(backAttributes.flat()).toEqual(expect.arrayContaining(['trace-id', 'tenant', 'blob']));

    const reimport = await runCli(['import'], fixed);
    expect(reimport.stdout).toContain('import: 3 imported, 0 quarantined');
    expect(reimport.code).toBe(0);
    expect(
      rig.f.sim.deployment
        .documents('orders')
        .map((d) => d.sku)
        .sort(),
    ).toEqual(['o-1', 'o-2', 'o-3']);

    const after = await runCli(['dlq', 'list'], env);
    expect(after.stdout).toMatch(/1 message\(s\)/);
    expect(after.stdout).toMatch(/InvalidJson\s+1/);

    const refused = await runCli(['dlq', 'purge'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes');
    const purge = await runCli(['dlq', 'purge', '--yes'], env);
    expect(purge).toMatchObject({ code: 0 });
    expect(purge.stdout).toContain('purged');
    expect((await runCli(['dlq', 'list'], env)).stdout).toMatch(/0 message\(s\)/);
  });

  it('on FIFO queues, redrives the whole DLQ back into each message’s own group', async () => {
    const pair = await createQueuePair(rig.sqs, { fifo: true });
    const env = {
      CONVEX_URL: rig.f.sim.url,
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      BRIDGE_QUEUE_URL: pair.queueUrl,
      BRIDGE_DLQ_URL: pair.dlqUrl,
      BRIDGE_IMPORT_TABLES: JSON.stringify({ people: { primaryKey: [['email']] } }),
    };
    await rig.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: pair.queueUrl,
        Entries: ['g1', 'g1', 'g2'].map((group, i) => ({
          Id: String(i),
          MessageBody: JSON.stringify({ table: 'invoices', data: { i } }),
          MessageGroupId: group,
          MessageDeduplicationId: `${group}-${i}`,
        })),
      }),
    );
    const run = await runCli(['import'], env);
    expect(run.stdout).toContain('0 imported, 3 quarantined (DLQ)');
    const redrive = await runCli(['dlq', 'redrive'], {
      ...env,
      BRIDGE_IMPORT_TABLES: JSON.stringify({ invoices: {} }),
    });
    expect(redrive.stdout).toContain('moved 3 message(s) back to the queue');
    const back = await rig.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: pair.queueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
    );
    expect(
      (back.Messages ?? []).map((m) => [
        m.Attributes?.MessageGroupId,
        JSON.parse(m.Body ?? '').data.i,
      ]),
    ).toEqual(
      expect.arrayContaining([
        ['g1', 0],
        ['g2', 2],
      ]),
    );
    expect((await depthOf(rig.sqs, pair.dlqUrl)).visible).toBe(0);
  });
});
