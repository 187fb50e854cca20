/** What the SDK and Node put on a failed call; every field optional. */
interface SdkFailure {
  readonly name?: string;
  readonly code?: string;
  readonly $fault?: 'client' | 'server';
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $retryable?: unknown;
  readonly cause?: unknown;
}

const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'KMSThrottlingException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalServerError',
  'InternalError',
  'SlowDown',
  'AbortError',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/** True for an error thrown by an AWS SDK client (it carries the response metadata). */
export function isAwsSdkError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && '$metadata' in error;
}

/**
 * An AWS call failed in a way that waiting can clear: no answer at all (connection refused, reset,
 * timeout, name not resolving), a 5xx, or throttling. Access, validation and missing resources are
 * not: they need a change of settings.
 */
export function isTransientAwsError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SdkFailure;
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  if (e.$retryable) return true;
  if (e.$fault === 'server') return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  // An SDK error without an HTTP status never got an answer; a Node error is a network failure.
  if (isAwsSdkError(error) || e.code !== undefined) return true;
  return e.cause !== undefined ? isTransientAwsError(e.cause) : false;
}
