import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteStreamCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { DynamoDbExportStore } from '../shared/adapters/dynamodb-export-store.js';
import { KinesisEventPublisher } from '../shared/adapters/kinesis-publisher.js';
import { S3ClaimCheckStore } from '../shared/adapters/s3-claim-check.js';
import { ConvexClient } from '../shared/convex/client.js';
import { ensureStream } from '../shared/setup/ensure-resources.js';
import type { BenchSim } from './bench-sim.js';

/** What every scenario needs: the seeded simulator, AWS clients on the stand-ins, fresh names. */
export interface BenchContext {
  readonly sim: BenchSim;
  readonly kinesis: KinesisClient;
  readonly dynamo: DynamoDBClient;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly stateTable: string;
  readonly shards: number;
}

/** The Convex settings every bridge entry point reads, pointing at the benchmark's simulator. */
export function convexEnv(ctx: BenchContext): Record<string, string> {
  return {
    CONVEX_URL: ctx.sim.url,
    CONVEX_DEPLOY_KEY: ctx.sim.deployKey,
    BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
  };
}

export function convexClient(ctx: BenchContext): ConvexClient {
  return new ConvexClient({
    url: ctx.sim.url,
    deployKey: ctx.sim.deployKey,
    allowInsecureLoopback: true,
  });
}

/** A new, empty stream per measurement, so runs never read or pay for each other's records. */
export async function freshStream(ctx: BenchContext): Promise<{
  name: string;
  publisher: (concurrency?: number) => KinesisEventPublisher;
  drop: () => Promise<void>;
}> {
  const name = `bench-${randomUUID().slice(0, 8)}`;
  await ensureStream(ctx.kinesis, name, ctx.shards);
  return {
    name,
    publisher: (concurrency) =>
      new KinesisEventPublisher(ctx.kinesis, {
        streamName: name,
        claimCheck: new S3ClaimCheckStore(ctx.s3, ctx.bucket),
        ...(concurrency !== undefined ? { concurrency } : {}),
      }),
    drop: async () => {
      await ctx.kinesis.send(new DeleteStreamCommand({ StreamName: name }));
    },
  };
}

export const freshStore = (ctx: BenchContext): DynamoDbExportStore =>
  new DynamoDbExportStore(ctx.dynamo, ctx.stateTable, `bench-${randomUUID().slice(0, 8)}`);

/** Wall time of `work` in seconds. */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = performance.now();
  const value = await work();
  return { value, seconds: (performance.now() - start) / 1000 };
}
