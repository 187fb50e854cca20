import { randomUUID } from 'node:crypto';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { beforeAll } from 'vitest';
import { ConvexDataSyncFeed } from '../../shared/adapters/convex-data-sync-feed.js';
import { ConvexLegacyFeed } from '../../shared/adapters/convex-legacy-feed.js';
import { ConvexSchemaSource } from '../../shared/adapters/convex-schema-source.js';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import { DynamoDbTableClearLog } from '../../shared/adapters/dynamodb-table-clears.js';
import {
  KinesisEventPublisher,
  type KinesisPublisherOptions,
} from '../../shared/adapters/kinesis-publisher.js';
import { KinesisStreamTail, readWholeStream } from '../../shared/adapters/kinesis-stream-reader.js';
import { S3ClaimCheckStore } from '../../shared/adapters/s3-claim-check.js';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
} from '../../shared/aws/clients.js';
import type { ConvexClient, ConvexClientOptions } from '../../shared/convex/client.js';
import {
  type ExportDeps,
  type ExportOptions,
  exportChanges,
} from '../../shared/export/export-changes.js';
import { type TableFilter, tablePredicate } from '../../shared/export/table-filter.js';
import type { ExportStateStore } from '../../shared/ports/export-state-store.js';
import { MemoryMetrics, silentLog } from '../../shared/ports/observability.js';
import {
  ensureBucket,
  ensureStateTable,
  ensureStream,
} from '../../shared/setup/ensure-resources.js';
import type { Knobs } from '../../simulator/knobs.js';
import { useSimulator } from '../helpers/simulator.js';
import { expectedEvents, parseRecords, verifyAgainstHistory } from './verify-stream.js';

export interface RigNames {
  readonly stream: string;
  readonly table: string;
  readonly bucket: string;
  readonly exportId: string;
}

/** A simulator plus real local AWS resources, fresh names per file; `fresh()` gives a new export id. */
export function useExportRig(knobs: Partial<Knobs> = {}) {
  const f = useSimulator(knobs);
  const suffix = randomUUID().slice(0, 8);
  const names = {
    stream: `export-${suffix}`,
    table: `state-${suffix}`,
    bucket: `oversize-${suffix}`,
    exportId: 'default',
  };
  const kinesis = () => createKinesisClient();
  const s3 = createS3Client();
  beforeAll(async () => {
    await Promise.all([
      ensureStream(kinesis(), names.stream, 2),
      ensureStateTable(createDynamoDbClient(), names.table),
      ensureBucket(s3, names.bucket),
    ]);
  });

  const convex = (client: Partial<ConvexClientOptions> = {}) =>
    f.client({ retry: { maxAttempts: 6, baseDelayMs: 5, maxDelayMs: 50 }, ...client });

  const deps = (
    options: {
      exportId?: string;
      stream?: string;
      kinesisClient?: KinesisClient;
      publisher?: Partial<KinesisPublisherOptions>;
      client?: Partial<ConvexClientOptions>;
      /** Reads through this instead of a fresh client (to trace or alter what Convex answers). */
      source?: Pick<ConvexClient, 'listSnapshot' | 'documentDeltas'> &
        Partial<Pick<ConvexClient, 'dataSync'>>;
      /** Which Convex export API the feed reads (default: the legacy endpoints). */
      api?: 'legacy' | 'data-sync';
      /** Publish the lifecycle's own control events: recorded clears and schema changes. */
      lifecycle?: boolean;
      metrics?: MemoryMetrics;
      /** Recover effectively once: read what landed after the checkpoint (StreamTail). */
      tail?: boolean;
    } = {},
  ): ExportDeps => ({
    ...(options.tail
      ? {
          tail: new KinesisStreamTail(
            options.kinesisClient ?? kinesis(),
            options.stream ?? names.stream,
          ),
        }
      : {}),
    feed:
      options.api === 'data-sync'
        ? new ConvexDataSyncFeed(
            options.source?.dataSync
              ? (options.source as Pick<ConvexClient, 'dataSync'>)
              : convex(options.client),
          )
        : new ConvexLegacyFeed(options.source ?? convex(options.client)),
    ...(options.lifecycle
      ? {
          clears: clearLog(options.exportId),
          schemas: new ConvexSchemaSource(convex(options.client), 'json'),
        }
      : {}),
    store: new DynamoDbExportStore(
      createDynamoDbClient(),
      names.table,
      options.exportId ?? names.exportId,
    ),
    publisher: new KinesisEventPublisher(options.kinesisClient ?? kinesis(), {
      streamName: options.stream ?? names.stream,
      claimCheck: new S3ClaimCheckStore(s3, names.bucket),
      retry: { maxAttempts: 6, baseDelayMs: 5, maxDelayMs: 50 },
      ...options.publisher,
    }),
    metrics: options.metrics ?? new MemoryMetrics(),
    log: silentLog,
  });

  /** The clear log `clear-tables` writes for an export (the exporter reads it). */
  const clearLog = (exportId?: string) =>
    new DynamoDbTableClearLog(createDynamoDbClient(), names.table, exportId ?? names.exportId);

  const baseOptions = (overrides: Partial<ExportOptions> = {}): ExportOptions => ({
    owner: `test-${randomUUID()}`,
    remainingMs: () => Number.POSITIVE_INFINITY,
    safetyMarginMs: 1_000,
    follow: false,
    pollIntervalMs: 50,
    leaseTtlMs: 30_000,
    ...overrides,
  });

  /** Runs until caught up (not following). */
  const run = (
    overrides: Partial<ExportOptions> = {},
    depOptions: Parameters<typeof deps>[0] = {},
  ) => exportChanges(deps(depOptions), baseOptions(overrides));

  /**
   * A run that dies between publish and checkpoint, every time: its events land in the stream
   * but its checkpoints are dropped (the state stays where it was). Returns the real store too.
   */
  const runWithoutCheckpoints = async (
    overrides: Partial<ExportOptions> = {},
    depOptions: Parameters<typeof deps>[0] = {},
  ) => {
    const built = deps(depOptions);
    const real = built.store;
    const store: ExportStateStore = {
      acquire: (owner, ttlMs) => real.acquire(owner, ttlMs),
      read: () => real.read(),
      release: (lease) => real.release(lease),
      checkpoint: async (lease) => lease,
    };
    const outcome = await exportChanges({ ...built, store }, baseOptions(overrides));
    return { outcome, store: real };
  };

  /** Reads the stream and checks it against the simulator's full history. */
  const verify = async (
    options: { exportId?: string; stream?: string; filter?: TableFilter } = {},
  ) => {
    const store = new DynamoDbExportStore(
      createDynamoDbClient(),
      names.table,
      options.exportId ?? names.exportId,
    );
    const { state } = await store.read();
    if (!state?.baseSnapshotTs) throw new Error('the export has not finished its snapshot');
    const records = await readWholeStream(kinesis(), options.stream ?? names.stream);
    const parsed = await parseRecords(records, s3);
    const expected = expectedEvents(
      f.sim.deployment,
      BigInt(state.baseSnapshotTs),
      tablePredicate(options.filter ?? {}),
    );
    return { ...verifyAgainstHistory(parsed, expected), records: parsed, state };
  };

  /** A new stream and export id, so a test sees only its own events. */
  const fresh = async (shards = 2) => {
    const id = randomUUID().slice(0, 8);
    const stream = `export-${suffix}-${id}`;
    await ensureStream(kinesis(), stream, shards);
    return { stream, exportId: `x-${id}` };
  };

  return {
    f,
    names,
    kinesis,
    s3,
    convex,
    deps,
    baseOptions,
    run,
    runWithoutCheckpoints,
    clearLog,
    verify,
    fresh,
  };
}
