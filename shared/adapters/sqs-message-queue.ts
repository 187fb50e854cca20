import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { MessageQueue, ReceivedMessage } from '../ports/message-queue.js';

/** Long enough for a gathered batch to be imported before SQS hands its messages out again. */
const VISIBILITY_TIMEOUT_S = 120;

/** The import queue read directly (CLI and local mode), as Lambda's event source mapping would. */
export class SqsMessageQueue implements MessageQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async receive(max: number, waitSeconds: number, signal: AbortSignal): Promise<ReceivedMessage[]> {
    const out = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: VISIBILITY_TIMEOUT_S,
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
      { abortSignal: signal },
    );
    return (out.Messages ?? []).map((m) => ({
      id: m.MessageId as string,
      body: m.Body ?? '',
      receipt: m.ReceiptHandle as string,
      ...(m.Attributes?.MessageGroupId !== undefined
        ? { groupId: m.Attributes.MessageGroupId }
        : {}),
    }));
  }

  async acknowledge(messages: readonly ReceivedMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: messages
            .slice(i, i + 10)
            .map((m, j) => ({ Id: String(j), ReceiptHandle: m.receipt })),
        }),
      );
    }
  }
}
