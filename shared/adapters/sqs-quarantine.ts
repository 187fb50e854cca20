import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { MessageAttributes, QueueDepth } from '../ports/message-queue.js';
import type {
  DeadLetterQueue,
  HeldDeadLetter,
  Quarantine,
  QuarantineFailure,
  QuarantineItem,
} from '../ports/quarantine.js';
import {
  asQueueError,
  fromSqsAttributes,
  SqsMessageQueue,
  toSqsAttributes,
} from './sqs-message-queue.js';

const attr = (value: string) => ({ DataType: 'String', StringValue: value.slice(0, 1024) || '-' });

/** Our attributes on a parked message; every name starts with `bridge-`. */
export const QUARANTINE_ATTRIBUTES = {
  code: 'bridge-error-code',
  message: 'bridge-error-message',
  table: 'bridge-table',
  sourceMessageId: 'bridge-source-message-id',
} as const;
const OURS = Object.keys(QUARANTINE_ATTRIBUTES).length;
const isOurs = (name: string) => name.startsWith('bridge-');

/** SQS's limit of message attributes per message. */
const MAX_ATTRIBUTES = 10;

/** The code of a dead letter the queue moved itself (after maxReceiveCount), which carries no reason. */
export const MOVED_BY_QUEUE = 'MaxReceiveCount';

/** SQS takes at most 10 entries and 1 MiB per batch (bodies plus attributes); keep a margin. */
const MAX_BATCH_BYTES = 1024 * 1024 - 16 * 1024;

/** Splits items into SendMessageBatch-sized chunks: at most 10 entries and under 1 MiB each. */
export function chunkForSqs<T>(
  items: readonly T[],
  bodyOf: (item: T) => string,
  attributeBytes: number | ((item: T) => number) = 4 * 1024,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const extra = typeof attributeBytes === 'number' ? attributeBytes : attributeBytes(item);
    const size = Buffer.byteLength(bodyOf(item)) + extra;
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

/** Bytes SQS counts for message attributes: names, types and values. */
function attributeSize(attributes: MessageAttributes | undefined): number {
  let bytes = 0;
  for (const [name, a] of Object.entries(attributes ?? {})) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(a.dataType);
    bytes += a.stringValue !== undefined ? Buffer.byteLength(a.stringValue) : 0;
    bytes += a.binaryValue?.byteLength ?? 0;
  }
  return bytes;
}

/**
 * The producer's attributes that fit beside ours: at most 10 in all, so six of the producer's,
 * by name; earlier `bridge-*` attributes (a message parked before) give way to the new ones.
 */
function producerAttributes(attributes: MessageAttributes | undefined): {
  kept: MessageAttributes;
  dropped: string[];
} {
  const names = Object.keys(attributes ?? {})
    .filter((n) => !isOurs(n))
    .sort();
  const room = MAX_ATTRIBUTES - OURS;
  const kept = Object.fromEntries(
    names.slice(0, room).map((n) => [n, (attributes as MessageAttributes)[n]]),
  ) as MessageAttributes;
  return { kept, dropped: names.slice(room) };
}

/** A FIFO deduplication id from a message id: at most 128 of [A-Za-z0-9_-]. */
const dedupId = (id: string, fallback: string) =>
  id.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 128) || fallback;

/**
 * The dead-letter queue, with the reason as message attributes beside the producer's own; the
 * body is kept unchanged.
 */
export class SqsQuarantine implements Quarantine {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(items: readonly QuarantineItem[]): Promise<QuarantineFailure[]> {
    const failed: QuarantineFailure[] = [];
    const fifo = this.queueUrl.endsWith('.fifo');
    const entries = items.map((item) => {
      const { kept, dropped } = producerAttributes(item.attributes);
      const reason =
        dropped.length > 0
          ? `${item.reason} (producer attributes dropped (SQS allows 10): ${dropped.join(', ')})`
          : item.reason;
      return { item, kept, reason };
    });
    for (const chunk of chunkForSqs(
      entries,
      (e) => e.item.body,
      (e) => 4 * 1024 + attributeSize(e.kept),
    )) {
      try {
        const out = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: chunk.map(({ item, kept, reason }, j) => ({
              Id: String(j),
              MessageBody: item.body === '' ? '(empty body)' : item.body,
              MessageAttributes: {
                ...toSqsAttributes(kept),
                [QUARANTINE_ATTRIBUTES.code]: attr(item.code),
                [QUARANTINE_ATTRIBUTES.message]: attr(reason),
                [QUARANTINE_ATTRIBUTES.table]: attr(item.table ?? '-'),
                [QUARANTINE_ATTRIBUTES.sourceMessageId]: attr(item.id),
              },
              ...(fifo
                ? {
                    MessageGroupId: item.groupId ?? 'quarantine',
                    MessageDeduplicationId: dedupId(item.id, String(j)),
                  }
                : {}),
            })),
          }),
        );
        for (const f of out.Failed ?? []) {
          failed.push({
            id: (chunk[Number(f.Id)] as (typeof entries)[number]).item.id,
            reason: `${f.Code ?? 'Failed'}: ${f.Message ?? ''}`,
          });
        }
      } catch (error) {
        failed.push(
          ...chunk.map((c) => ({
            id: c.item.id,
            reason: `${(error as Error).name}: ${(error as Error).message}`,
          })),
        );
      }
    }
    return failed;
  }
}

/**
 * The DLQ as a tool (`convex-bridge dlq`): browse by receiving with a visibility timeout, move
 * back with receive → send → delete, keeping the body, the producer's attributes and the FIFO
 * group. (SQS's StartMessageMoveTask would move a whole DLQ server-side, but it can neither
 * filter nor drop our attributes, and moto, the local stand-in, does not implement it.)
 */
export class SqsDeadLetterQueue implements DeadLetterQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly dlqUrl: string,
    /** Where `moveBack` sends messages: the import queue. */
    private readonly sourceQueueUrl: string,
  ) {}

  async hold(holdSeconds: number, signal?: AbortSignal): Promise<HeldDeadLetter[]> {
    const held = new Map<string, HeldDeadLetter>();
    // Short polls while messages come; one long poll (which asks every SQS host) to be sure.
    for (let wait = 0; wait <= 1; ) {
      const out = await this.sqs
        .send(
          new ReceiveMessageCommand({
            QueueUrl: this.dlqUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: wait,
            VisibilityTimeout: holdSeconds,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          signal ? { abortSignal: signal } : {},
        )
        .catch((error: unknown) => {
          throw asQueueError(error, 'ReceiveMessage', this.dlqUrl);
        });
      const messages = out.Messages ?? [];
      if (messages.length === 0) wait++;
      else wait = 0;
      for (const m of messages) held.set(m.MessageId as string, deadLetterOf(m));
    }
    return [...held.values()];
  }

  async release(messages: readonly HeldDeadLetter[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      await this.sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.dlqUrl,
            Entries: messages.slice(i, i + 10).map((m, j) => ({
              Id: String(j),
              ReceiptHandle: m.receipt,
              VisibilityTimeout: 0,
            })),
          }),
        )
        .catch((error: unknown) => {
          throw asQueueError(error, 'ChangeMessageVisibilityBatch', this.dlqUrl);
        });
    }
  }

  async moveBack(messages: readonly HeldDeadLetter[]): Promise<QuarantineFailure[]> {
    const failed: QuarantineFailure[] = [];
    const fifo = this.sourceQueueUrl.endsWith('.fifo');
    for (const chunk of chunkForSqs(
      messages,
      (m) => m.body,
      (m) => 512 + attributeSize(m.attributes),
    )) {
      let sent: HeldDeadLetter[] = [];
      try {
        const out = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.sourceQueueUrl,
            Entries: chunk.map((m, j) => ({
              Id: String(j),
              MessageBody: m.body,
              ...(Object.keys(m.attributes).length > 0
                ? { MessageAttributes: toSqsAttributes(m.attributes) }
                : {}),
              // The DLQ's id as the deduplication id: a redrive run again after a crash
              // between send and delete does not queue the message twice (within 5 minutes).
              ...(fifo
                ? {
                    MessageGroupId: m.groupId ?? 'redrive',
                    MessageDeduplicationId: dedupId(m.id, String(j)),
                  }
                : {}),
            })),
          }),
        );
        const refused = new Map((out.Failed ?? []).map((f) => [Number(f.Id), f]));
        for (const [j, f] of refused) {
          failed.push({
            id: (chunk[j] as HeldDeadLetter).id,
            reason: `${f.Code ?? 'Failed'}: ${f.Message ?? ''}`,
          });
        }
        sent = chunk.filter((_, j) => !refused.has(j));
      } catch (error) {
        const e = asQueueError(error, 'SendMessageBatch', this.sourceQueueUrl) as Error;
        failed.push(...chunk.map((m) => ({ id: m.id, reason: e.message })));
        continue;
      }
      if (sent.length === 0) continue;
      try {
        const out = await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.dlqUrl,
            Entries: sent.map((m, j) => ({ Id: String(j), ReceiptHandle: m.receipt })),
          }),
        );
        for (const f of out.Failed ?? []) {
          failed.push({
            id: (sent[Number(f.Id)] as HeldDeadLetter).id,
            reason: `sent back, but still in the DLQ (${f.Code ?? 'Failed'}: ${f.Message ?? ''})`,
          });
        }
      } catch (error) {
        const e = asQueueError(error, 'DeleteMessageBatch', this.dlqUrl) as Error;
        failed.push(
          ...sent.map((m) => ({
            id: m.id,
            reason: `sent back, but still in the DLQ (${e.message})`,
          })),
        );
      }
    }
    return failed;
  }

  async purge(): Promise<void> {
    await this.sqs
      .send(new PurgeQueueCommand({ QueueUrl: this.dlqUrl }))
      .catch((error: unknown) => {
        throw asQueueError(error, 'PurgeQueue', this.dlqUrl);
      });
  }

  depth(): Promise<QueueDepth> {
    return new SqsMessageQueue(this.sqs, this.dlqUrl).depth();
  }
}

const stringOf = (attributes: Record<string, MessageAttributeValue>, name: string) => {
  const value = attributes[name]?.StringValue;
  return value === undefined || value === '-' ? undefined : value;
};

function deadLetterOf(m: Message): HeldDeadLetter {
  const all = m.MessageAttributes ?? {};
  const producer = Object.fromEntries(Object.entries(all).filter(([name]) => !isOurs(name)));
  const code = stringOf(all, QUARANTINE_ATTRIBUTES.code);
  const table = stringOf(all, QUARANTINE_ATTRIBUTES.table);
  const groupId = m.Attributes?.MessageGroupId;
  return {
    id: m.MessageId as string,
    receipt: m.ReceiptHandle as string,
    body: m.Body ?? '',
    code: code ?? MOVED_BY_QUEUE,
    reason:
      stringOf(all, QUARANTINE_ATTRIBUTES.message) ??
      (code === undefined
        ? 'moved here by the queue after maxReceiveCount receives without success (a failing or halted importer: see its logs)'
        : ''),
    ...(table !== undefined ? { table } : {}),
    sourceMessageId:
      stringOf(all, QUARANTINE_ATTRIBUTES.sourceMessageId) ?? (m.MessageId as string),
    ...(groupId !== undefined ? { groupId } : {}),
    sentAt: Number(m.Attributes?.SentTimestamp ?? 0),
    attributes: fromSqsAttributes(producer) ?? {},
  };
}
