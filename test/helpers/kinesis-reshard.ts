import {
  DescribeStreamSummaryCommand,
  type KinesisClient,
  MergeShardsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { listShards, shardInfo } from '../../shared/adapters/kinesis-shards.js';

/** Resharding is asynchronous: polls the stream's status until it is ACTIVE again. */
export async function waitActive(kinesis: KinesisClient, stream: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`stream ${stream} never became ACTIVE again`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const openByHashKey = async (kinesis: KinesisClient, stream: string) =>
  (await listShards(kinesis, stream))
    .map(shardInfo)
    .filter((s) => s.open)
    .sort((a, b) => (a.range.start < b.range.start ? -1 : 1));

/** Splits the `index`-th open shard (by hash keys) at its middle; resolves once ACTIVE again. */
export async function splitShard(
  kinesis: KinesisClient,
  stream: string,
  index = 0,
): Promise<{ parent: string; children: string[] }> {
  const parent = (await openByHashKey(kinesis, stream))[index];
  if (!parent) throw new Error('no shard to split');
  await kinesis.send(
    new SplitShardCommand({
      StreamName: stream,
      ShardToSplit: parent.id,
      NewStartingHashKey: ((parent.range.start + parent.range.end) / 2n).toString(),
    }),
  );
  await waitActive(kinesis, stream);
  const after = (await listShards(kinesis, stream)).map(shardInfo);
  return {
    parent: parent.id,
    children: after.filter((s) => s.parents.includes(parent.id)).map((s) => s.id),
  };
}

/** Merges the two open shards with the lowest hash keys; resolves once ACTIVE again. */
export async function mergeFirstTwo(
  kinesis: KinesisClient,
  stream: string,
): Promise<{ parents: string[]; child: string }> {
  const [left, right] = await openByHashKey(kinesis, stream);
  if (!left || !right) throw new Error('no shards to merge');
  await kinesis.send(
    new MergeShardsCommand({
      StreamName: stream,
      ShardToMerge: left.id,
      AdjacentShardToMerge: right.id,
    }),
  );
  await waitActive(kinesis, stream);
  const child = (await listShards(kinesis, stream))
    .map(shardInfo)
    .find((s) => s.parents.includes(left.id) && s.parents.includes(right.id));
  if (!child) throw new Error('the merge made no child shard');
  return { parents: [left.id, right.id], child: child.id };
}
