import { ConvexImportTarget } from '../adapters/convex-import-target.js';
import { queueUrlFromArn, SqsMessageQueue } from '../adapters/sqs-message-queue.js';
import { SqsDeadLetterQueue, SqsQuarantine } from '../adapters/sqs-quarantine.js';
import { createSecretsManagerClient, createSqsClient } from '../aws/clients.js';
import type { ConvexConnection } from '../config/convex-connection.js';
import type { ConvexClient } from '../convex/client.js';
import { ENV } from '../env.js';
import type { ImportConfig } from '../import/config.js';
import type { ImportDeps, ImportOptions } from '../import/import-batch.js';
import { PrimaryKeyIndexes } from '../import/primary-key-indexes.js';
import type { MessageQueue } from '../ports/message-queue.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import type { DeadLetterQueue } from '../ports/quarantine.js';
import { connectToConvex } from './convex.js';

/** The setting to fix when Convex refuses the key, as the user configured it. */
export function credentialSetting(connection: ConvexConnection): string {
  return 'value' in connection.deployKey
    ? ENV.deployKey
    : `the secret ${ENV.deployKeySecretId}=${connection.deployKey.secretId}`;
}

export async function buildImportDeps(
  config: ImportConfig,
  sinks: { metrics: MetricsSink; log: LogSink },
): Promise<ImportDeps & { client: ConvexClient }> {
  const client = await connectToConvex(config.convex, () => createSecretsManagerClient(), sinks);
  const target = new ConvexImportTarget(client, { credential: credentialSetting(config.convex) });
  return {
    client,
    target,
    indexes: new PrimaryKeyIndexes(target),
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

/** The import queue read directly (CLI, local mode). */
export function buildMessageQueue(queueUrl: string): SqsMessageQueue {
  return new SqsMessageQueue(createSqsClient(), queueUrl);
}

const byArn = new Map<string, Promise<MessageQueue>>();

/**
 * The queue a Lambda event source delivers from, by its ARN (`eventSourceARN`), for backing
 * messages off. Its URL is looked up once per warm container.
 */
export function queueForEventSource(arn: string): Promise<MessageQueue> {
  let queue = byArn.get(arn);
  if (!queue) {
    const sqs = createSqsClient();
    queue = queueUrlFromArn(sqs, arn).then((url) => new SqsMessageQueue(sqs, url));
    queue.catch(() => byArn.delete(arn));
    byArn.set(arn, queue);
  }
  return queue;
}

/** The DLQ as a tool: browse it, and move messages back to the import queue. */
export function buildDeadLetterQueue(dlqUrl: string, queueUrl: string): DeadLetterQueue {
  return new SqsDeadLetterQueue(createSqsClient(), dlqUrl, queueUrl);
}
