import { resolveDeployKey } from '../adapters/secrets-manager-deploy-key.js';
import type { ConvexConnection } from '../config/convex-connection.js';
import { ConvexClient } from '../convex/client.js';
import { METRICS } from '../names.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';

/** Resolves the key (env or Secrets Manager) and builds a client whose retries are counted and logged. */
export async function connectToConvex(
  connection: ConvexConnection,
  secrets: Parameters<typeof resolveDeployKey>[1],
  sinks?: { metrics: MetricsSink; log: LogSink },
): Promise<ConvexClient> {
  return new ConvexClient({
    url: connection.url,
    deployKey: await resolveDeployKey(connection.deployKey, secrets),
    allowInsecureLoopback: connection.allowInsecureLoopback,
    timeoutMs: connection.timeoutMs,
    ...(sinks
      ? {
          onRetry: ({ endpoint, attempt, error }) => {
            sinks.metrics.add(METRICS.convexRetries, 1, 'Count');
            sinks.log.warn('retrying Convex call', {
              endpoint,
              attempt,
              status: error.status,
              code: error.code,
            });
          },
        }
      : {}),
  });
}
