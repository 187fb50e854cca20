import { BridgeError } from '../errors.js';

/**
 * Where imported records go. A request is not atomic: the target may apply a prefix of it before
 * failing, so every request the use case sends must be safe to send again.
 */
export interface ImportTarget {
  /**
   * Applies one request body, as planned by `planRequests`. Throws RecordsRejectedError when the
   * target refuses the content (sending it again cannot help, but the other records may import),
   * TargetRefusedError when it refuses every request whatever its content (credentials,
   * permission, configuration), and anything else (TargetUnavailableError) when it may work later.
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

/**
 * Why the target refuses everything: `unauthorized` (a wrong or malformed key), `forbidden` (a
 * key without the permission), `refused` (any other answer that is not about one record: a wrong
 * URL, an unexpected answer, a setting the target does not accept).
 */
export type RefusalKind = 'unauthorized' | 'forbidden' | 'refused';

/**
 * The target refuses every request, whatever is in it: nothing will import until someone fixes
 * the setting named in the message. The importer stops the batch and backs its messages off.
 */
export class TargetRefusedError extends BridgeError {
  constructor(
    readonly kind: RefusalKind,
    /** The target's own name for the refusal (Convex's code, or `HTTP <status>`). */
    readonly code: string,
    /** What to fix, in our words, naming the setting. */
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TargetRefusedError';
  }
}

/** The target could not be reached, timed out or is overloaded (5xx, 429): worth trying later. */
export class TargetUnavailableError extends BridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TargetUnavailableError';
  }
}

/** The indexes a keyed (deduplicating) import needs, created once and awaited while they backfill. */
export interface PrimaryKeyIndexAdmin {
  addPrimaryKeyIndexes(indexes: Readonly<Record<string, string[][]>>): Promise<void>;
  primaryKeyIndexesReady(tables: readonly string[]): Promise<boolean>;
}
