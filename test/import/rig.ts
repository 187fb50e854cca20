import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSMessageAttributes } from 'aws-lambda';
import { beforeAll } from 'vitest';
import { ConvexImportTarget } from '../../shared/adapters/convex-import-target.js';
import { SqsQuarantine } from '../../shared/adapters/sqs-quarantine.js';
import { createSqsClient } from '../../shared/aws/clients.js';
import {
  type ImportDeps,
  type ImportOptions,
  type InboundMessage,
  importBatch,
} from '../../shared/import/import-batch.js';
import type { ImportSettings } from '../../shared/import/import-message.js';
import { DEFAULT_REQUEST_LIMITS } from '../../shared/import/plan-requests.js';
import { PrimaryKeyIndexes } from '../../shared/import/primary-key-indexes.js';
import { type LogSink, MemoryMetrics } from '../../shared/ports/observability.js';
import type { Knobs } from '../../simulator/knobs.js';
import { useSimulator } from '../helpers/simulator.js';

export interface LoggedLine {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

export function useImportRig(knobs: Partial<Knobs> = {}) {
  const f = useSimulator(knobs);
  const sqs = createSqsClient();
  let dlqUrl = '';
  beforeAll(async () => {
    dlqUrl = (
      await sqs.send(new CreateQueueCommand({ QueueName: `dlq-${randomUUID().slice(0, 8)}` }))
    ).QueueUrl as string;
  });
  const lines: LoggedLine[] = [];
  const log: LogSink = {
    info: (message, fields) => lines.push({ level: 'info', message, fields }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields }),
    error: (message, fields) => lines.push({ level: 'error', message, fields }),
  };
  let indexes: PrimaryKeyIndexes | undefined;
  const deps = (overrides: Partial<ImportDeps> = {}): ImportDeps => {
    const client = f.client({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } });
    indexes ??= new PrimaryKeyIndexes(client, 20);
    return {
      target: new ConvexImportTarget(client),
      indexes,
      quarantine: new SqsQuarantine(sqs, dlqUrl),
      metrics: new MemoryMetrics(),
      log,
      ...overrides,
    };
  };
  const options = (
    settings: ImportSettings,
    overrides: Partial<ImportOptions> = {},
  ): ImportOptions => ({
    settings,
    limits: DEFAULT_REQUEST_LIMITS,
    remainingMs: () => 60_000,
    safetyMarginMs: 1_000,
    indexReadyTimeoutMs: 5_000,
    ...overrides,
  });
  let seq = 0;
  const inbound = (body: unknown, groupId?: string): InboundMessage => ({
    id: `m-${++seq}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(groupId !== undefined ? { groupId } : {}),
  });
  /** Everything in the DLQ, with its attributes. */
  const drainDlq = async (url?: string) => {
    const out: { body: string; attributes: Record<string, string> }[] = [];
    for (let empty = 0; empty < 2; ) {
      const page = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url ?? dlqUrl,
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          VisibilityTimeout: 300,
        }),
      );
      const messages = page.Messages ?? [];
      if (messages.length === 0) empty++;
      for (const m of messages) {
        out.push({
          body: m.Body ?? '',
          attributes: Object.fromEntries(
            Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? '']),
          ),
        });
      }
    }
    return out;
  };
  return {
    f,
    sqs,
    deps,
    options,
    inbound,
    drainDlq,
    lines,
    run: (
      batch: InboundMessage[],
      settings: ImportSettings,
      o: Partial<ImportOptions> = {},
      d: Partial<ImportDeps> = {},
    ) => importBatch(deps(d), batch, options(settings, o)),
    dlq: () => dlqUrl,
  };
}

/** The state a table must end in: replay messages in order, last write per key wins. */
export function expectedState(
  messages: readonly { table: string; op?: string; data: Record<string, unknown> }[],
  key: (data: Record<string, unknown>) => string,
) {
  const tables = new Map<string, Map<string, Record<string, unknown>>>();
  for (const m of messages) {
    const rows = tables.get(m.table) ?? new Map<string, Record<string, unknown>>();
    tables.set(m.table, rows);
    if (m.op === 'delete') rows.delete(key(m.data));
    else rows.set(key(m.data), m.data);
  }
  return tables;
}

export function userFields(doc: Record<string, unknown>): Record<string, unknown> {
  const { _id, _creationTime, ...rest } = doc;
  return rest;
}

export interface QueuePair {
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly queueArn: string;
}

/** An import queue and its DLQ in moto; the queue moves a message there on its `maxReceiveCount + 1`th receive. */
export async function createQueuePair(
  sqs: SQSClient,
  options: { fifo?: boolean; maxReceiveCount?: number; visibilityTimeout?: number } = {},
): Promise<QueuePair> {
  const id = randomUUID().slice(0, 8);
  const suffix = options.fifo ? '.fifo' : '';
  const fifo = options.fifo ? { FifoQueue: 'true' } : {};
  const dlqUrl = (
    await sqs.send(
      new CreateQueueCommand({ QueueName: `dlq-${id}${suffix}`, Attributes: { ...fifo } }),
    )
  ).QueueUrl as string;
  const arnOf = async (url: string) =>
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })))
      .Attributes?.QueueArn as string;
  const queueUrl = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: `import-${id}${suffix}`,
        Attributes: {
          ...fifo,
          VisibilityTimeout: String(options.visibilityTimeout ?? 120),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: await arnOf(dlqUrl),
            maxReceiveCount: options.maxReceiveCount ?? 5,
          }),
        },
      }),
    )
  ).QueueUrl as string;
  return { queueUrl, dlqUrl, queueArn: await arnOf(queueUrl) };
}

/** The queue's counts, as `convex-bridge import` reads them. */
export async function depthOf(sqs: SQSClient, queueUrl: string) {
  const a =
    (
      await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      )
    ).Attributes ?? {};
  return {
    visible: Number(a.ApproximateNumberOfMessages),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible),
  };
}

/** Receives up to `max` messages as Lambda's event source mapping would, and builds its event. */
export async function receiveAsLambda(
  sqs: SQSClient,
  pair: QueuePair,
  max = 10,
): Promise<SQSEvent> {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: pair.queueUrl,
      MaxNumberOfMessages: max,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return {
    Records: (out.Messages ?? []).map((m) => ({
      messageId: m.MessageId as string,
      receiptHandle: m.ReceiptHandle as string,
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: m.Attributes?.SentTimestamp ?? '0',
        SenderId: m.Attributes?.SenderId ?? 'x',
        ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
        ...(m.Attributes?.MessageGroupId !== undefined
          ? { MessageGroupId: m.Attributes.MessageGroupId }
          : {}),
      },
      messageAttributes: Object.fromEntries(
        Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
          k,
          {
            dataType: v.DataType as string,
            ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
            ...(v.BinaryValue !== undefined
              ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') }
              : {}),
          },
        ]),
      ) as SQSMessageAttributes,
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: pair.queueArn,
      awsRegion: 'us-east-1',
    })),
  };
}
