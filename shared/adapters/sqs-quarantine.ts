import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface QuarantineItem {
  /** The SQS message id of the original, kept as an attribute. */
  readonly id: string;
  readonly body: string;
  readonly code: string;
  readonly reason: string;
  readonly table?: string;
  readonly groupId?: string;
}

/** Parks messages that can never succeed. Resolves with the ids that could NOT be parked. */
export interface Quarantine {
  send(items: readonly QuarantineItem[]): Promise<string[]>;
}

const attr = (value: string) => ({ DataType: 'String', StringValue: value.slice(0, 1024) || '-' });

/** The dead-letter queue, with the reason as message attributes; the body is kept unchanged. */
export class SqsQuarantine implements Quarantine {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(items: readonly QuarantineItem[]): Promise<string[]> {
    const failed: string[] = [];
    const fifo = this.queueUrl.endsWith('.fifo');
    for (let i = 0; i < items.length; i += 10) {
      const chunk = items.slice(i, i + 10);
      try {
        const out = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: chunk.map((item, j) => ({
              Id: String(j),
              MessageBody: item.body === '' ? '(empty body)' : item.body,
              MessageAttributes: {
                'bridge-error-code': attr(item.code),
                'bridge-error-message': attr(item.reason),
                'bridge-table': attr(item.table ?? '-'),
                'bridge-source-message-id': attr(item.id),
              },
              ...(fifo
                ? {
                    MessageGroupId: item.groupId ?? 'quarantine',
                    MessageDeduplicationId:
                      item.id.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 128) || String(j),
                  }
                : {}),
            })),
          }),
        );
        for (const f of out.Failed ?? []) failed.push((chunk[Number(f.Id)] as QuarantineItem).id);
      } catch {
        failed.push(...chunk.map((c) => c.id));
      }
    }
    return failed;
  }
}
