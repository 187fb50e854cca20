import { type KinesisClient, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type ClaimCheckResolver, fromListShards } from '../../shared/consumer/index.js';
import type { HashKeyRange } from '../../shared/events/change-event.js';

/**
 * `shardRange` over ListShards: lists the stream's shards (closed ones included) once, and again
 * only when asked for a shard it has not seen (a child created by a split or merge).
 */
export function listShardsRanges(
  kinesis: KinesisClient,
  streamArn: string,
): (shardId: string) => Promise<HashKeyRange> {
  let known = new Map<string, HashKeyRange>();
  const list = async () => {
    const shards: Shard[] = [];
    let token: string | undefined;
    do {
      const page = await kinesis.send(
        new ListShardsCommand(token ? { NextToken: token } : { StreamARN: streamArn }),
      );
      shards.push(...(page.Shards ?? []));
      token = page.NextToken;
    } while (token);
    known = new Map(fromListShards(shards).map((s) => [s.shardId, s.hashKeyRange]));
  };
  return async (shardId) => {
    if (!known.has(shardId)) await list();
    const range = known.get(shardId);
    if (range === undefined) throw new Error(`ListShards does not list ${shardId}`);
    return range;
  };
}

/** Claim checks read from S3: the object is the complete event as JSON. */
export function s3ClaimChecks(
  s3: S3Client,
  parse: (text: string) => unknown = JSON.parse,
): ClaimCheckResolver {
  return async (ref) => {
    const object = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    return parse((await object.Body?.transformToString('utf8')) ?? '');
  };
}
