import { BridgeError } from '../errors.js';

/**
 * Where imported records go. A request is not atomic: the target may apply a prefix of it before
 * failing, so every request the use case sends must be safe to send again.
 */
export interface ImportTarget {
  /**
   * Applies one request body, as planned by `planRequests`. Throws RecordsRejectedError when the
   * target refuses the content (sending it again cannot help); any other error is transient.
   */
  importRecords(body: string): Promise<void>;
}

/** The target refused a request because of what is in it (a bad record), not because of load. */
export class RecordsRejectedError extends BridgeError {
  constructor(
    /** The target's own name for the refusal, e.g. Convex's error code. */
    readonly code: string,
    readonly serverMessage: string,
    options?: ErrorOptions,
  ) {
    super(`records rejected (${code}): ${serverMessage}`, options);
    this.name = 'RecordsRejectedError';
  }
}

/** The indexes a keyed (deduplicating) import needs, created once and awaited while they backfill. */
export interface PrimaryKeyIndexAdmin {
  addPrimaryKeyIndexes(indexes: Readonly<Record<string, string[][]>>): Promise<void>;
  primaryKeyIndexesReady(tables: readonly string[]): Promise<boolean>;
}
