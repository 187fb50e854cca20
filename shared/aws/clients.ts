import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

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

type Service = 'KINESIS' | 'DYNAMODB' | 'SQS' | 'S3' | 'SECRETS_MANAGER';

/** The SDK's service-specific endpoint rule, resolved here so every client follows it the same way. */
export function endpointFor(
  service: Service,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  return env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
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
  return new KinesisClient(baseConfig('KINESIS', settings));
}

export function createDynamoDbClient(settings: AwsClientSettings = {}): DynamoDBClient {
  return new DynamoDBClient(baseConfig('DYNAMODB', settings));
}

export function createSqsClient(settings: AwsClientSettings = {}): SQSClient {
  return new SQSClient(baseConfig('SQS', settings));
}

export function createS3Client(settings: AwsClientSettings = {}): S3Client {
  const config = baseConfig('S3', settings);
  // Emulators serve buckets by path; virtual-host names like bucket.127.0.0.1 do not resolve.
  return new S3Client({ ...config, forcePathStyle: 'endpoint' in config });
}

export function createSecretsManagerClient(settings: AwsClientSettings = {}): SecretsManagerClient {
  return new SecretsManagerClient(baseConfig('SECRETS_MANAGER', settings));
}
