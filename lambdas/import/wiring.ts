import { SqsQuarantine } from '../../shared/adapters/sqs-quarantine.js';
import { createSecretsManagerClient, createSqsClient } from '../../shared/aws/clients.js';
import { connectToConvex } from '../../shared/config/convex-connection.js';
import type { ConvexClient } from '../../shared/convex/client.js';
import type { LogSink, MetricsSink } from '../../shared/observability/ports.js';
import type { ImportConfig } from './config.js';
import type { ImportDeps, ImportOptions } from './import-batch.js';
import { PrimaryKeyIndexes } from './primary-key-indexes.js';

export async function buildImportDeps(
  config: ImportConfig,
  sinks: { metrics: MetricsSink; log: LogSink },
): Promise<ImportDeps & { client: ConvexClient }> {
  const client = await connectToConvex(config.convex, () => createSecretsManagerClient(), sinks);
  return {
    client,
    target: client,
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
