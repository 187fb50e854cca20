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
import type { ExportConfig } from '../export/config.js';
import type { ExportDeps, ExportOptions } from '../export/export-changes.js';
import { type EventPublisher, PublishError } from '../ports/event-publisher.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import { connectToConvex } from './convex.js';

/** Builds the export's adapters from validated config: the one place clients are constructed. */
export async function buildExportDeps(
  config: ExportConfig,
  sinks: { metrics: MetricsSink; log: LogSink },
): Promise<ExportDeps> {
  const convex = await connectToConvex(config.convex, () => createSecretsManagerClient(), sinks);
  const { feed, autoMigrate } = chooseSource(convex, config, sinks);
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
 * source until migrated); a new export starts on Data Sync unless the setting is legacy, and with
 * `auto` falls back to the legacy endpoints when the deployment answers 404 (SourceChoosingFeed).
 * `autoMigrate`: the exporter may move a legacy export onto Data Sync once by itself; on a backend
 * without Data Sync that attempt is refused (404) and recorded, and the export stays legacy.
 */
export function chooseSource(
  convex: Pick<ConvexClient, 'dataSync' | 'listSnapshot' | 'documentDeltas'>,
  config: Pick<ExportConfig, 'source' | 'valueFormat'>,
  sinks: { log?: LogSink; metrics?: MetricsSink } = {},
): { feed: SourceChoosingFeed; autoMigrate: boolean } {
  const feed = new SourceChoosingFeed(
    {
      legacy: new ConvexLegacyFeed(convex, config.valueFormat),
      'data-sync': new ConvexDataSyncFeed(convex, config.valueFormat),
    },
    config.source,
    sinks,
  );
  return { feed, autoMigrate: config.source !== 'legacy' };
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
