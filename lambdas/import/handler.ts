import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadImportConfig } from '../../shared/import/config.js';
import { type ImportDeps, importBatch } from '../../shared/import/import-batch.js';
import { SERVICES } from '../../shared/names.js';
import {
  PowertoolsLogSink,
  PowertoolsMetricsSink,
  powertoolsLogger,
  powertoolsMetrics,
} from '../../shared/observability/powertools.js';
import { buildImportDeps, importOptionsFrom } from '../../shared/wiring/import.js';

const logger = powertoolsLogger(SERVICES.import.logger);
const metrics = powertoolsMetrics(SERVICES.import.metrics);
const config = loadImportConfig(process.env);
let deps: Promise<ImportDeps> | undefined;

/** SQS batch → Convex; returns exactly the transiently failed messages (ReportBatchItemFailures). */
export const handler = middy(
  async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    deps ??= buildImportDeps(config, {
      metrics: new PowertoolsMetricsSink(metrics),
      log: new PowertoolsLogSink(logger),
    }).catch((error: unknown) => {
      deps = undefined;
      throw error;
    });
    const messages = event.Records.map((r) => ({
      id: r.messageId,
      body: r.body,
      ...(r.attributes.MessageGroupId !== undefined
        ? { groupId: r.attributes.MessageGroupId }
        : {}),
    }));
    const result = await importBatch(
      await deps,
      messages,
      importOptionsFrom(config, () => context.getRemainingTimeInMillis()),
    );
    return { batchItemFailures: result.failedIds.map((itemIdentifier) => ({ itemIdentifier })) };
  },
)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
