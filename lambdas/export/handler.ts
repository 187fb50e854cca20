import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { loadExportConfig } from '../../shared/export/config.js';
import {
  type ExportDeps,
  type ExportOutcome,
  exportChanges,
} from '../../shared/export/export-changes.js';
import { EXPORT_ID_DIMENSION, SERVICES } from '../../shared/names.js';
import {
  PowertoolsLogSink,
  PowertoolsMetricsSink,
  powertoolsLogger,
  powertoolsMetrics,
} from '../../shared/observability/powertools.js';
import { buildExportDeps, exportOptionsFrom } from '../../shared/wiring/export.js';

const logger = powertoolsLogger(SERVICES.export.logger);
const metrics = powertoolsMetrics(SERVICES.export.metrics);
const config = loadExportConfig(process.env);
// Several exports in one stack tell their metrics (and alarms) apart by this dimension.
if (config.exportId !== 'default')
  metrics.setDefaultDimensions({ [EXPORT_ID_DIMENSION]: config.exportId });
let deps: Promise<ExportDeps> | undefined;

/** Scheduled tick: follow the change log until the invocation's budget is spent. */
export const handler = middy(
  async (_event: ScheduledEvent, context: Context): Promise<ExportOutcome> => {
    // A failed build (e.g. an unreadable secret) is not cached, so the next tick tries again.
    deps ??= buildExportDeps(config, {
      metrics: new PowertoolsMetricsSink(metrics),
      log: new PowertoolsLogSink(logger),
    }).catch((error: unknown) => {
      deps = undefined;
      throw error;
    });
    return exportChanges(await deps, {
      ...exportOptionsFrom(config),
      owner: context.awsRequestId,
      remainingMs: () => context.getRemainingTimeInMillis(),
      follow: true,
    });
  },
)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
