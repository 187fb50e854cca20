import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describeAwsFailure, type Service } from './errors.js';

export interface AwsClientSettings {
  /** Defaults to process.env; endpoints come from AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly region?: string;
  /** Per-request socket timeout; a hung call fails instead of stalling a Lambda until it dies. */
  readonly requestTimeoutMs?: number;
  readonly connectionTimeoutMs?: number;
  /** SDK-level tries; our own retry loops sit above this for per-record failures. */
  readonly maxAttempts?: number;
}

/** The SDK's service-specific endpoint rule, resolved here so every client follows it the same way. */
export function endpointFor(
  service: Service,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  return env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
}

/** The failure's last words, per client: kept for callers that summarise retries (the publisher). */
const lastFailures = new WeakMap<object, { error: Error; at: number }>();

/**
 * The last failure a client raised since `since` (epoch ms), already described (service,
 * operation, setting, endpoint); for callers that retry and then summarise.
 */
export function lastFailure(client: object, since = 0): Error | undefined {
  const last = lastFailures.get(client);
  return last && last.at >= since ? last.error : undefined;
}

interface MiddlewareClient {
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: { input: object }) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: { input: object }) => Promise<unknown>,
      options: { step: 'initialize'; name: string; override?: boolean },
    ): void;
  };
}

/**
 * Every failure, after the SDK's own retries, says which service, operation and resource setting
 * failed and at which endpoint (`DynamoDB UpdateItem on BRIDGE_STATE_TABLE=… failed: connection
 * refused at AWS_ENDPOINT_URL=…`). The error keeps its class and fields: only the message changes.
 */
function describeFailures<C extends object>(
  client: C,
  service: Service,
  settings: AwsClientSettings,
): C {
  const env = settings.env ?? process.env;
  (client as unknown as MiddlewareClient).middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const described = describeAwsFailure(error, {
          service,
          operation: (context.commandName ?? 'call').replace(/Command$/, ''),
          input: args.input as Record<string, unknown>,
          env,
        });
        lastFailures.set(client, { error: described, at: Date.now() });
        throw described;
      }
    },
    { step: 'initialize', name: 'bridgeDescribeFailures', override: true },
  );
  return client;
}

function baseConfig(service: Service, settings: AwsClientSettings) {
  const env = settings.env ?? process.env;
  const endpoint = endpointFor(service, env);
  const region = settings.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    maxAttempts: settings.maxAttempts ?? 3,
    // HTTP/1.1 everywhere: Kinesis' default HTTP/2 handler fails against every local emulator,
    // and throwOnRequestTimeout turns the SDK's timeout warning into an error.
    requestHandler: new NodeHttpHandler({
      requestTimeout: settings.requestTimeoutMs ?? 20_000,
      connectionTimeout: settings.connectionTimeoutMs ?? 5_000,
      throwOnRequestTimeout: true,
    }),
  };
}

export function createKinesisClient(settings: AwsClientSettings = {}): KinesisClient {
  return describeFailures(new KinesisClient(baseConfig('KINESIS', settings)), 'KINESIS', settings);
}

export function createDynamoDbClient(settings: AwsClientSettings = {}): DynamoDBClient {
  return describeFailures(
    new DynamoDBClient(baseConfig('DYNAMODB', settings)),
    'DYNAMODB',
    settings,
  );
}

export function createSqsClient(settings: AwsClientSettings = {}): SQSClient {
  return describeFailures(new SQSClient(baseConfig('SQS', settings)), 'SQS', settings);
}

export function createS3Client(settings: AwsClientSettings = {}): S3Client {
  const config = baseConfig('S3', settings);
  // Emulators serve buckets by path; virtual-host names like bucket.127.0.0.1 do not resolve.
  return describeFailures(
    new S3Client({ ...config, forcePathStyle: 'endpoint' in config }),
    'S3',
    settings,
  );
}

export function createSecretsManagerClient(settings: AwsClientSettings = {}): SecretsManagerClient {
  return describeFailures(
    new SecretsManagerClient(baseConfig('SECRETS_MANAGER', settings)),
    'SECRETS_MANAGER',
    settings,
  );
}
