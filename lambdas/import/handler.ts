import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ENV } from '../../shared/env.js';
import { backOff } from '../../shared/import/backoff.js';
import { loadImportConfig } from '../../shared/import/config.js';
import { type ImportDeps, importBatch } from '../../shared/import/import-batch.js';
import { EXPORT_ID_DIMENSION, SERVICES } from '../../shared/names.js';
import {
  PowertoolsLogSink,
  PowertoolsMetricsSink,
  powertoolsLogger,
  powertoolsMetrics,
} from '../../shared/observability/powertools.js';
import type { MessageAttributes, ReceivedMessage } from '../../shared/ports/message-queue.js';
import {
  buildImportDeps,
  importOptionsFrom,
  queueForEventSource,
} from '../../shared/wiring/import.js';

const logger = powertoolsLogger(SERVICES.import.logger);
const metrics = powertoolsMetrics(SERVICES.import.metrics);
const config = loadImportConfig(process.env);
// In a stack of several deployments the stack names each importer's deployment, for its alarms.
const deploymentName = process.env[ENV.exportId];
if (deploymentName && deploymentName !== 'default')
  metrics.setDefaultDimensions({ [EXPORT_ID_DIMENSION]: deploymentName });
let deps: Promise<ImportDeps> | undefined;

/** The producer's attributes as Lambda delivers them (binary values base64-encoded). */
function attributesOf(record: SQSRecord): MessageAttributes | undefined {
  const entries = Object.entries(record.messageAttributes ?? {});
  if (entries.length === 0) return undefined;
  return Object.fromEntries(
    entries.map(([name, a]) => [
      name,
      {
        dataType: a.dataType,
        ...(a.stringValue !== undefined ? { stringValue: a.stringValue } : {}),
        ...(a.binaryValue !== undefined
          ? { binaryValue: new Uint8Array(Buffer.from(a.binaryValue, 'base64')) }
          : {}),
      },
    ]),
  );
}

function messageOf(r: SQSRecord): ReceivedMessage {
  const count = Number(r.attributes.ApproximateReceiveCount);
  const attributes = attributesOf(r);
  return {
    id: r.messageId,
    body: r.body,
    receipt: r.receiptHandle,
    ...(r.attributes.MessageGroupId !== undefined ? { groupId: r.attributes.MessageGroupId } : {}),
    ...(Number.isFinite(count) && count > 0 ? { receiveCount: count } : {}),
    ...(attributes ? { attributes } : {}),
  };
}

/**
 * SQS batch → Convex; returns exactly the failed messages (ReportBatchItemFailures). When Convex
 * refuses everything (a wrong key), the batch stops and its messages are backed off in the queue
 * for longer at each receive, so they do not reach the DLQ within a few visibility timeouts.
 */
export const handler = middy(
  async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const sinks = {
      metrics: new PowertoolsMetricsSink(metrics),
      log: new PowertoolsLogSink(logger),
    };
    deps ??= buildImportDeps(config, sinks).catch((error: unknown) => {
      deps = undefined;
      throw error;
    });
    const messages = event.Records.map(messageOf);
    const result = await importBatch(
      await deps,
      messages,
      importOptionsFrom(config, () => context.getRemainingTimeInMillis()),
    );
    if (result.halt) {
      const source = event.Records[0]?.eventSourceARN;
      const queue = source
        ? await queueForEventSource(source).catch((error: unknown) => {
            sinks.log.error('could not find the queue to back the messages off', {
              eventSourceARN: source,
              error: (error as Error).message,
            });
            return undefined;
          })
        : undefined;
      if (queue) await backOff(queue, messages, result.failedIds, sinks.log);
    }
    return { batchItemFailures: result.failedIds.map((itemIdentifier) => ({ itemIdentifier })) };
  },
)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
