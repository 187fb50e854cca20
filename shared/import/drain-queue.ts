import type { MessageQueue, ReceivedMessage } from '../ports/message-queue.js';
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

export interface DrainQueueOptions {
  readonly import: ImportOptions;
  /** Keep long-polling after the queue is empty, until `signal` fires. */
  readonly follow: boolean;
  readonly signal: AbortSignal;
  readonly onBatch?: (result: ImportResult) => void;
}

/** Up to this many messages are gathered so one import request can carry many of them. */
const GATHER = 500;

/**
 * The importer outside Lambda: receive, import, acknowledge what was imported or quarantined.
 * Failed messages are left for the queue to redeliver after their visibility timeout, as in Lambda.
 */
export async function drainQueue(
  queue: MessageQueue,
  deps: ImportDeps,
  options: DrainQueueOptions,
): Promise<ImportTotals> {
  const { signal } = options;
  let totals: ImportTotals = { imported: 0, quarantined: 0, retried: 0 };
  while (!signal.aborted) {
    const received = await gather(queue, options);
    if (received.length === 0) {
      if (options.follow) continue;
      break;
    }
    const result = await importBatch(deps, received, options.import);
    const failed = new Set(result.failedIds);
    await queue.acknowledge(received.filter((m) => !failed.has(m.id)));
    totals = {
      imported: totals.imported + result.imported,
      quarantined: totals.quarantined + result.quarantined,
      retried: totals.retried + failed.size,
    };
    options.onBatch?.(result);
    if (!options.follow && failed.size > 0) break; // they come back after the visibility timeout
  }
  return totals;
}

async function gather(queue: MessageQueue, options: DrainQueueOptions): Promise<ReceivedMessage[]> {
  const received: ReceivedMessage[] = [];
  while (received.length < GATHER) {
    const wait = received.length > 0 ? 0 : options.follow ? 5 : 1;
    const got = await queue
      .receive(GATHER - received.length, wait, options.signal)
      .catch((error: unknown) => {
        if (options.signal.aborted) return [];
        throw error;
      });
    received.push(...got);
    if (got.length === 0) break;
  }
  return received;
}
