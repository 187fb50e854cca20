import type { MessageQueue, ReceivedMessage } from '../ports/message-queue.js';
import type { LogSink } from '../ports/observability.js';

/** How long a message stays invisible after a halted batch, by how often it has been received. */
export interface BackoffPolicy {
  readonly baseSeconds: number;
  readonly factor: number;
  readonly maxSeconds: number;
}

/**
 * 30 s after the first receive, then 2 min, 8 min, 32 min, 2 h 8 min, 8 h 32 min, at most just
 * under SQS's 12 h limit on a message's visibility. With the default `maxReceiveCount` of 5, a
 * message of a batch that keeps halting reaches the DLQ after about 2 h 50 min instead of five
 * visibility timeouts (minutes): time for an alarm, and for someone to fix the key.
 */
export const HALT_BACKOFF: BackoffPolicy = {
  baseSeconds: 30,
  factor: 4,
  maxSeconds: 12 * 3600 - 300,
};

/** The visibility timeout for a message handed out `receiveCount` times (1 for the first). */
export function backoffSeconds(receiveCount: number, policy: BackoffPolicy = HALT_BACKOFF): number {
  const n = Math.max(1, Math.floor(receiveCount));
  return Math.round(
    Math.min(policy.maxSeconds, policy.baseSeconds * policy.factor ** Math.min(n - 1, 64)),
  );
}

/**
 * Keeps the messages listed in `ids` out of the queue for longer each time they are received,
 * so a batch that cannot import (a wrong key) is not redelivered every visibility timeout until
 * the queue gives up on it. Messages without a receive count count as received once.
 */
export async function backOff(
  queue: Pick<MessageQueue, 'postpone'>,
  received: readonly ReceivedMessage[],
  ids: readonly string[],
  log: LogSink,
  policy: BackoffPolicy = HALT_BACKOFF,
): Promise<void> {
  const wanted = new Set(ids);
  const items = received
    .filter((m) => wanted.has(m.id))
    .map((message) => ({ message, seconds: backoffSeconds(message.receiveCount ?? 1, policy) }));
  if (items.length === 0) return;
  let notPostponed: string[];
  try {
    notPostponed = await queue.postpone(items);
  } catch (error) {
    notPostponed = items.map((i) => i.message.id);
    log.error('could not back the messages off; they come back after the queue’s own timeout', {
      error: (error as Error).message,
    });
  }
  log.warn('backed off the messages of a halted batch', {
    messages: items.length - notPostponed.length,
    seconds: [...new Set(items.map((i) => i.seconds))].sort((a, b) => a - b),
    receiveCounts: [...new Set(items.map((i) => i.message.receiveCount ?? 1))].sort(
      (a, b) => a - b,
    ),
    ...(notPostponed.length > 0 ? { notPostponed: notPostponed.length } : {}),
  });
}
