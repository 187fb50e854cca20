import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ResourceInUseException as StreamInUseException,
} from '@aws-sdk/client-kinesis';
import {
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  HeadBucketCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * Creates what the bridge needs where it is missing, for local emulators and quick trials.
 * Production resources come from the CDK app, with encryption, alarms and retention.
 */
async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function ensureStream(
  kinesis: KinesisClient,
  streamName: string,
  shards = 2,
): Promise<'created' | 'exists'> {
  let result: 'created' | 'exists' = 'created';
  try {
    await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shards }));
  } catch (error) {
    if (!(error instanceof StreamInUseException)) throw error;
    result = 'exists';
  }
  await waitUntil(async () => {
    const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    return out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
  }, `stream ${streamName}`);
  return result;
}

/** The export state table: one string partition key `pk`, on-demand. */
export async function ensureStateTable(
  dynamo: DynamoDBClient,
  tableName: string,
): Promise<'created' | 'exists'> {
  let result: 'created' | 'exists' = 'created';
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    result = 'exists';
  }
  await waitUntil(async () => {
    const out = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    return out.Table?.TableStatus === 'ACTIVE';
  }, `table ${tableName}`);
  return result;
}

export async function ensureBucket(s3: S3Client, bucket: string): Promise<'created' | 'exists'> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return 'exists';
  } catch {
    // Missing (or not visible): try to create it below.
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return 'created';
  } catch (error) {
    if (error instanceof BucketAlreadyOwnedByYou) return 'exists';
    throw error;
  }
}

/** The queue name is the last path segment of its URL. */
export const queueNameFromUrl = (url: string): string =>
  new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? '';

/** Creates the DLQ, then the queue redriving to it after `maxReceiveCount` receives. */
export async function ensureQueues(
  sqs: SQSClient,
  queueName: string,
  dlqName: string,
  maxReceiveCount = 5,
): Promise<{ queueUrl: string; dlqUrl: string }> {
  const fifo = (name: string) => (name.endsWith('.fifo') ? { FifoQueue: 'true' } : {});
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: dlqName,
      Attributes: { ...fifo(dlqName), MessageRetentionPeriod: '1209600' },
    }),
  );
  const dlqUrl = dlq.QueueUrl as string;
  const arn = (
    await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
    )
  ).Attributes?.QueueArn;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: queueName,
      Attributes: {
        ...fifo(queueName),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount }),
      },
    }),
  );
  return { queueUrl: queue.QueueUrl as string, dlqUrl };
}
