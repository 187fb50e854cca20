import { BridgeError } from '../errors.js';
import type { ChangeEvent, ChangeOp, DocRef } from '../events/change-event.js';

export interface PublishResult {
  readonly records: number;
  readonly bytes: number;
  readonly calls: number;
  /** Entries sent again after a per-record or whole-call failure. */
  readonly retriedRecords: number;
  readonly throttledRecords: number;
  readonly claimChecks: number;
  readonly byOp: Readonly<Record<ChangeOp, number>>;
}

/**
 * Publishes change events durably: resolves only when every event is in the stream, with each
 * document's events in the order given. Throws PublishError when that cannot be done.
 */
export interface EventPublisher {
  publish(events: readonly ChangeEvent[], signal?: AbortSignal): Promise<PublishResult>;
}

/** Some events could not be published; nothing after them may be checkpointed. */
export class PublishError extends BridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PublishError';
  }
}

/** Stores an event too large for one stream record; the key is deterministic, so replays overwrite. */
export interface ClaimCheckStore {
  put(key: string, body: Uint8Array): Promise<DocRef>;
}
