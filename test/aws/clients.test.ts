import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
  createSecretsManagerClient,
  createSqsClient,
  endpointFor,
} from '../../shared/aws/clients.js';

const unique = (prefix: string) => `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

describe('endpointFor', () => {
  it('prefers the service-specific variable over the general one', () => {
    const env = { AWS_ENDPOINT_URL: 'http://a', AWS_ENDPOINT_URL_KINESIS: 'http://k' };
    expect(endpointFor('KINESIS', env)).toBe('http://k');
    expect(endpointFor('SQS', env)).toBe('http://a');
    expect(endpointFor('SQS', {})).toBeUndefined();
  });
});

// Real sockets: moto for everything, kinesalite for Kinesis, both started by the global setup.
describe('AWS client factory against local emulators', () => {
  it('talks to Kinesis over HTTP/1.1 (the SDK default HTTP/2 fails on emulators)', async () => {
    const kinesis = createKinesisClient();
    expect(process.env.AWS_ENDPOINT_URL_KINESIS).not.toBe(process.env.AWS_ENDPOINT_URL);
    const StreamName = unique('stream');
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const put = await kinesis.send(
      new PutRecordsCommand({
        StreamName,
        Records: [{ PartitionKey: 'a', Data: Buffer.from('{"ts":"1718000001000000007"}') }],
      }),
    );
    expect(put.FailedRecordCount).toBe(0);
    const shards = await kinesis.send(new ListShardsCommand({ StreamName }));
    const iterator = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName,
        ShardId: shards.Shards?.[0]?.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const records = await kinesis.send(
      new GetRecordsCommand({ ShardIterator: iterator.ShardIterator }),
    );
    expect(Buffer.from(records.Records?.[0]?.Data ?? []).toString()).toBe(
      '{"ts":"1718000001000000007"}',
    );
  });

  it('talks to DynamoDB, SQS, S3 and Secrets Manager on moto', async () => {
    const TableName = unique('table');
    const dynamo = createDynamoDbClient();
    await dynamo.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      }),
    );
    await dynamo.send(
      new PutItemCommand({
        TableName,
        Item: { pk: { S: 'cursor' }, v: { S: '1718000001000000007' } },
      }),
    );
    const item = await dynamo.send(
      new GetItemCommand({ TableName, Key: { pk: { S: 'cursor' } }, ConsistentRead: true }),
    );
    expect(item.Item?.v?.S).toBe('1718000001000000007');

    const sqs = createSqsClient();
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: unique('queue') }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: '{"table":"users"}' }));
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
    expect(received.Messages?.[0]?.Body).toBe('{"table":"users"}');

    const s3 = createS3Client();
    const Bucket = unique('bucket');
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'claim-check' }));
    const object = await s3.send(new GetObjectCommand({ Bucket, Key: 'k' }));
    expect(await object.Body?.transformToString()).toBe('claim-check');

    const secrets = createSecretsManagerClient();
    const Name = unique('deploy-key');
    await secrets.send(new CreateSecretCommand({ Name, SecretString: 'prod:x|y' }));
    expect((await secrets.send(new GetSecretValueCommand({ SecretId: Name }))).SecretString).toBe(
      'prod:x|y',
    );
  });

  it('throws on a request that never gets an answer instead of hanging', async () => {
    const silent = http.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const kinesis = createKinesisClient({
        env: { ...process.env, AWS_ENDPOINT_URL_KINESIS: endpoint },
        requestTimeoutMs: 300,
        maxAttempts: 1,
      });
      const t0 = Date.now();
      await expect(kinesis.send(new ListShardsCommand({ StreamName: 'x' }))).rejects.toThrow(
        /timeout|timed out/i,
      );
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
