import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
  createSqsClient,
} from '../../shared/aws/clients.js';
import {
  ensureBucket,
  ensureQueues,
  ensureStateTable,
  ensureStream,
  formatReport,
  unusable,
} from '../../shared/setup/ensure-resources.js';
import { runCli } from '../helpers/run-cli.js';

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const sqs = createSqsClient();
const kinesis = createKinesisClient();
const dynamo = createDynamoDbClient();

const queueArn = (name: string) => `arn:aws:sqs:us-east-1:123456789012:${name}`;

async function queueAttributes(url: string) {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['VisibilityTimeout', 'RedrivePolicy', 'MessageRetentionPeriod', 'FifoQueue'],
    }),
  );
  return out.Attributes ?? {};
}

async function waitForStream(name: string) {
  for (;;) {
    const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE')
      return out.StreamDescriptionSummary;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A state table keyed otherwise than the bridge needs. */
async function createTable(name: string, key: { hash: string; type: 'S' | 'N'; range?: string }) {
  await dynamo.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: key.hash, KeyType: 'HASH' },
        ...(key.range ? [{ AttributeName: key.range, KeyType: 'RANGE' as const }] : []),
      ],
      AttributeDefinitions: [
        { AttributeName: key.hash, AttributeType: key.type },
        ...(key.range ? [{ AttributeName: key.range, AttributeType: 'S' as const }] : []),
      ],
    }),
  );
}

describe('ensure* (setup of the bridge resources)', () => {
  it('creates each resource, then reports it as existing with nothing different', async () => {
    const [stream, table, bucket, queue, dlq] = [
      unique('setup-stream'),
      unique('setup-table'),
      unique('setup-bucket'),
      unique('setup-q'),
      unique('setup-dlq'),
    ];
    const run = async () => ({
      stream: await ensureStream(kinesis, stream),
      table: await ensureStateTable(dynamo, table),
      bucket: await ensureBucket(createS3Client(), bucket),
      queues: await ensureQueues(sqs, queue, dlq),
    });
    const first = await run();
    for (const r of [first.stream, first.table, first.bucket, first.queues.queue, first.queues.dlq])
      expect(r).toMatchObject({ outcome: 'created', differences: [] });
    expect(formatReport(first.stream)).toBe('created');
    expect(await queueAttributes(first.queues.queueUrl)).toMatchObject({
      VisibilityTimeout: '120',
    });
    expect(
      JSON.parse((await queueAttributes(first.queues.queueUrl)).RedrivePolicy ?? '{}'),
    ).toMatchObject({ deadLetterTargetArn: queueArn(dlq), maxReceiveCount: 5 });

    const second = await run();
    for (const r of [
      second.stream,
      second.table,
      second.bucket,
      second.queues.queue,
      second.queues.dlq,
    ])
      expect(r).toMatchObject({ outcome: 'exists', differences: [] });
    expect(formatReport(second.table)).toBe('exists');
    expect(second.queues).toMatchObject({
      queueUrl: first.queues.queueUrl,
      dlqUrl: first.queues.dlqUrl,
    });
  });

  it('reports a queue made with another visibility timeout and redrive policy, without changing it', async () => {
    const [queue, dlq] = [unique('setup-q'), unique('setup-dlq')];
    const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: dlq }))).QueueUrl as string;
    const queueUrl = (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: queue,
          Attributes: {
            VisibilityTimeout: '30',
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: queueArn(dlq),
              maxReceiveCount: 3,
            }),
          },
        }),
      )
    ).QueueUrl as string;
    const before = [await queueAttributes(queueUrl), await queueAttributes(dlqUrl)];

    const result = await ensureQueues(sqs, queue, dlq);

    expect(result).toMatchObject({ queueUrl, dlqUrl });
    expect(result.queue.outcome).toBe('exists');
    expect(result.queue.differences).toEqual([
      { setting: 'VisibilityTimeout', found: '30', wanted: '120', severity: 'warning' },
      { setting: 'RedrivePolicy maxReceiveCount', found: '3', wanted: '5', severity: 'warning' },
    ]);
    expect(formatReport(result.queue)).toBe(
      'exists; differs: VisibilityTimeout 30 (setup would use 120), RedrivePolicy maxReceiveCount 3 (setup would use 5)',
    );
    expect(formatReport(result.dlq)).toBe(
      'exists; differs: MessageRetentionPeriod 345600 (setup would use 1209600)',
    );
    expect(unusable(result.queue)).toEqual([]);
    expect(unusable(result.dlq)).toEqual([]);
    expect([await queueAttributes(queueUrl), await queueAttributes(dlqUrl)]).toEqual(before);
  });

  it('names a redrive to another queue, and a queue without one', async () => {
    const [queue, bare, dlq, other] = [
      unique('setup-q'),
      unique('setup-bare'),
      unique('setup-dlq'),
      unique('setup-other'),
    ];
    await sqs.send(new CreateQueueCommand({ QueueName: other }));
    await sqs.send(
      new CreateQueueCommand({
        QueueName: queue,
        Attributes: {
          VisibilityTimeout: '120',
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: queueArn(other),
            maxReceiveCount: 5,
          }),
        },
      }),
    );
    await sqs.send(
      new CreateQueueCommand({ QueueName: bare, Attributes: { VisibilityTimeout: '120' } }),
    );

    const redirected = await ensureQueues(sqs, queue, dlq);
    expect(redirected.dlq.outcome).toBe('created');
    expect(formatReport(redirected.queue)).toBe(
      `exists; differs: RedrivePolicy deadLetterTargetArn ${queueArn(other)} (setup would use ${queueArn(dlq)})`,
    );
    const noRedrive = await ensureQueues(sqs, bare, dlq);
    expect(formatReport(noRedrive.queue)).toBe(
      `exists; differs: RedrivePolicy none (setup would use maxReceiveCount 5 to ${queueArn(dlq)})`,
    );
    expect((await queueAttributes(noRedrive.queueUrl)).RedrivePolicy).toBeUndefined();
  });

  it('refuses a FIFO queue with a standard dead-letter queue, creating neither', async () => {
    const [queue, dlq] = [`${unique('setup-q')}.fifo`, unique('setup-dlq')];
    await expect(ensureQueues(sqs, queue, dlq)).rejects.toThrow(
      `import queue ${queue} is FIFO but dead-letter queue ${dlq} is standard`,
    );
    for (const name of [queue, dlq])
      await expect(sqs.send(new GetQueueUrlCommand({ QueueName: name }))).rejects.toBeInstanceOf(
        QueueDoesNotExist,
      );
  });

  it('creates FIFO pairs, and calls a .fifo-named standard queue unusable', async () => {
    const [queue, dlq] = [`${unique('setup-q')}.fifo`, `${unique('setup-dlq')}.fifo`];
    const created = await ensureQueues(sqs, queue, dlq);
    expect(await queueAttributes(created.queueUrl)).toMatchObject({ FifoQueue: 'true' });
    expect(await queueAttributes(created.dlqUrl)).toMatchObject({ FifoQueue: 'true' });
    expect((await ensureQueues(sqs, queue, dlq)).queue).toMatchObject({ differences: [] });

    // AWS ties the type to the name; moto does not, which lets the check be seen.
    const standard = `${unique('setup-std')}.fifo`;
    await sqs.send(
      new CreateQueueCommand({ QueueName: standard, Attributes: { VisibilityTimeout: '120' } }),
    );
    const result = await ensureQueues(sqs, standard, dlq);
    expect(unusable(result.queue)).toEqual([
      {
        setting: 'FifoQueue',
        found: 'false',
        wanted: 'true, as its name ends in .fifo',
        severity: 'error',
      },
    ]);
  });

  it('reports a stream with another shard count, leaving it as it is', async () => {
    const stream = unique('setup-stream');
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    await waitForStream(stream);

    const report = await ensureStream(kinesis, stream, 2);

    expect(report).toEqual({
      name: stream,
      outcome: 'exists',
      differences: [{ setting: 'ShardCount', found: '1', wanted: '2', severity: 'warning' }],
    });
    expect(formatReport(report)).toBe('exists; differs: ShardCount 1 (setup would use 2)');
    expect((await waitForStream(stream)).OpenShardCount).toBe(1);
  });

  it('calls a state table keyed otherwise than a string pk unusable, naming the key', async () => {
    const [byId, byNumber, withSort] = [
      unique('setup-id'),
      unique('setup-num'),
      unique('setup-sort'),
    ];
    await createTable(byId, { hash: 'id', type: 'S' });
    await createTable(byNumber, { hash: 'pk', type: 'N' });
    await createTable(withSort, { hash: 'pk', type: 'S', range: 'sk' });

    const reports = [
      await ensureStateTable(dynamo, byId),
      await ensureStateTable(dynamo, byNumber),
      await ensureStateTable(dynamo, withSort),
    ];
    expect(reports.map(formatReport)).toEqual([
      'exists; unusable: KeySchema id (S, HASH) (the bridge needs pk (S, HASH) alone)',
      'exists; unusable: KeySchema pk (N, HASH) (the bridge needs pk (S, HASH) alone)',
      'exists; unusable: KeySchema pk (S, HASH) + sk (S, RANGE) (the bridge needs pk (S, HASH) alone)',
    ]);
    for (const r of reports) expect(unusable(r)).toHaveLength(1);
    const after = await dynamo.send(new DescribeTableCommand({ TableName: byId }));
    expect(after.Table?.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
  });

  it('accepts a provisioned state table with a warning', async () => {
    const table = unique('setup-prov');
    await dynamo.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
      }),
    );
    const report = await ensureStateTable(dynamo, table);
    expect(formatReport(report)).toBe(
      'exists; differs: BillingMode PROVISIONED (setup would use PAY_PER_REQUEST)',
    );
    expect(unusable(report)).toEqual([]);
  });
});

describe('convex-bridge setup', () => {
  const endpoint = () => process.env.AWS_ENDPOINT_URL as string;

  it('exits 0 twice: first creating everything, then reporting it as existing', {
    timeout: 60_000,
  }, async () => {
    const id = randomUUID().slice(0, 8);
    const env = {
      BRIDGE_STREAM_NAME: `setup-cli-${id}`,
      BRIDGE_STATE_TABLE: `setup-cli-state-${id}`,
      BRIDGE_OVERSIZE_BUCKET: `setup-cli-bucket-${id}`,
      BRIDGE_QUEUE_URL: `${endpoint()}/123456789012/setup-cli-q-${id}`,
      BRIDGE_DLQ_URL: `${endpoint()}/123456789012/setup-cli-dlq-${id}`,
    };
    const lines = (status: string) => [
      `stream ${env.BRIDGE_STREAM_NAME}: ${status}`,
      `state table ${env.BRIDGE_STATE_TABLE}: ${status}`,
      `oversize bucket ${env.BRIDGE_OVERSIZE_BUCKET}: ${status}`,
      `import queue: ${env.BRIDGE_QUEUE_URL}: ${status}`,
      `dead-letter queue: ${env.BRIDGE_DLQ_URL}: ${status}`,
    ];
    const first = await runCli(['setup'], env);
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split('\n')).toEqual(lines('created'));
    const second = await runCli(['setup'], env);
    expect(second.code).toBe(0);
    expect(second.stdout.trim().split('\n')).toEqual(lines('exists'));
  });

  it('exits 0 on a differing queue, and 1 naming the table and its key when the table is unusable', {
    timeout: 60_000,
  }, async () => {
    const id = randomUUID().slice(0, 8);
    const queue = `setup-cli-q-${id}`;
    await sqs.send(
      new CreateQueueCommand({ QueueName: queue, Attributes: { VisibilityTimeout: '30' } }),
    );
    const queues = {
      BRIDGE_QUEUE_URL: `${endpoint()}/123456789012/${queue}`,
      BRIDGE_DLQ_URL: `${endpoint()}/123456789012/setup-cli-dlq-${id}`,
    };
    const differing = await runCli(['setup'], queues);
    expect(differing.code).toBe(0);
    expect(differing.stdout).toContain(
      `import queue: ${queues.BRIDGE_QUEUE_URL}: exists; differs: VisibilityTimeout 30 (setup would use 120), RedrivePolicy none (setup would use maxReceiveCount 5 to ${queueArn(`setup-cli-dlq-${id}`)})`,
    );
    expect(differing.stdout).toContain(`dead-letter queue: ${queues.BRIDGE_DLQ_URL}: created`);

    const table = `setup-cli-bad-${id}`;
    await createTable(table, { hash: 'id', type: 'S' });
    const bad = await runCli(['setup'], { ...queues, BRIDGE_STATE_TABLE: table });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(
      `state table ${table}: exists; unusable: KeySchema id (S, HASH) (the bridge needs pk (S, HASH) alone)`,
    );
    // The other resources are still reported.
    expect(bad.stdout).toContain(`dead-letter queue: ${queues.BRIDGE_DLQ_URL}: exists`);
    expect(bad.stderr).toContain(
      `convex-bridge: state table ${table} cannot be used: KeySchema is id (S, HASH), the bridge needs pk (S, HASH) alone`,
    );
  });
});
