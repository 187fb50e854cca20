import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listShardsRanges } from '../../examples/kinesis-consumer/aws.js';
import { createConsumerHandler } from '../../examples/kinesis-consumer/handler.js';
import { finalState, MemoryConsumerStore } from '../../shared/consumer/consumer-store.js';
import { orderStreamRecords, type ShardInfo } from '../../shared/consumer/shard-order.js';
import { StreamConsumer } from '../../shared/consumer/stream-consumer.js';
import type { DocRef } from '../../shared/events/change-event.js';
import { Rng } from '../fakes/prng.js';
import { diffStates } from './consume.js';
import { generateHistory, ModelStream } from './stream-model.js';

const ARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/convex-changes';

/** Lambda's view of a stream: batches of at most `size` records, each from one shard, in order. */
function lambdaBatches(
  shards: readonly ShardInfo[],
  records: ReadonlyMap<string, readonly string[]>,
  size = 100,
): KinesisStreamEvent[] {
  const batches: KinesisStreamRecord[][] = [];
  let sequence = 0;
  let previous: string | undefined;
  for (const { shard, record } of orderStreamRecords(shards, records)) {
    const last = batches.at(-1);
    const entry = kinesisRecord(shard.shardId, String(++sequence).padStart(20, '0'), record);
    if (last && previous === shard.shardId && last.length < size) last.push(entry);
    else batches.push([entry]);
    previous = shard.shardId;
  }
  return batches.map((Records) => ({ Records }));
}

function kinesisRecord(shardId: string, sequenceNumber: string, data: string): KinesisStreamRecord {
  return {
    awsRegion: 'us-east-1',
    eventID: `${shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    eventSource: 'aws:kinesis',
    eventSourceARN: ARN,
    eventVersion: '1.0',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/consumer',
    kinesis: {
      approximateArrivalTimestamp: 1_790_000_000,
      data: Buffer.from(data, 'utf8').toString('base64'),
      kinesisSchemaVersion: '1.0',
      partitionKey: JSON.parse(data).id ?? '_control',
      sequenceNumber,
    },
  };
}

describe('examples/kinesis-consumer: the Lambda handler', () => {
  const rng = new Rng(2_026_112_801);
  const stream = new ModelStream(3, rng);
  const { truth } = generateHistory(rng, stream, 80);
  const shards = stream.infos();
  const ranges = new Map(shards.map((s) => [s.shardId, s.hashKeyRange]));
  const shardRange = async (id: string) => ranges.get(id) ?? Promise.reject(new Error(id));

  it('ends equal to Convex after the stream arrives in Lambda batches', async () => {
    const store = new MemoryConsumerStore();
    const handler = createConsumerHandler({ consumer: new StreamConsumer(store), shardRange });
    const events = lambdaBatches(shards, stream.records());
    expect(shards.length).toBeGreaterThan(3); // the history resharded: children follow parents
    for (const event of events)
      await expect(handler(event)).resolves.toEqual({ batchItemFailures: [] });
    expect(diffStates(await finalState(store), truth.docs)).toEqual([]);
  });

  it('reports the first record it cannot apply; the retry from there ends right', async () => {
    // A claim check whose S3 read fails once: Lambda retries the batch from that record.
    const full = {
      v: 1,
      op: 'upsert',
      generation: 1,
      component: '',
      table: 'files',
      id: 'f1',
      ts: '1790000000000000009',
      eventId: 'f1@1790000000000000009',
      doc: { _id: 'f1', big: true },
    };
    const { doc: _big, ...rest } = full;
    const ref = { ...rest, docRef: { bucket: 'b', key: 'k', bytes: 2_000_000 } };
    const other = (id: string) => ({ ...full, id, eventId: `${id}@${full.ts}`, doc: { _id: id } });
    const shard = shards.find((s) => s.parentShardId === undefined) as ShardInfo;
    const batch = {
      Records: [other('a1'), ref, other('a2')].map((e, i) =>
        kinesisRecord(shard.shardId, `${i + 1}`, JSON.stringify(e)),
      ),
    };
    let reads = 0;
    const errors: unknown[] = [];
    const store = new MemoryConsumerStore();
    const handler = createConsumerHandler({
      consumer: new StreamConsumer(store, {
        resolveClaimCheck: async (docRef: DocRef) => {
          if (reads++ === 0) throw new Error(`S3 unavailable for ${docRef.key}`);
          return full;
        },
      }),
      shardRange,
      onError: (error, where) => errors.push([String(error), where.sequenceNumber]),
    });

    await expect(handler(batch)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: '2' }] });
    expect([...(await finalState(store)).keys()]).toEqual(['/files/a1']);
    expect(errors).toEqual([['Error: S3 unavailable for k', '2']]);
    // Lambda's retry starts at the reported record.
    await expect(handler({ Records: batch.Records.slice(1) })).resolves.toEqual({
      batchItemFailures: [],
    });
    expect([...(await finalState(store)).keys()].sort()).toEqual([
      '/files/a1',
      '/files/a2',
      '/files/f1',
    ]);
  });
});

describe('examples/kinesis-consumer: ListShards ranges and the composition root', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('lists the shards once, all pages, and again only for a shard it has not seen', async () => {
    const calls: unknown[] = [];
    let listed = [{ ShardId: 's0', HashKeyRange: { StartingHashKey: '0', EndingHashKey: '9' } }];
    const kinesis = {
      send: async (command: { input: { NextToken?: string } }) => {
        calls.push(command.input);
        // Two pages: the first shard, then the rest behind a NextToken.
        return command.input.NextToken
          ? { Shards: listed.slice(1) }
          : { Shards: listed.slice(0, 1), NextToken: 'more' };
      },
    } as unknown as KinesisClient;
    const range = listShardsRanges(kinesis, ARN);
    await expect(range('s0')).resolves.toEqual({ start: '0', end: '9' });
    await expect(range('s0')).resolves.toEqual({ start: '0', end: '9' });
    expect(calls).toEqual([{ StreamARN: ARN }, { NextToken: 'more' }]);
    listed = [
      ...listed,
      {
        ShardId: 's1',
        ParentShardId: 's0',
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: '4' },
      } as never,
    ];
    await expect(range('s1')).resolves.toEqual({ start: '0', end: '4' });
    await expect(range('s9')).rejects.toThrow(/does not list s9/);
  });

  it('lambda.ts needs STREAM_ARN and exports a handler', async () => {
    vi.stubEnv('STREAM_ARN', '');
    await expect(import('../../examples/kinesis-consumer/lambda.js')).rejects.toThrow(
      /STREAM_ARN is required/,
    );
    vi.resetModules();
    vi.stubEnv('STREAM_ARN', ARN);
    const { handler } = await import('../../examples/kinesis-consumer/lambda.js');
    await expect(handler({ Records: [] })).resolves.toEqual({ batchItemFailures: [] });
  });
});
