import { ConvexImportTarget } from '../adapters/convex-import-target.js';
import { SqsQuarantine } from '../adapters/sqs-quarantine.js';
import { createSecretsManagerClient, createSqsClient } from '../aws/clients.js';
import type { ConvexClient } from '../convex/client.js';
import type { ImportConfig } from '../import/config.js';
import type { ImportDeps, ImportOptions } from '../import/import-batch.js';
import { PrimaryKeyIndexes } from '../import/primary-key-indexes.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import { connectToConvex } from './convex.js';

export async function buildImportDeps(
  config: ImportConfig,
  sinks: { metrics: MetricsSink; log: LogSink },
): Promise<ImportDeps & { client: ConvexClient }> {
  const client = await connectToConvex(config.convex, () => createSecretsManagerClient(), sinks);
  return {
    client,
    target: new ConvexImportTarget(client),
    indexes: new PrimaryKeyIndexes(client),
    quarantine: new SqsQuarantine(createSqsClient(), config.dlqUrl),
    metrics: sinks.metrics,
    log: sinks.log,
  };
}

export function importOptionsFrom(config: ImportConfig, remainingMs: () => number): ImportOptions {
  return {
    settings: config.settings,
    limits: config.limits,
    remainingMs,
    safetyMarginMs: config.safetyMarginMs,
    indexReadyTimeoutMs: config.indexReadyTimeoutMs,
  };
}
