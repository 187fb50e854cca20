import { BridgeError } from '../errors.js';

/** A message attribute as its producer set it (SQS allows at most 10 per message). */
export interface MessageAttribute {
  /** `String`, `Number`, `Binary`, optionally with a custom suffix (`String.json`). */
  readonly dataType: string;
  readonly stringValue?: string;
  readonly binaryValue?: Uint8Array;
}

export type MessageAttributes = Readonly<Record<string, MessageAttribute>>;

/** One queue message as delivered (Lambda event record or a receive outside Lambda). */
export interface InboundMessage {
  readonly id: string;
  readonly body: string;
  /** FIFO message group; order is kept per group. */
  readonly groupId?: string;
  /** How many times the queue has handed this message out, this delivery included. */
  readonly receiveCount?: number;
  /** The producer's own message attributes; kept beside ours when the message is quarantined. */
  readonly attributes?: MessageAttributes;
}

/** A received message and the handle that acknowledges (or postpones) it. */
export interface ReceivedMessage extends InboundMessage {
  readonly receipt: string;
}

/** A received message to keep invisible for `seconds` from now (its visibility timeout). */
export interface Postponement {
  readonly message: ReceivedMessage;
  readonly seconds: number;
}

/** A queue's own (approximate) counts, as SQS reports them. */
export interface QueueDepth {
  /** Ready to be received, or waiting behind an in-flight message of their FIFO group. */
  readonly visible: number;
  /** Received and neither deleted nor back yet (invisible until their visibility timeout ends). */
  readonly inFlight: number;
  /** Sent with a delay that has not passed. */
  readonly delayed: number;
}

/**
 * The import queue outside Lambda. A message that is received and not acknowledged comes back
 * after its visibility timeout, as Lambda's event source mapping does with failed items.
 */
export interface MessageQueue {
  /** Up to `max` messages; waits up to `waitSeconds` for the first one. */
  receive(max: number, waitSeconds: number, signal: AbortSignal): Promise<ReceivedMessage[]>;
  /** Deletes messages for good: imported or quarantined. */
  acknowledge(messages: readonly ReceivedMessage[]): Promise<void>;
  /**
   * Sets each message's visibility timeout, so it comes back only after its `seconds`. Resolves
   * with the ids it could not postpone (they come back after the timeout they had).
   */
  postpone(items: readonly Postponement[]): Promise<string[]>;
}

/**
 * The queue could not be reached or is throttling (network error, timeout, 5xx): worth trying
 * again later. Any other error from a queue (no such queue, access denied) is not.
 */
export class QueueUnavailableError extends BridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'QueueUnavailableError';
  }
}
