import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { MemoryConsumerStore, StreamConsumer } from '../../shared/consumer/index.js';
import { listShardsRanges, s3ClaimChecks } from './aws.js';
import { createConsumerHandler } from './handler.js';

// The composition root: configuration and clients once per container.
const streamArn = process.env.STREAM_ARN;
if (!streamArn) throw new Error('STREAM_ARN is required (the ARN of the bridge stream)');

/**
 * Replace this with a durable `ConsumerStore` (DynamoDB, Postgres, Redis…): a Map lives only as
 * long as this Lambda container. See the README for what a store must do.
 */
const store = new MemoryConsumerStore();

export const handler = createConsumerHandler({
  consumer: new StreamConsumer(store, { resolveClaimCheck: s3ClaimChecks(new S3Client({})) }),
  shardRange: listShardsRanges(new KinesisClient({}), streamArn),
});
