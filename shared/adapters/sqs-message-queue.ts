import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type MessageAttributes,
  type MessageQueue,
  type Postponement,
  type QueueDepth,
  QueueUnavailableError,
  type ReceivedMessage,
} from '../ports/message-queue.js';

/** Long enough for a gathered batch to be imported before SQS hands its messages out again. */
const VISIBILITY_TIMEOUT_S = 120;

/** SQS's own ceiling on a message's visibility timeout, counted from its receive. */
const MAX_VISIBILITY_S = 12 * 3600;

/** SDK message attributes → the port's (string and binary values; list values are unused by SQS). */
export function fromSqsAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): MessageAttributes | undefined {
  if (!attributes || Object.keys(attributes).length === 0) return undefined;
  return Object.fromEntries(
    Object.entries(attributes).map(([name, v]) => [
      name,
      {
        dataType: v.DataType ?? 'String',
        ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
        ...(v.BinaryValue !== undefined ? { binaryValue: v.BinaryValue } : {}),
      },
    ]),
  );
}

/** The port's message attributes → the SDK's. */
export function toSqsAttributes(
  attributes: MessageAttributes,
): Record<string, MessageAttributeValue> {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, a]) => [
      name,
      {
        DataType: a.dataType,
        ...(a.stringValue !== undefined ? { StringValue: a.stringValue } : {}),
        ...(a.binaryValue !== undefined ? { BinaryValue: a.binaryValue } : {}),
      },
    ]),
  );
}

/**
 * A failure worth waiting out: the request never got an answer (connection refused, reset,
 * timeout), or SQS answered 5xx or throttled. Anything else (no such queue, access denied, a bad
 * parameter) is not, and is thrown as it is.
 */
export function asQueueError(error: unknown, operation: string, queueUrl: string): unknown {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.name === 'AbortError') return error;
  const status = e?.$metadata?.httpStatusCode;
  const unavailable =
    status === undefined ||
    status >= 500 ||
    status === 429 ||
    /Throttl|ServiceUnavailable|RequestTimeout/.test(e?.name ?? '');
  if (!unavailable) return error;
  const text = e?.message || e?.name || String(error);
  // The SDK client may already name the service and operation; say it once.
  const queue = queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
  return new QueueUnavailableError(
    text.startsWith('SQS ') ? text : `SQS ${operation} on queue ${queue} failed: ${text}`,
    { cause: error },
  );
}

/** The URL of the queue an ARN names (`arn:aws:sqs:<region>:<account>:<name>`), e.g. a Lambda event source's. */
export async function queueUrlFromArn(sqs: SQSClient, arn: string): Promise<string> {
  const [, , , , account, name] = arn.split(':');
  if (!account || !name) throw new Error(`not an SQS queue ARN: ${arn}`);
  const out = await sqs.send(
    new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }),
  );
  return out.QueueUrl as string;
}

/** The import queue read directly (CLI and local mode), as Lambda's event source mapping would. */
export class SqsMessageQueue implements MessageQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async receive(max: number, waitSeconds: number, signal: AbortSignal): Promise<ReceivedMessage[]> {
    const out = await this.sqs
      .send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: Math.min(10, max),
          WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: VISIBILITY_TIMEOUT_S,
          MessageSystemAttributeNames: ['MessageGroupId', 'ApproximateReceiveCount'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: signal },
      )
      .catch((error: unknown) => {
        throw asQueueError(error, 'ReceiveMessage', this.queueUrl);
      });
    return (out.Messages ?? []).map((m) => {
      const attributes = fromSqsAttributes(m.MessageAttributes);
      const count = Number(m.Attributes?.ApproximateReceiveCount);
      return {
        id: m.MessageId as string,
        body: m.Body ?? '',
        receipt: m.ReceiptHandle as string,
        ...(m.Attributes?.MessageGroupId !== undefined
          ? { groupId: m.Attributes.MessageGroupId }
          : {}),
        ...(Number.isFinite(count) && count > 0 ? { receiveCount: count } : {}),
        ...(attributes ? { attributes } : {}),
      };
    });
  }

  async acknowledge(messages: readonly ReceivedMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      await this.sqs
        .send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: messages
              .slice(i, i + 10)
              .map((m, j) => ({ Id: String(j), ReceiptHandle: m.receipt })),
          }),
        )
        .catch((error: unknown) => {
          throw asQueueError(error, 'DeleteMessageBatch', this.queueUrl);
        });
    }
  }

  async postpone(items: readonly Postponement[]): Promise<string[]> {
    const failed: string[] = [];
    for (let i = 0; i < items.length; i += 10) {
      const chunk = items.slice(i, i + 10);
      const out = await this.sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: chunk.map((item, j) => ({
              Id: String(j),
              ReceiptHandle: item.message.receipt,
              // Counted from the receive, so a few seconds under SQS's ceiling.
              VisibilityTimeout: Math.max(0, Math.min(MAX_VISIBILITY_S - 60, item.seconds)),
            })),
          }),
        )
        .catch((error: unknown) => {
          throw asQueueError(error, 'ChangeMessageVisibilityBatch', this.queueUrl);
        });
      for (const f of out.Failed ?? []) failed.push(chunk[Number(f.Id)]?.message.id ?? '');
    }
    return failed;
  }

  async depth(): Promise<QueueDepth> {
    const out = await this.sqs
      .send(
        new GetQueueAttributesCommand({
          QueueUrl: this.queueUrl,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      )
      .catch((error: unknown) => {
        throw asQueueError(error, 'GetQueueAttributes', this.queueUrl);
      });
    const a = out.Attributes ?? {};
    const n = (v: string | undefined) => Number(v ?? 0) || 0;
    return {
      visible: n(a.ApproximateNumberOfMessages),
      inFlight: n(a.ApproximateNumberOfMessagesNotVisible),
      delayed: n(a.ApproximateNumberOfMessagesDelayed),
    };
  }
}
