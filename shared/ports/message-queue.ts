/** One queue message as delivered (Lambda event record or a receive outside Lambda). */
export interface InboundMessage {
  readonly id: string;
  readonly body: string;
  /** FIFO message group; order is kept per group. */
  readonly groupId?: string;
}

/** A received message and the handle that acknowledges it. */
export interface ReceivedMessage extends InboundMessage {
  readonly receipt: string;
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
}
