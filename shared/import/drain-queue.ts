import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type ImportDeps,
  type ImportOptions,
  type ImportResult,
  importBatch,
} from './import-batch.js';

export interface ImportTotals {
  readonly imported: number;
  readonly quarantined: number;
  /** Messages handed back to the queue for redelivery (transient failures). */
  readonly retried: number;
}

export interface QueueImportLoop {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly deps: ImportDeps;
  readonly options: ImportOptions;
  /** Keep long-polling after the queue is empty, until `signal` fires. */
  readonly follow: boolean;
  readonly signal: AbortSignal;
  readonly onBatch?: (result: ImportResult) => void;
}

/** Up to this many messages are gathered so one import request can carry many of them. */
const GATHER = 500;

/**
 * The importer outside Lambda: receive, import, delete what was imported or quarantined. Failed
 * messages are left for SQS to redeliver after their visibility timeout, as in Lambda.
 */
export async function runQueueImport(loop: QueueImportLoop): Promise<ImportTotals> {
  const { sqs, queueUrl, signal } = loop;
  let totals: ImportTotals = { imported: 0, quarantined: 0, retried: 0 };
  while (!signal.aborted) {
    const received = await gather(loop);
    if (received.length === 0) {
      if (loop.follow) continue;
      break;
    }
    const result = await importBatch(
      loop.deps,
      received.map((m) => ({
        id: m.MessageId as string,
        body: m.Body ?? '',
        ...(m.Attributes?.MessageGroupId !== undefined
          ? { groupId: m.Attributes.MessageGroupId }
          : {}),
      })),
      loop.options,
    );
    const failed = new Set(result.failedIds);
    const done = received.filter((m) => !failed.has(m.MessageId as string));
    for (let i = 0; i < done.length; i += 10) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done
            .slice(i, i + 10)
            .map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle as string })),
        }),
      );
    }
    totals = {
      imported: totals.imported + result.imported,
      quarantined: totals.quarantined + result.quarantined,
      retried: totals.retried + failed.size,
    };
    loop.onBatch?.(result);
    if (!loop.follow && failed.size > 0) break; // they come back after the visibility timeout
  }
  return totals;
}

async function gather(loop: QueueImportLoop): Promise<Message[]> {
  const received: Message[] = [];
  while (received.length < GATHER) {
    const out = await loop.sqs
      .send(
        new ReceiveMessageCommand({
          QueueUrl: loop.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: received.length > 0 ? 0 : loop.follow ? 5 : 1,
          VisibilityTimeout: 120,
          MessageSystemAttributeNames: ['MessageGroupId'],
        }),
        { abortSignal: loop.signal },
      )
      .catch((error: unknown) => {
        if (loop.signal.aborted) return { Messages: [] };
        throw error;
      });
    const got = out.Messages ?? [];
    received.push(...got);
    if (got.length === 0) break;
  }
  return received;
}
