// What every SDK client of the bridge shares; each service's factory is its own module, so a
// command that needs one client (status: DynamoDB) does not load the other SDKs.
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describeAwsFailure, type Service } from './errors.js';

export interface AwsClientSettings {
  /** Defaults to process.env; endpoints come from AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly region?: string;
  /** Per-request socket timeout; a hung call fails instead of stalling a Lambda until it dies. */
  readonly requestTimeoutMs?: number;
  readonly connectionTimeoutMs?: number;
  /** SDK-level tries; our own retry loops sit above this for per-record failures. */
  readonly maxAttempts?: number;
}

/** The SDK's service-specific endpoint rule, resolved here so every client follows it the same way. */
export function endpointFor(
  service: Service,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  return env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
}

/** The failure's last words, per client: kept for callers that summarise retries (the publisher). */
const lastFailures = new WeakMap<object, { error: Error; at: number }>();

/**
 * The last failure a client raised since `since` (epoch ms), already described (service,
 * operation, setting, endpoint); for callers that retry and then summarise.
 */
export function lastFailure(client: object, since = 0): Error | undefined {
  const last = lastFailures.get(client);
  return last && last.at >= since ? last.error : undefined;
}

interface MiddlewareClient {
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: { input: object }) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: { input: object }) => Promise<unknown>,
      options: { step: 'initialize'; name: string; override?: boolean },
    ): void;
  };
}

/**
 * Every failure, after the SDK's own retries, says which service, operation and resource setting
 * failed and at which endpoint (`DynamoDB UpdateItem on BRIDGE_STATE_TABLE=… failed: connection
 * refused at AWS_ENDPOINT_URL=…`). The error keeps its class and fields: only the message changes.
 */
export function describeFailures<C extends object>(
  client: C,
  service: Service,
  settings: AwsClientSettings,
): C {
  const env = settings.env ?? process.env;
  (client as unknown as MiddlewareClient).middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const described = describeAwsFailure(error, {
          service,
          operation: (context.commandName ?? 'call').replace(/Command$/, ''),
          input: args.input as Record<string, unknown>,
          env,
        });
        lastFailures.set(client, { error: described, at: Date.now() });
        throw described;
      }
    },
    { step: 'initialize', name: 'bridgeDescribeFailures', override: true },
  );
  return client;
}

export function baseConfig(service: Service, settings: AwsClientSettings) {
  const env = settings.env ?? process.env;
  const endpoint = endpointFor(service, env);
  const region = settings.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    maxAttempts: settings.maxAttempts ?? 3,
    // HTTP/1.1 everywhere: Kinesis' default HTTP/2 handler fails against every local emulator,
    // and throwOnRequestTimeout turns the SDK's timeout warning into an error.
    requestHandler: new NodeHttpHandler({
      requestTimeout: settings.requestTimeoutMs ?? 20_000,
      connectionTimeout: settings.connectionTimeoutMs ?? 5_000,
      throwOnRequestTimeout: true,
    }),
  };
}
