import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { DEPLOY_KEY } from '../helpers/simulator.js';
import { createQueuePair, useImportRig } from './rig.js';

/** `convex-bridge import`'s exit code when the queue still holds messages it could not receive. */
const NOT_DRAINED = 5;

describe('convex-bridge import reports what is left in the queue', () => {
  const rig = useImportRig();
  const envFor = (pair: { queueUrl: string; dlqUrl: string }) => ({
    CONVEX_URL: rig.f.sim.url,
    CONVEX_DEPLOY_KEY: DEPLOY_KEY,
    BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
    BRIDGE_QUEUE_URL: pair.queueUrl,
    BRIDGE_DLQ_URL: pair.dlqUrl,
    BRIDGE_IMPORT_TABLES: JSON.stringify({ notes: {} }),
  });
  const note = (group: string, n: number) => ({
    Id: `${group}${n}`,
    MessageBody: JSON.stringify({ table: 'notes', data: { group, n } }),
    MessageGroupId: group,
    MessageDeduplicationId: `${group}-${n}-${Math.random()}`,
  });

  it('counts messages in flight and those blocked behind them in their FIFO group, and does not exit 0', async () => {
    const pair = await createQueuePair(rig.sqs, { fifo: true });
    await rig.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: pair.queueUrl,
        Entries: Array.from({ length: 10 }, (_, i) => note('A', i)),
      }),
    );
    // An earlier run that failed holds the group's first six (invisible for 300 s).
    const held = await rig.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: pair.queueUrl,
        MaxNumberOfMessages: 6,
        VisibilityTimeout: 300,
      }),
    );
    expect(held.Messages).toHaveLength(6);
    const run = await runCli(['import'], envFor(pair));
    expect(run.stdout).toContain('import: 0 imported, 0 quarantined (DLQ), 0 left for retry');
    expect(run.stdout).toContain(
      'queue not drained: 6 in flight (invisible until their visibility timeout ends), 4 waiting behind them in their FIFO groups',
    );
    expect(run.code).toBe(NOT_DRAINED);
  });

  it('imports what it can, reports in-flight messages on a standard queue, and exits 0 only once the queue is empty', {
    timeout: 60_000,
  }, async () => {
    const pair = await createQueuePair(rig.sqs);
    const entries = Array.from({ length: 8 }, (_, i) => ({
      Id: String(i),
      MessageBody: JSON.stringify({ table: 'notes', data: { std: i } }),
    }));
    await rig.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: pair.queueUrl, Entries: entries.slice(0, 5) }),
    );
    const held = await rig.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: pair.queueUrl,
        MaxNumberOfMessages: 2,
        VisibilityTimeout: 8,
      }),
    );
    const heldAt = Date.now();
    expect(held.Messages).toHaveLength(2);
    const first = await runCli(['import'], envFor(pair));
    expect(first.stdout).toContain('import: 3 imported');
    expect(first.stdout).toContain('queue not drained: 2 in flight');
    expect(first.code).toBe(NOT_DRAINED);

    await new Promise((r) => setTimeout(r, heldAt + 8_500 - Date.now()));
    const second = await runCli(['import'], envFor(pair));
    expect(second.stdout).toContain('import: 2 imported');
    expect(second.stdout).toContain('queue drained');
    expect(second.code).toBe(0);
  });
});
