import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { z } from 'zod';
import { createKinesisClient, endpointFor } from '../shared/aws/clients.js';
import { parseEnv } from '../shared/config/parse-env.js';
import { isControlEvent } from '../shared/events/change-event.js';
import { EXIT } from './output.js';

const schema = z.object({
  BRIDGE_STREAM_NAME: z.string({ message: 'is required (the Kinesis stream to read)' }).min(1),
});

/** What the shards read so far held, for the closing summary. */
interface Seen {
  records: number;
  printed: number;
  /** Records that are copies of control events (docs/events.md). */
  controls: number;
  readonly tables: Set<string>;
}

/** Notes about the read itself go to stderr: stdout carries only the records. */
const note = (text: string) => process.stderr.write(`tail: ${text}\n`);

/**
 * `tail [--table T] [--from-start] [--follow]`: prints the stream's events as JSON lines,
 * reading every shard. Without --follow it stops when every shard is caught up and says how many
 * records it read, from which stream and endpoint, and which tables it saw.
 */
export async function tailCommand(flags: {
  table: string | undefined;
  fromStart: boolean;
  follow: boolean;
}): Promise<number> {
  const { BRIDGE_STREAM_NAME: streamName } = parseEnv(schema, process.env);
  const kinesis = createKinesisClient();
  const endpoint = endpointFor('KINESIS', process.env);
  const where = endpoint
    ? `at ${process.env.AWS_ENDPOINT_URL_KINESIS ? 'AWS_ENDPOINT_URL_KINESIS' : 'AWS_ENDPOINT_URL'}=${endpoint}`
    : `in AWS_REGION=${process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? '(SDK default)'}`;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const seen: Seen = { records: 0, printed: 0, controls: 0, tables: new Set() };
  let shardCount = 0;
  try {
    const shards =
      (await kinesis.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
    shardCount = shards.length;
    const start = flags.fromStart ? 'TRIM_HORIZON' : 'LATEST';
    const from = flags.fromStart ? 'from the oldest record kept' : 'only records newer than now';
    const shardsText = `${shardCount} shard${shardCount === 1 ? '' : 's'}, ${from}`;
    if (flags.follow) note(`following stream ${streamName} (${shardsText}) ${where}; Ctrl-C stops`);
    await Promise.all(
      shards.map((s) =>
        tailShard(kinesis, streamName, s.ShardId as string, start, flags, seen, stop.signal),
      ),
    );
    const controls =
      seen.controls > 0
        ? ` (${seen.controls} of them control-event copies: one per shard for each control event)`
        : '';
    note(
      `read ${seen.records} records${controls} from stream ${streamName} (${shardsText}) ${where}`,
    );
    if (flags.table !== undefined && seen.printed === 0) {
      const tables = [...seen.tables].sort();
      note(
        `no record of table '${flags.table}' among the ${seen.records} read${
          tables.length > 0 ? ` (tables seen: ${tables.join(', ')})` : ''
        }`,
      );
    }
    if (!flags.fromStart && !flags.follow && seen.records === 0)
      note(
        'without --from-start only records written after the command started are read; --from-start prints what the stream keeps, --follow waits for new records',
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
  seen: Seen,
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
      seen.records++;
      // The table filter reads only the envelope; the line is printed exactly as stored.
      const { table, control } = envelopeOf(line);
      if (control) seen.controls++;
      if (table !== undefined) seen.tables.add(table);
      if (flags.table !== undefined && table !== flags.table) continue;
      seen.printed++;
      process.stdout.write(`${line}\n`);
    }
    const caughtUp = (page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0;
    if (caughtUp && !flags.follow) return;
    iterator = page.NextShardIterator;
    // Kinesis allows 5 GetRecords per shard per second.
    if ((page.Records ?? []).length === 0) await new Promise((r) => setTimeout(r, 250));
  }
}

function envelopeOf(line: string): { table: string | undefined; control: boolean } {
  try {
    const event = JSON.parse(line) as { table?: unknown; op?: unknown };
    return {
      table: typeof event.table === 'string' ? event.table : undefined,
      control: typeof event.op === 'string' && isControlEvent({ op: event.op }),
    };
  } catch {
    return { table: undefined, control: false };
  }
}
