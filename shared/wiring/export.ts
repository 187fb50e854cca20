import { ConvexDataSyncFeed } from '../adapters/convex-data-sync-feed.js';
import { ConvexLegacyFeed } from '../adapters/convex-legacy-feed.js';
import { ConvexSchemaSource } from '../adapters/convex-schema-source.js';
import { ConvexSourceMigration } from '../adapters/convex-source-migration.js';
import { DynamoDbExportStore } from '../adapters/dynamodb-export-store.js';
import { DynamoDbTableClearLog } from '../adapters/dynamodb-table-clears.js';
import { KinesisEventPublisher } from '../adapters/kinesis-publisher.js';
import { KinesisStreamTail } from '../adapters/kinesis-stream-reader.js';
import { S3ClaimCheckStore } from '../adapters/s3-claim-check.js';
import { SourceChoosingFeed } from '../adapters/source-choosing-feed.js';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
  createSecretsManagerClient,
  lastFailure,
} from '../aws/clients.js';
import type { ConvexClient } from '../convex/client.js';
import { ENV } from '../env.js';
import type { ExportConfig } from '../export/config.js';
import type { ExportDeps, ExportOptions } from '../export/export-changes.js';
import type { FeedSource } from '../ports/change-feed.js';
import { type EventPublisher, PublishError } from '../ports/event-publisher.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import { connectToConvex } from './convex.js';

/** Builds the export's adapters from validated config: the one place clients are constructed. */
export async function buildExportDeps(
  config: ExportConfig,
  sinks: { metrics: MetricsSink; log: LogSink },
): Promise<ExportDeps> {
  const convex = await connectToConvex(config.convex, () => createSecretsManagerClient(), sinks);
  const { feed, autoMigrate } = await chooseSource(convex, config, sinks.log, sinks.metrics);
  const kinesis = createKinesisClient();
  const publisher = explainPublishFailures(
    new KinesisEventPublisher(kinesis, {
      streamName: config.streamName,
      maxRecordBytes: config.maxRecordBytes,
      claimCheck: new S3ClaimCheckStore(createS3Client(), config.oversizeBucket),
      concurrency: config.publishConcurrency,
    }),
    kinesis,
  );
  const dynamo = createDynamoDbClient();
  const store = new DynamoDbExportStore(dynamo, config.stateTable, config.exportId);
  // What landed after the last checkpoint is read back, so a recovering run skips it (docs/events.md).
  const tail = new KinesisStreamTail(kinesis, config.streamName);
  return {
    feed,
    store,
    publisher,
    tail,
    metrics: sinks.metrics,
    log: sinks.log,
    migration: new ConvexSourceMigration(convex),
    autoMigrate,
    // The lifecycle's own control events: recorded clear-tables and schema changes (docs/events.md).
    clears: new DynamoDbTableClearLog(dynamo, config.stateTable, config.exportId),
    schemas: new ConvexSchemaSource(convex, config.valueFormat),
  };
}

/**
 * The feed for BRIDGE_SOURCE: reads go to the source of the stored position (an export keeps its
 * source until migrated); a new export starts on Data Sync when the setting allows it and the
 * deployment serves it, asked once here (deps live as long as the warm Lambda). `autoMigrate`:
 * the exporter may move a legacy export onto Data Sync by itself.
 */
export async function chooseSource(
  convex: Pick<ConvexClient, 'dataSync' | 'dataSyncServed' | 'listSnapshot' | 'documentDeltas'>,
  config: Pick<ExportConfig, 'source' | 'valueFormat'>,
  log: LogSink,
  metrics?: MetricsSink,
): Promise<{ feed: SourceChoosingFeed; served: boolean | undefined; autoMigrate: boolean }> {
  const served = config.source === 'legacy' ? undefined : await convex.dataSyncServed();
  const chosen: FeedSource =
    config.source === 'data-sync' || (config.source === 'auto' && served) ? 'data-sync' : 'legacy';
  if (config.source === 'data-sync' && !served)
    log.warn(
      `${ENV.source}=data-sync, but this deployment answers 404 to Data Sync: a new export will fail; set ${ENV.source}=auto or legacy`,
    );
  log.info('export source chosen', {
    setting: config.source,
    dataSyncServed: served,
    newExportsUse: chosen,
  });
  const feed = new SourceChoosingFeed(
    {
      legacy: new ConvexLegacyFeed(convex, config.valueFormat),
      'data-sync': new ConvexDataSyncFeed(convex, config.valueFormat),
    },
    chosen,
    metrics,
  );
  return { feed, served, autoMigrate: served === true };
}

/** Run options from config; the caller adds owner, budget, follow and signal. */
export function exportOptionsFrom(
  config: ExportConfig,
): Omit<ExportOptions, 'owner' | 'remainingMs' | 'follow'> {
  return {
    safetyMarginMs: config.safetyMarginMs,
    pollIntervalMs: config.pollIntervalMs,
    leaseTtlMs: config.leaseTtlMs,
    filter: config.filter,
    onExpiredCursor: config.onExpiredCursor,
    schemaCheckMs: config.schemaCheckSeconds * 1000,
    retentionSeconds: config.retentionSeconds,
  };
}

/**
 * The publisher retries failed PutRecords calls itself and then reports how many records are still
 * failing; this adds the last failure of the Kinesis client during that publish (which names the
 * stream setting and the endpoint) as the message's end and the error's cause.
 */
export function explainPublishFailures(publisher: EventPublisher, kinesis: object): EventPublisher {
  return {
    publish: async (events, signal, options) => {
      const started = Date.now();
      try {
        return await publisher.publish(events, signal, options);
      } catch (error) {
        const last = lastFailure(kinesis, started);
        if (!(error instanceof PublishError) || error.cause !== undefined || !last) throw error;
        throw new PublishError(`${error.message}; last failure: ${last.message}`, { cause: last });
      }
    },
  };
}
