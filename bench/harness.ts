import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { startLocalAws } from '../local/local-aws.js';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
  createSqsClient,
} from '../shared/aws/clients.js';
import { ensureBucket, ensureQueues, ensureStateTable } from '../shared/setup/ensure-resources.js';
import { startBenchSim } from './bench-sim.js';
import {
  type BundleComparison,
  coldStartSetup,
  measureBundles,
  measureTransform,
  type TransformCost,
} from './cold-start.js';
import { type BenchContext, freshStream } from './context.js';
import { type DataSyncPageMemory, dataSyncPageMemory } from './data-sync-page-memory.js';
import { type DataSyncThroughput, dataSyncThroughput } from './data-sync-throughput.js';
import { exportLatency, type LatencyResult } from './export-latency.js';
import { type ExportThroughput, exportThroughput } from './export-throughput.js';
import {
  type ImportEsmConfig,
  type ImportThroughput,
  importThroughput,
  type SteadyLoad,
} from './import-throughput.js';
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
  /** Round trip of each call to the modelled SQS queue. */
  readonly sqsLatencyMs: number;
  /** Event source mapping settings to measure; the first is the deployed default. */
  readonly importConfigs: readonly ImportEsmConfig[];
  /** Offered loads for the import latency measurement. */
  readonly importLoads: readonly SteadyLoad[];
  readonly motoMessages: number;
  readonly bigPageWrites: number;
  readonly bigPageDocBytes: number;
  /** One Data Sync page of this many values of about this size each (64 MiB in the full run). */
  readonly dataSyncPageValues: number;
  readonly dataSyncPageDocBytes: number;
  readonly initRuns: number;
  readonly transformPages: number;
  readonly shards: number;
}

/**
 * The import event source mapping settings measured: the defaults the bench first measured, two
 * alternatives, the defaults chosen from these numbers (docs/import.md), then FIFO with them
 * (batches of at most 10, no window). The first also runs once against moto's SQS.
 */
export const IMPORT_CONFIGS: readonly ImportEsmConfig[] = [
  {
    label: 'defaults until now',
    batchSize: 100,
    batchingWindowMs: 5_000,
    maxConcurrency: 5,
    fifo: false,
    latency: true,
  },
  {
    label: 'larger batches, shorter window',
    batchSize: 1_000,
    batchingWindowMs: 1_000,
    maxConcurrency: 5,
    fifo: false,
    latency: true,
  },
  {
    label: 'more concurrency',
    batchSize: 100,
    batchingWindowMs: 5_000,
    maxConcurrency: 20,
    fifo: false,
    latency: true,
  },
  {
    label: 'new defaults',
    batchSize: 500,
    batchingWindowMs: 1_000,
    maxConcurrency: 20,
    fifo: false,
    latency: true,
  },
  {
    label: 'FIFO',
    batchSize: 10,
    batchingWindowMs: 0,
    maxConcurrency: 20,
    fifo: true,
    latency: false,
  },
];

/**
 * The exporter processes started from the environment (cold start, the big transaction page) stay
 * on the legacy source they have always measured: with BRIDGE_SOURCE's default (`auto`) they would
 * move to Data Sync, which has rows of its own.
 */
const LEGACY_SOURCE = { BRIDGE_SOURCE: 'legacy' } as const;

/** What the issue asks for; `npm run bench` runs this. */
export const FULL_RUN: BenchOptions = {
  snapshotDocs: 200_000,
  deltaChanges: 100_000,
  latencyMs: 20,
  latencyChanges: 1_000,
  latencyRatePerSecond: 100,
  pollIntervalsMs: [500, 100],
  importMessages: 10_000,
  standardBatch: 100,
  sqsLatencyMs: 10,
  importConfigs: IMPORT_CONFIGS,
  importLoads: [
    { ratePerSecond: 1_000, messages: 4_000 },
    { ratePerSecond: 50, messages: 400 },
  ],
  motoMessages: 200,
  bigPageWrites: 16_000,
  bigPageDocBytes: 850,
  // 16,384 values (Convex's target per page) of this size make a page of 64 MiB of JSON.
  dataSyncPageValues: 16_384,
  dataSyncPageDocBytes: 3_900,
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
  sqsLatencyMs: 2,
  // The same settings with windows cut to a tenth, so the smoke run takes seconds.
  importConfigs: IMPORT_CONFIGS.map((c) => ({ ...c, batchingWindowMs: c.batchingWindowMs / 10 })),
  importLoads: [
    { ratePerSecond: 400, messages: 200 },
    { ratePerSecond: 50, messages: 20 },
  ],
  motoMessages: 30,
  bigPageWrites: 500,
  bigPageDocBytes: 200,
  dataSyncPageValues: 500,
  dataSyncPageDocBytes: 200,
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
  /** The same deployment exported through Data Sync, in the same run. */
  readonly dataSyncThroughput: readonly DataSyncThroughput[];
  readonly exportLatency: readonly LatencyResult[];
  readonly importThroughput: ImportThroughput;
  readonly coldStart: {
    readonly bundles: BundleComparison;
    readonly transform: TransformCost;
    readonly bigPage: MemoryResult;
    /** Peak RSS of processes handling one Data Sync page: idle, feed, buffered parse, exporter. */
    readonly dataSyncPage: DataSyncPageMemory;
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
      const dataSync: DataSyncThroughput[] = [];
      const changes = throughput.find((t) => t.kind === 'deltas')?.fetchOnly.events ?? 0;
      for (const phase of ['snapshot', 'changes'] as const) {
        progress(`export throughput on Data Sync: ${phase} (fetch-only, publish-only, ours)`);
        dataSync.push(
          await dataSyncThroughput(
            ctx,
            phase,
            phase === 'snapshot' ? options.snapshotDocs : changes,
          ),
        );
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
        sqsLatencyMs: options.sqsLatencyMs,
        configs: options.importConfigs,
        steadyLoads: options.importLoads,
        motoMessages: options.motoMessages,
      });
      progress('cold start: bundles, module initialisation, one invocation each');
      const coldStream = await freshStream(ctx);
      const { dlqUrl } = await ensureQueues(createSqsClient(), 'bench-import', 'bench-import-dlq');
      const bundles = await measureBundles(
        await coldStartSetup(ctx, { ...aws.env, ...LEGACY_SOURCE }, dlqUrl, coldStream.name),
        options.initRuns,
      );
      await coldStream.drop();
      progress('cost: export transform CPU per event');
      const transform = await measureTransform(ctx, options.transformPages);
      progress(`memory: one ${options.bigPageWrites}-write transaction page`);
      const bigPage = await bigPageMemory(
        ctx,
        { writes: options.bigPageWrites, docBytes: options.bigPageDocBytes },
        { ...aws.env, ...LEGACY_SOURCE },
      );
      progress(`memory: one Data Sync page of ${options.dataSyncPageValues} values`);
      const pageStream = await freshStream(ctx);
      // Last: it sets the simulator's Data Sync page limits to hold its whole table.
      const dataSyncPage = await dataSyncPageMemory(
        ctx.sim,
        {
          values: options.dataSyncPageValues,
          docBytes: options.dataSyncPageDocBytes,
          modes: ['idle', 'feed', 'buffered', 'exporter'],
        },
        {
          ...aws.env,
          BRIDGE_STREAM_NAME: pageStream.name,
          BRIDGE_STATE_TABLE: ctx.stateTable,
          BRIDGE_OVERSIZE_BUCKET: ctx.bucket,
          BRIDGE_EXPORT_ID: `bench-ds-page-${randomBytes(4).toString('hex')}`,
        },
      );
      await pageStream.drop();
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
        dataSyncThroughput: dataSync,
        exportLatency: latency,
        importThroughput: imported,
        coldStart: { bundles, transform, bigPage, dataSyncPage },
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
