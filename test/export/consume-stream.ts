import { type KinesisClient, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { readWholeStream, type StreamRecord } from '../../shared/adapters/kinesis-stream-reader.js';
import {
  finalState,
  fromListShards,
  MemoryConsumerStore,
  orderStreamRecords,
  StreamConsumer,
} from '../../shared/consumer/index.js';
import { parseLossless, stringifyLossless } from '../../shared/values/lossless-json.js';
import type { Deployment } from '../../simulator/deployment.js';
import { writeValue } from '../../simulator/values.js';

async function listAllShards(kinesis: KinesisClient, stream: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    const out = await kinesis.send(
      token
        ? new ListShardsCommand({ NextToken: token })
        : new ListShardsCommand({ StreamName: stream }),
    );
    shards.push(...(out.Shards ?? []));
    token = out.NextToken;
  } while (token);
  return shards;
}

/**
 * What the reference consumer (shared/consumer) ends with after reading the whole stream, shard
 * by shard in lineage order, resolving claim checks from S3: `component/table/id` → the
 * document's exact JSON text. The oracle for "a consumer ends equal to Convex".
 */
export async function consumeWholeStream(
  kinesis: KinesisClient,
  s3: S3Client,
  stream: string,
): Promise<{ state: Map<string, string>; records: StreamRecord[] }> {
  const records = await readWholeStream(kinesis, stream);
  const shards = fromListShards(await listAllShards(kinesis, stream));
  const byShard = new Map<string, StreamRecord[]>();
  for (const r of records) byShard.set(r.shardId, [...(byShard.get(r.shardId) ?? []), r]);
  const store = new MemoryConsumerStore();
  const consumer = new StreamConsumer(store, {
    parse: parseLossless,
    resolveClaimCheck: async (ref) => {
      const object = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      return parseLossless((await object.Body?.transformToString()) ?? '');
    },
  });
  for (const { shard, record } of orderStreamRecords(shards, byShard))
    await consumer.applyRecord(record.data, {
      shardId: shard.shardId,
      hashKeyRange: shard.hashKeyRange,
    });
  const state = new Map<string, string>();
  for (const [key, doc] of await finalState(store)) state.set(key, stringifyLossless(doc));
  return { state, records };
}

/** Convex's live documents now, keyed and written as the consumer's (clean JSON, exact text). */
export function convexState(
  deployment: Deployment,
  include: (component: string, table: string) => boolean,
): Map<string, string> {
  const state = new Map<string, string>();
  for (const tablet of deployment.tabletsAt(deployment.readTs())) {
    if (!include(tablet.component, tablet.name)) continue;
    for (const record of tablet.docs.values()) {
      const last = record.revisions.at(-1);
      if (last === undefined || last.value === null) continue;
      state.set(
        `${tablet.component}/${tablet.name}/${record.id}`,
        writeValue(last.value as never, 'clean'),
      );
    }
  }
  return state;
}
