import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  type StreamDescriptionSummary,
  ResourceInUseException as StreamInUseException,
} from '@aws-sdk/client-kinesis';
import {
  BucketAlreadyExists,
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  HeadBucketCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type QueueAttributeName,
  QueueDoesNotExist,
  QueueNameExists,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { STATE_TABLE_KEY } from '../names.js';

/**
 * Creates what the bridge needs where it is missing, for local emulators and quick trials.
 * Production resources come from the CDK app, with encryption, alarms and retention.
 *
 * An existing resource is never changed: each function reports it as it is, naming every setting
 * that differs from what it would have created. A difference is a `warning` when the bridge still
 * works with it, an `error` when the bridge cannot use the resource at all.
 */

/** One setting of an existing resource that differs from what setup would create. */
export interface Difference {
  /** The setting's name, e.g. `VisibilityTimeout` or `RedrivePolicy maxReceiveCount`. */
  readonly setting: string;
  readonly found: string;
  /** What setup creates (warning) or what the bridge needs (error). */
  readonly wanted: string;
  readonly severity: 'warning' | 'error';
}

export interface EnsureReport {
  readonly name: string;
  readonly outcome: 'created' | 'exists';
  /** Empty when created, or when the existing resource matches. */
  readonly differences: readonly Difference[];
}

/** `created`, `exists`, or `exists; unusable: …; differs: …` naming each difference. */
export function formatReport(report: EnsureReport): string {
  const errors = report.differences.filter((d) => d.severity === 'error');
  const warnings = report.differences.filter((d) => d.severity === 'warning');
  const parts: string[] = [report.outcome];
  if (errors.length > 0)
    parts.push(
      `unusable: ${errors.map((d) => `${d.setting} ${d.found} (the bridge needs ${d.wanted})`).join(', ')}`,
    );
  if (warnings.length > 0)
    parts.push(
      `differs: ${warnings.map((d) => `${d.setting} ${d.found} (setup would use ${d.wanted})`).join(', ')}`,
    );
  return parts.join('; ');
}

/** The differences that make the resource unusable by the bridge. */
export const unusable = (report: EnsureReport): Difference[] =>
  report.differences.filter((d) => d.severity === 'error');

async function waitFor<T>(
  get: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function ensureStream(
  kinesis: KinesisClient,
  streamName: string,
  shards = 2,
): Promise<EnsureReport> {
  let outcome: EnsureReport['outcome'] = 'created';
  try {
    await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shards }));
  } catch (error) {
    if (!(error instanceof StreamInUseException)) throw error;
    outcome = 'exists';
  }
  const summary = await waitFor(async () => {
    const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    const s = out.StreamDescriptionSummary;
    return s?.StreamStatus === 'ACTIVE' ? s : undefined;
  }, `stream ${streamName}`);
  return {
    name: streamName,
    outcome,
    differences: outcome === 'exists' ? streamDifferences(summary, shards) : [],
  };
}

/**
 * Both are warnings: the publisher spreads records over whatever shards the stream has (per-key
 * order holds on any shard count); only throughput and cost differ.
 */
function streamDifferences(s: StreamDescriptionSummary, shards: number): Difference[] {
  if (s.StreamModeDetails?.StreamMode === 'ON_DEMAND')
    return [
      {
        setting: 'StreamMode',
        found: 'ON_DEMAND',
        wanted: `PROVISIONED with ${shards} shards`,
        severity: 'warning',
      },
    ];
  if (s.OpenShardCount !== undefined && s.OpenShardCount !== shards)
    return [
      {
        setting: 'ShardCount',
        found: String(s.OpenShardCount),
        wanted: String(shards),
        severity: 'warning',
      },
    ];
  return [];
}

/** The export state table: one string partition key `pk`, on-demand. */
export async function ensureStateTable(
  dynamo: DynamoDBClient,
  tableName: string,
): Promise<EnsureReport> {
  let outcome: EnsureReport['outcome'] = 'created';
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: STATE_TABLE_KEY, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: STATE_TABLE_KEY, AttributeType: 'S' }],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    outcome = 'exists';
  }
  const table = await waitFor(async () => {
    const out = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    return out.Table?.TableStatus === 'ACTIVE' ? out.Table : undefined;
  }, `table ${tableName}`);
  return {
    name: tableName,
    outcome,
    differences: outcome === 'exists' ? tableDifferences(table) : [],
  };
}

function tableDifferences(table: TableDescription): Difference[] {
  const differences: Difference[] = [];
  const types = new Map(
    (table.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]),
  );
  const keys = table.KeySchema ?? [];
  const key = keys
    .map((k) => `${k.AttributeName} (${types.get(k.AttributeName) ?? '?'}, ${k.KeyType})`)
    .join(' + ');
  // Error: the export store reads and writes its one item by { pk: S }; DynamoDB rejects that key
  // on a table keyed otherwise (another name, a number, or an extra sort key).
  const [only] = keys;
  if (
    keys.length !== 1 ||
    only?.AttributeName !== STATE_TABLE_KEY ||
    only.KeyType !== 'HASH' ||
    types.get(STATE_TABLE_KEY) !== 'S'
  )
    differences.push({
      setting: 'KeySchema',
      found: key || 'none',
      wanted: `${STATE_TABLE_KEY} (S, HASH) alone`,
      severity: 'error',
    });
  // Warning: a provisioned table works; a few writes per exported page rarely reach its capacity,
  // and throttled writes are retried by the SDK.
  const billing = table.BillingModeSummary?.BillingMode ?? 'PROVISIONED';
  if (billing !== 'PAY_PER_REQUEST')
    differences.push({
      setting: 'BillingMode',
      found: billing,
      wanted: 'PAY_PER_REQUEST',
      severity: 'warning',
    });
  return differences;
}

/** Setup sets nothing on the bucket but its name, so an existing one has nothing to differ in. */
export async function ensureBucket(s3: S3Client, bucket: string): Promise<EnsureReport> {
  const report = (outcome: EnsureReport['outcome'], differences: Difference[] = []) => ({
    name: bucket,
    outcome,
    differences,
  });
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return report('exists');
  } catch {
    // Missing (or not visible): try to create it below.
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return report('created');
  } catch (error) {
    if (error instanceof BucketAlreadyOwnedByYou) return report('exists');
    // Error: the name is taken by another account, so the exporter cannot write claim checks.
    if (error instanceof BucketAlreadyExists)
      return report('exists', [
        {
          setting: 'owner',
          found: 'another account',
          wanted: 'a bucket this account can write',
          severity: 'error',
        },
      ]);
    throw error;
  }
}

/** The queue name is the last path segment of its URL. */
export const queueNameFromUrl = (url: string): string =>
  new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? '';

/** What setup gives the import queue and its DLQ. */
export const QUEUE_SETTINGS = {
  /**
   * The CLI importer asks for 120 s on every receive (shared/import/drain-queue.ts); the queue's
   * own default matches it for any other consumer.
   */
  visibilityTimeout: 120,
  maxReceiveCount: 5,
  /** 14 days, the most SQS keeps: parked messages wait for someone to look at them. */
  dlqRetentionSeconds: 1_209_600,
} as const;

const isFifo = (name: string) => name.endsWith('.fifo');

/**
 * Creates the DLQ, then the queue redriving to it after `maxReceiveCount` receives; existing
 * queues are compared with that, never changed.
 */
export async function ensureQueues(
  sqs: SQSClient,
  queueName: string,
  dlqName: string,
  maxReceiveCount: number = QUEUE_SETTINGS.maxReceiveCount,
): Promise<{ queueUrl: string; dlqUrl: string; queue: EnsureReport; dlq: EnsureReport }> {
  // SQS redrives a FIFO queue only to a FIFO DLQ and a standard one only to a standard DLQ, and
  // both queues' types follow from their names; so this pair can never work: nothing is created.
  if (isFifo(queueName) !== isFifo(dlqName))
    throw new Error(
      `import queue ${queueName} is ${isFifo(queueName) ? 'FIFO' : 'standard'} but dead-letter queue ${dlqName} is ${isFifo(dlqName) ? 'FIFO' : 'standard'}: ` +
        'SQS redrives only to a dead-letter queue of the same type; end both names in .fifo, or neither',
    );
  const dlq = await ensureQueue(
    sqs,
    dlqName,
    { MessageRetentionPeriod: String(QUEUE_SETTINGS.dlqRetentionSeconds) },
    (attributes) => {
      // Warning: parked messages are dropped sooner (or kept longer); imports are unaffected.
      const found = attributes.MessageRetentionPeriod ?? '345600';
      return found === String(QUEUE_SETTINGS.dlqRetentionSeconds)
        ? []
        : [
            {
              setting: 'MessageRetentionPeriod',
              found,
              wanted: String(QUEUE_SETTINGS.dlqRetentionSeconds),
              severity: 'warning',
            },
          ];
    },
  );
  const dlqArn = dlq.attributes.QueueArn ?? '';
  const queue = await ensureQueue(
    sqs,
    queueName,
    {
      VisibilityTimeout: String(QUEUE_SETTINGS.visibilityTimeout),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
    },
    (attributes) => [
      ...visibilityDifferences(attributes),
      ...redriveDifferences(attributes.RedrivePolicy, dlqArn, maxReceiveCount),
    ],
  );
  return { queueUrl: queue.url, dlqUrl: dlq.url, queue: queue.report, dlq: dlq.report };
}

/** Warning: the CLI importer sets its own timeout on each receive; other consumers see this one. */
function visibilityDifferences(attributes: Record<string, string>): Difference[] {
  const found = attributes.VisibilityTimeout ?? '30';
  return found === String(QUEUE_SETTINGS.visibilityTimeout)
    ? []
    : [
        {
          setting: 'VisibilityTimeout',
          found,
          wanted: String(QUEUE_SETTINGS.visibilityTimeout),
          severity: 'warning',
        },
      ];
}

/**
 * Warnings: the importer parks rejected messages in BRIDGE_DLQ_URL itself; the redrive only moves
 * messages that keep failing with retryable errors. Without it they are retried until they expire
 * (blocking their group on a FIFO queue); with another target or count they go elsewhere or later.
 */
function redriveDifferences(
  policy: string | undefined,
  dlqArn: string,
  maxReceiveCount: number,
): Difference[] {
  const wanted = `maxReceiveCount ${maxReceiveCount} to ${dlqArn}`;
  if (!policy) return [{ setting: 'RedrivePolicy', found: 'none', wanted, severity: 'warning' }];
  let parsed: { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
  try {
    parsed = JSON.parse(policy);
  } catch {
    return [{ setting: 'RedrivePolicy', found: policy, wanted, severity: 'warning' }];
  }
  const differences: Difference[] = [];
  if (parsed.deadLetterTargetArn !== dlqArn)
    differences.push({
      setting: 'RedrivePolicy deadLetterTargetArn',
      found: String(parsed.deadLetterTargetArn),
      wanted: dlqArn,
      severity: 'warning',
    });
  if (Number(parsed.maxReceiveCount) !== maxReceiveCount)
    differences.push({
      setting: 'RedrivePolicy maxReceiveCount',
      found: String(parsed.maxReceiveCount),
      wanted: String(maxReceiveCount),
      severity: 'warning',
    });
  return differences;
}

/**
 * Error: the bridge treats a queue as FIFO by its `.fifo` name and sends with MessageGroupId, which
 * a standard queue rejects (and a FIFO queue requires). AWS ties the type to the name, emulators may not.
 */
function fifoDifferences(name: string, attributes: Record<string, string>): Difference[] {
  const found = attributes.FifoQueue === 'true';
  return found === isFifo(name)
    ? []
    : [
        {
          setting: 'FifoQueue',
          found: String(found),
          wanted: `${isFifo(name)}, as its name${isFifo(name) ? ' ends' : ' does not end'} in .fifo`,
          severity: 'error',
        },
      ];
}

const COMPARED: QueueAttributeName[] = [
  'QueueArn',
  'FifoQueue',
  'VisibilityTimeout',
  'RedrivePolicy',
  'MessageRetentionPeriod',
];

/**
 * Looks the queue up first: CreateQueue answers an existing queue with its URL when the attributes
 * match and fails (QueueNameExists) when they do not, so it cannot tell created from existing.
 */
async function ensureQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
  compare: (found: Record<string, string>) => Difference[],
): Promise<{ url: string; report: EnsureReport; attributes: Record<string, string> }> {
  let outcome: EnsureReport['outcome'] = 'exists';
  let url = await queueUrl(sqs, name);
  if (url === undefined) {
    try {
      const out = await sqs.send(
        new CreateQueueCommand({
          QueueName: name,
          Attributes: { ...(isFifo(name) ? { FifoQueue: 'true' } : {}), ...attributes },
        }),
      );
      url = out.QueueUrl as string;
      outcome = 'created';
    } catch (error) {
      // Someone created it since the lookup, with other attributes.
      if (!(error instanceof QueueNameExists)) throw error;
      url = (await queueUrl(sqs, name)) as string;
    }
  }
  const found =
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: COMPARED })))
      .Attributes ?? {};
  return {
    url,
    attributes: found,
    report: {
      name,
      outcome,
      differences: outcome === 'exists' ? [...fifoDifferences(name, found), ...compare(found)] : [],
    },
  };
}

async function queueUrl(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (error) {
    if (error instanceof QueueDoesNotExist) return undefined;
    throw error;
  }
}
