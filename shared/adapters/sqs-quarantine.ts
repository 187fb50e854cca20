import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Quarantine, QuarantineFailure, QuarantineItem } from '../ports/quarantine.js';

const attr = (value: string) => ({ DataType: 'String', StringValue: value.slice(0, 1024) || '-' });

/** SQS takes at most 10 entries and 1 MiB per batch (bodies plus attributes); keep a margin. */
const MAX_BATCH_BYTES = 1024 * 1024 - 16 * 1024;

/** Splits items into SendMessageBatch-sized chunks: at most 10 entries and under 1 MiB each. */
export function chunkForSqs<T>(
  items: readonly T[],
  bodyOf: (item: T) => string,
  attributeBytes = 4 * 1024,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(bodyOf(item)) + attributeBytes;
    if (current.length > 0 && (current.length >= 10 || bytes + size > MAX_BATCH_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The dead-letter queue, with the reason as message attributes; the body is kept unchanged. */
export class SqsQuarantine implements Quarantine {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(items: readonly QuarantineItem[]): Promise<QuarantineFailure[]> {
    const failed: QuarantineFailure[] = [];
    const fifo = this.queueUrl.endsWith('.fifo');
    for (const chunk of chunkForSqs(items, (item) => item.body)) {
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
        for (const f of out.Failed ?? []) {
          failed.push({
            id: (chunk[Number(f.Id)] as QuarantineItem).id,
            reason: `${f.Code ?? 'Failed'}: ${f.Message ?? ''}`,
          });
        }
      } catch (error) {
        failed.push(
          ...chunk.map((c) => ({
            id: c.id,
            reason: `${(error as Error).name}: ${(error as Error).message}`,
          })),
        );
      }
    }
    return failed;
  }
}
