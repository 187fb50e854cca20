import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { startLocalAws } from '../local/local-aws.js';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
} from '../shared/aws/clients.js';
import { ensureBucket, ensureStateTable } from '../shared/setup/ensure-resources.js';
import { startBenchSim } from './bench-sim.js';
import {
  type BundleMeasure,
  measureBundles,
  measureTransform,
  type TransformCost,
} from './cold-start.js';
import { type BenchContext, convexEnv } from './context.js';
import { exportLatency, type LatencyResult } from './export-latency.js';
import { type ExportThroughput, exportThroughput } from './export-throughput.js';
import { type ImportThroughput, importThroughput } from './import-throughput.js';
import { bigPageMemory, type MemoryResult } from './memory.js';

export interface BenchOptions {
  readonly snapshotDocs: number;
  readonly deltaChanges: number;
  /** Simulated Convex round trip per request. */
  readonly latencyMs: number;
  readonly latencyChanges: number;
  readonly latencyRatePerSecond: number;
  /** Exporter poll intervals to measure follow-mode latency at (the first is the default). */
  readonly pollIntervalsMs: readonly number[];
  readonly importMessages: number;
  readonly standardBatch: number;
  readonly bigPageWrites: number;
  readonly bigPageDocBytes: number;
  readonly initRuns: number;
  readonly transformPages: number;
  readonly shards: number;
}

/** What the issue asks for; `npm run bench` runs this. */
export const FULL_RUN: BenchOptions = {
  snapshotDocs: 200_000,
  deltaChanges: 200_000,
  latencyMs: 20,
  latencyChanges: 1_000,
  latencyRatePerSecond: 100,
  pollIntervalsMs: [500, 100],
  importMessages: 10_000,
  standardBatch: 100,
  bigPageWrites: 16_000,
  bigPageDocBytes: 850,
  initRuns: 5,
  transformPages: 100,
  shards: 4,
};

/** Every dimension cut down, for the smoke test: same code paths, seconds instead of minutes. */
export const SMOKE_RUN: BenchOptions = {
  snapshotDocs: 3_000,
  deltaChanges: 2_000,
  latencyMs: 5,
  latencyChanges: 40,
  latencyRatePerSecond: 40,
  pollIntervalsMs: [100],
  importMessages: 300,
  standardBatch: 100,
  bigPageWrites: 500,
  bigPageDocBytes: 200,
  initRuns: 1,
  transformPages: 3,
  shards: 2,
};

export interface BenchResults {
  readonly date: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGiB: number;
    readonly node: string;
    readonly platform: string;
  };
  readonly options: BenchOptions;
  readonly exportThroughput: readonly ExportThroughput[];
  readonly exportLatency: readonly LatencyResult[];
  readonly importThroughput: ImportThroughput;
  readonly coldStart: {
    readonly bundles: Readonly<Record<'export' | 'import', BundleMeasure>>;
    readonly transform: TransformCost;
    readonly bigPage: MemoryResult;
  };
  readonly durationSeconds: number;
}

/** Starts its own stand-ins and simulator, runs every measurement in turn, stops everything. */
export async function runBenchmarks(
  options: BenchOptions,
  progress: (step: string) => void,
): Promise<BenchResults> {
  const started = performance.now();
  progress('starting moto and kinesalite');
  const aws = await startLocalAws();
  const previousEnv = { ...process.env };
  Object.assign(process.env, aws.env);
  try {
    progress(
      `seeding the simulator (${options.snapshotDocs} documents, ${options.deltaChanges} changes)`,
    );
    const sim = await startBenchSim({
      deployKey: `bench:local|${randomBytes(18).toString('base64url')}`,
      snapshotDocs: options.snapshotDocs,
      deltaChanges: options.deltaChanges,
      latencyMs: options.latencyMs,
    });
    try {
      const ctx: BenchContext = {
        sim,
        kinesis: createKinesisClient(),
        dynamo: createDynamoDbClient(),
        s3: createS3Client(),
        bucket: 'bench-oversize',
        stateTable: 'bench-state',
        shards: options.shards,
      };
      await ensureStateTable(ctx.dynamo, ctx.stateTable);
      await ensureBucket(ctx.s3, ctx.bucket);
      const throughput: ExportThroughput[] = [];
      for (const kind of ['snapshot', 'deltas'] as const) {
        progress(`export throughput: ${kind} (fetch-only, publish-only, sequential, ours)`);
        throughput.push(await exportThroughput(ctx, kind, options.snapshotDocs));
      }
      const latency: LatencyResult[] = [];
      for (const pollIntervalMs of options.pollIntervalsMs) {
        progress(`export latency: poll interval ${pollIntervalMs} ms`);
        latency.push(
          await exportLatency(ctx, {
            changes: options.latencyChanges,
            ratePerSecond: options.latencyRatePerSecond,
            pollIntervalMs,
          }),
        );
      }
      progress('import throughput');
      const imported = await importThroughput(ctx, {
        messages: options.importMessages,
        standardBatch: options.standardBatch,
      });
      progress('cold start: bundles and module initialisation');
      const bundles = await measureBundles(
        {
          ...aws.env,
          ...convexEnv(ctx),
          BRIDGE_STREAM_NAME: 'bench',
          BRIDGE_STATE_TABLE: ctx.stateTable,
          BRIDGE_OVERSIZE_BUCKET: ctx.bucket,
          BRIDGE_DLQ_URL: `${aws.env.AWS_ENDPOINT_URL}/123456789012/bench-import-dlq`,
          POWERTOOLS_LOG_LEVEL: 'SILENT',
        },
        options.initRuns,
      );
      progress('cost: export transform CPU per event');
      const transform = await measureTransform(ctx, options.transformPages);
      progress(`memory: one ${options.bigPageWrites}-write transaction page`);
      const bigPage = await bigPageMemory(
        ctx,
        { writes: options.bigPageWrites, docBytes: options.bigPageDocBytes },
        { ...aws.env },
      );
      ctx.kinesis.destroy();
      ctx.dynamo.destroy();
      ctx.s3.destroy();
      return {
        date: new Date().toISOString(),
        machine: {
          cpus: cpus().length,
          cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
          memoryGiB: Math.round(totalmem() / 1024 ** 3),
          node: process.version,
          platform: `${process.platform} ${process.arch}`,
        },
        options,
        exportThroughput: throughput,
        exportLatency: latency,
        importThroughput: imported,
        coldStart: { bundles, transform, bigPage },
        durationSeconds: (performance.now() - started) / 1000,
      };
    } finally {
      await sim.stop();
    }
  } finally {
    // Scenarios set endpoint and handler variables; put the caller's environment back exactly.
    for (const key of Object.keys(process.env)) if (!(key in previousEnv)) delete process.env[key];
    Object.assign(process.env, previousEnv);
    await aws.stop();
  }
}
