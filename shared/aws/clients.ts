import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type AwsClientSettings, baseConfig, describeFailures } from './client-config.js';

export {
  type AwsClientSettings,
  endpointFor,
  lastFailure,
} from './client-config.js';
export { createDynamoDbClient } from './dynamodb-client.js';

export function createKinesisClient(settings: AwsClientSettings = {}): KinesisClient {
  return describeFailures(new KinesisClient(baseConfig('KINESIS', settings)), 'KINESIS', settings);
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
