import type { MessageAttributes, QueueDepth } from './message-queue.js';

/** A message that can never be imported, with the reason it is parked. */
export interface QuarantineItem {
  /** The queue's id of the original message, kept with it. */
  readonly id: string;
  readonly body: string;
  readonly code: string;
  readonly reason: string;
  readonly table?: string;
  readonly groupId?: string;
  /** The producer's own message attributes, parked beside ours (as many as the queue allows). */
  readonly attributes?: MessageAttributes;
}

export interface QuarantineFailure {
  readonly id: string;
  readonly reason: string;
}

/** Parks messages that can never succeed. Resolves with the ones that could NOT be parked, and why. */
export interface Quarantine {
  send(items: readonly QuarantineItem[]): Promise<QuarantineFailure[]>;
}

/** A message in the dead-letter queue, as the DLQ commands see it. */
export interface DeadLetter {
  /** The DLQ's id of the message. */
  readonly id: string;
  readonly body: string;
  /**
   * Why it is here: the importer's code (`UnknownTable`, `ConvexRejected`, …), or
   * `MaxReceiveCount` when the queue moved it after too many receives, which attaches no reason.
   */
  readonly code: string;
  readonly reason: string;
  /** From our attribute, else from the body when it names one. */
  readonly table?: string;
  /** The id it had in the import queue. */
  readonly sourceMessageId?: string;
  readonly groupId?: string;
  /** When it was sent to the DLQ (quarantined), or first sent (moved by the queue), in ms. */
  readonly sentAt: number;
  /** The producer's own attributes (ours removed). */
  readonly attributes: MessageAttributes;
}

/** A dead letter received from the DLQ and invisible there until released, moved or purged. */
export interface HeldDeadLetter extends DeadLetter {
  readonly receipt: string;
}

/**
 * The dead-letter queue as a tool. Browsing receives messages and keeps them invisible for a
 * while, so each is seen once; whoever holds them releases or moves them.
 */
export interface DeadLetterQueue {
  /** Receives every message it can see, each kept invisible for `holdSeconds`. */
  hold(holdSeconds: number, signal?: AbortSignal): Promise<HeldDeadLetter[]>;
  /** Makes held messages visible again at once. */
  release(messages: readonly HeldDeadLetter[]): Promise<void>;
  /**
   * Sends each held message back to the import queue (body, the producer's attributes, its FIFO
   * group) and then deletes it here. Resolves with those that could not be moved, and why.
   */
  moveBack(messages: readonly HeldDeadLetter[]): Promise<QuarantineFailure[]>;
  /** Deletes every message in it. */
  purge(): Promise<void>;
  depth(): Promise<QueueDepth>;
}
