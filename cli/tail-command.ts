import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { z } from 'zod';
import { createKinesisClient } from '../shared/aws/clients.js';
import { parseEnv } from '../shared/config/parse-env.js';
import { EXIT } from './output.js';

const schema = z.object({
  BRIDGE_STREAM_NAME: z.string({ message: 'is required (the Kinesis stream to read)' }).min(1),
});

/**
 * `tail [--table T] [--from-start] [--follow]`: prints the stream's events as JSON lines,
 * reading every shard. Without --follow it stops when every shard is caught up.
 */
export async function tailCommand(flags: {
  table: string | undefined;
  fromStart: boolean;
  follow: boolean;
}): Promise<number> {
  const { BRIDGE_STREAM_NAME: streamName } = parseEnv(schema, process.env);
  const kinesis = createKinesisClient();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const shards =
      (await kinesis.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
    const start = flags.fromStart ? 'TRIM_HORIZON' : 'LATEST';
    await Promise.all(
      shards.map((s) =>
        tailShard(kinesis, streamName, s.ShardId as string, start, flags, stop.signal),
      ),
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return EXIT.ok;
}

async function tailShard(
  kinesis: KinesisClient,
  streamName: string,
  shardId: string,
  type: 'TRIM_HORIZON' | 'LATEST',
  flags: { table: string | undefined; follow: boolean },
  signal: AbortSignal,
): Promise<void> {
  let iterator = (
    await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardId,
        ShardIteratorType: type,
      }),
    )
  ).ShardIterator;
  while (iterator && !signal.aborted) {
    const page = await kinesis.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }),
    );
    for (const record of page.Records ?? []) {
      const line = Buffer.from(record.Data ?? []).toString('utf8');
      // The table filter reads only the envelope; the line is printed exactly as stored.
      if (
        flags.table !== undefined &&
        (JSON.parse(line) as { table?: string }).table !== flags.table
      )
        continue;
      process.stdout.write(`${line}\n`);
    }
    const caughtUp = (page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0;
    if (caughtUp && !flags.follow) return;
    iterator = page.NextShardIterator;
    // Kinesis allows 5 GetRecords per shard per second.
    if ((page.Records ?? []).length === 0) await new Promise((r) => setTimeout(r, 250));
  }
}
