import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type AwsClientSettings, baseConfig, describeFailures } from './client-config.js';

export function createDynamoDbClient(settings: AwsClientSettings = {}): DynamoDBClient {
  return describeFailures(
    new DynamoDBClient(baseConfig('DYNAMODB', settings)),
    'DYNAMODB',
    settings,
  );
}
