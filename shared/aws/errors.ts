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

export type Service = 'KINESIS' | 'DYNAMODB' | 'SQS' | 'S3' | 'SECRETS_MANAGER';

const LABELS: Record<Service, string> = {
  KINESIS: 'Kinesis',
  DYNAMODB: 'DynamoDB',
  SQS: 'SQS',
  S3: 'S3',
  SECRETS_MANAGER: 'Secrets Manager',
};

/** Request fields that name the resource a call is about, and what to call it without a setting. */
const RESOURCE_FIELDS: readonly (readonly [string, string, RegExp])[] = [
  ['TableName', 'table', /TABLE/],
  ['StreamName', 'stream', /STREAM/],
  ['StreamARN', 'stream', /STREAM/],
  ['Bucket', 'bucket', /BUCKET/],
  ['QueueUrl', 'queue', /QUEUE|DLQ/],
  ['QueueName', 'queue', /QUEUE|DLQ/],
  ['SecretId', 'secret', /SECRET/],
];

const NOT_FOUND = new Set([
  'ResourceNotFoundException',
  'NoSuchBucket',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
]);
const CREDENTIALS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'CredentialsProviderError',
]);

const described = Symbol.for('convex-stream-bridge.aws-failure-described');

export interface FailureContext {
  readonly service: Service;
  /** The API operation, e.g. `UpdateItem`. */
  readonly operation: string;
  readonly input: Readonly<Record<string, unknown>>;
  /** Where the settings come from: resource names are matched to the variable that holds them. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * Rewrites a failed call's message to name the service, the operation, the setting that names the
 * resource and the endpoint it went to. The error object (class, name, code, metadata) is kept, so
 * callers that branch on it behave as before.
 */
export function describeAwsFailure(error: unknown, context: FailureContext): Error {
  const e = error instanceof Error ? error : new Error(String(error));
  if ((e as unknown as Record<symbol, unknown>)[described]) return e;
  const resource = resourceSetting(context);
  const where = endpointSetting(context.service, context.env);
  const text = `${LABELS[context.service]} ${context.operation}${resource ? ` on ${resource}` : ''} failed: ${reasonOf(e)}${where ? ` ${where}` : ''}`;
  try {
    e.message = text;
  } catch {
    // A frozen error keeps its message; it still carries the original fields.
  }
  Object.defineProperty(e, described, { value: true });
  return e;
}

/** `BRIDGE_STATE_TABLE=name` when a setting holds the resource's name, else `table name`. */
function resourceSetting({ input, env }: FailureContext): string | undefined {
  for (const [field, kind, hint] of RESOURCE_FIELDS) {
    const value = input[field];
    if (typeof value !== 'string' || value === '') continue;
    // A setting of the resource's kind first: a stream and a bucket may share a name.
    const holding = Object.keys(env)
      .filter((k) => /^(BRIDGE|CONVEX)_/.test(k) && k !== 'CONVEX_DEPLOY_KEY' && env[k] === value)
      .sort();
    const setting = holding.find((k) => hint.test(k)) ?? holding[0];
    return setting ? `${setting}=${value}` : `${kind} ${value}`;
  }
  return undefined;
}

function endpointSetting(
  service: Service,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const specific = `AWS_ENDPOINT_URL_${service}`;
  if (env[specific]) return `at ${specific}=${env[specific]}`;
  if (env.AWS_ENDPOINT_URL) return `at AWS_ENDPOINT_URL=${env.AWS_ENDPOINT_URL}`;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  return region ? `in AWS_REGION=${region}` : undefined;
}

function reasonOf(e: Error): string {
  const f = e as SdkFailure & Error;
  switch (f.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
    case 'ERR_SOCKET_CONNECTION_TIMEOUT':
      return 'connection timed out';
  }
  if (f.name === 'TimeoutError' || f.name === 'RequestTimeout')
    return `no answer in time (${f.message})`;
  if (f.name === 'AbortError') return 'cancelled';
  const status = f.$metadata?.httpStatusCode;
  if (f.name === 'UnknownError' || f.name === 'Unknown' || f.message === 'UnknownError')
    return `HTTP ${status ?? '?'} without an AWS error code (is the endpoint an AWS service?)`;
  const base =
    f.name && f.name !== 'Error' && !f.message.startsWith(f.name)
      ? `${f.name}: ${f.message}`
      : f.message;
  if (NOT_FOUND.has(f.name))
    return `${base} (it does not exist: \`convex-bridge setup\` or the CDK app creates it; or fix the setting)`;
  if (CREDENTIALS.has(f.name) || f.name.startsWith('AccessDenied'))
    return `${base} (check the AWS credentials and their IAM permissions)`;
  return base;
}
