import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { deployKeyProvider } from '../adapters/secrets-manager-deploy-key.js';
import type { ConvexConnection } from '../config/convex-connection.js';
import { ConvexClient } from '../convex/client.js';
import { METRICS } from '../names.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';

/**
 * A client whose deploy key comes from the environment or Secrets Manager (cached, and read again
 * when Convex refuses it, so a rotated key reaches a warm Lambda), with retries counted and logged.
 * The key is read once here, so a missing or unreadable secret fails at start-up.
 */
export async function connectToConvex(
  connection: ConvexConnection,
  secrets: () => SecretsManagerClient,
  sinks?: { metrics: MetricsSink; log: LogSink },
): Promise<ConvexClient> {
  const keys = deployKeyProvider(connection.deployKey, secrets, connection.keyMaxAgeSeconds);
  await keys.get();
  return new ConvexClient({
    url: connection.url,
    deployKey: keys,
    allowInsecureLoopback: connection.allowInsecureLoopback,
    timeoutMs: connection.timeoutMs,
    ...(sinks
      ? {
          onRetry: ({ endpoint, attempt, delayMs, error }) => {
            sinks.metrics.add(METRICS.convexRetries, 1, 'Count');
            sinks.log.warn('retrying Convex call', {
              endpoint,
              attempt,
              delayMs,
              status: error.status,
              code: error.code,
              cause: error.message,
            });
          },
          onKeyRefresh: ({ endpoint, changed }) => {
            // A key from the environment cannot change while we run: nothing to say.
            if (!changed && 'value' in connection.deployKey) return;
            sinks.log.warn(
              changed
                ? 'Convex refused the deploy key; read it again and retrying with the new key'
                : 'Convex refused the deploy key; read it again, but it has not changed',
              { endpoint, keySource: keys.source },
            );
          },
        }
      : {}),
  });
}
