import { BridgeError } from '../errors.js';

/** What the caller should do about a failed Convex call. */
export type FailureClass = 'retryable' | 'resync' | 'fatal';

export interface ConvexErrorDetails {
  /** API path such as `/api/document_deltas`; never the deployment host. */
  readonly endpoint: string;
  readonly status?: number;
  /** Convex's error `code` (e.g. `InvalidWindowToReadDocuments`) when the server sent one. */
  readonly code?: string;
  /** Convex's human `message`, with any secret redacted. */
  readonly serverMessage?: string;
}

/** Base of every failed Convex call. Branch on the subclass, never on `name`. */
export class ConvexApiError extends BridgeError {
  readonly endpoint: string;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly serverMessage: string | undefined;
  readonly failure: FailureClass = 'fatal';

  constructor(message: string, details: ConvexErrorDetails, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConvexApiError';
    this.endpoint = details.endpoint;
    this.status = details.status;
    this.code = details.code;
    this.serverMessage = details.serverMessage;
  }
}

/** Transient: network failure, timeout, truncated body, 408/429/5xx. Safe to retry with backoff. */
export class RetryableConvexError extends ConvexApiError {
  override readonly failure = 'retryable';
  constructor(message: string, details: ConvexErrorDetails, options?: ErrorOptions) {
    super(message, details, options);
    this.name = 'RetryableConvexError';
  }
}

/** The cursor or snapshot is out of Convex's window; only a fresh snapshot can continue. */
export class ResyncRequiredError extends ConvexApiError {
  override readonly failure = 'resync';
  constructor(message: string, details: ConvexErrorDetails, options?: ErrorOptions) {
    super(message, details, options);
    this.name = 'ResyncRequiredError';
  }
}

/** Retrying cannot help: bad key, permission, plan, bad request, unknown route. */
export class FatalConvexError extends ConvexApiError {
  constructor(message: string, details: ConvexErrorDetails, options?: ErrorOptions) {
    super(message, details, options);
    this.name = 'FatalConvexError';
  }
}

/** A 2xx answer whose body does not have the documented shape. */
export class MalformedResponseError extends FatalConvexError {
  constructor(message: string, details: ConvexErrorDetails, options?: ErrorOptions) {
    super(message, details, options);
    this.name = 'MalformedResponseError';
  }
}

/**
 * The deployment has no Data Sync routes (404): a self-hosted backend older than Data Sync
 * (docs/convex-api.md §1.1, §5). The source choice falls back to the legacy endpoints on it.
 */
export class DataSyncNotServedError extends FatalConvexError {
  constructor(message: string, details: ConvexErrorDetails, options?: ErrorOptions) {
    super(message, details, options);
    this.name = 'DataSyncNotServedError';
  }
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524]);
// DataSyncCursorExpired is Data Sync's InvalidWindowToReadDocuments (docs/convex-api.md §5).
const RESYNC_CODES = new Set([
  'InvalidWindowToReadDocuments',
  'SnapshotTooOld',
  'DataSyncCursorExpired',
]);

/** Maps an HTTP failure to its class; see docs/convex-api.md §8 and §10 for why each status lands where. */
export function classifyHttpFailure(status: number, code: string | undefined): FailureClass {
  if (status === 409 || (code !== undefined && RESYNC_CODES.has(code))) return 'resync';
  if (RETRYABLE_STATUS.has(status)) return 'retryable';
  return 'fatal';
}
