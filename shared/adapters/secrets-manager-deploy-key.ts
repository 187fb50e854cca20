import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { isTransientAwsError } from '../aws/errors.js';
import type { DeployKeySource } from '../config/convex-connection.js';
import { type DeployKeyProvider, staticDeployKey } from '../convex/deploy-key.js';
import { BridgeError, ConfigError } from '../errors.js';

/** Re-read the secret at most this often unless Convex refuses the key (seconds). */
export const DEFAULT_KEY_MAX_AGE_SECONDS = 300;

/** The secret could not be read for a reason that may pass (network, throttling, 5xx). */
export class DeployKeyUnavailableError extends BridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DeployKeyUnavailableError';
  }
}

/**
 * The deploy key in a Secrets Manager secret (plain text, or JSON `{"deployKey": "…"}`), read
 * through Powertools Parameters: cached for `maxAgeSeconds`, read again at once on `refresh()`
 * (the Convex client calls it when Convex refuses the key), so `put-secret-value` reaches warm
 * Lambda containers. Errors name the secret id, never its content.
 */
export class SecretsManagerDeployKey implements DeployKeyProvider {
  readonly source: string;
  private readonly provider: SecretsProvider;

  constructor(
    private readonly secretId: string,
    client: SecretsManagerClient,
    private readonly maxAgeSeconds = DEFAULT_KEY_MAX_AGE_SECONDS,
  ) {
    this.provider = new SecretsProvider({ awsSdkV3Client: client });
    this.source = `CONVEX_DEPLOY_KEY_SECRET_ID=${secretId}`;
  }

  get(): Promise<string> {
    return this.read(false);
  }

  refresh(): Promise<string> {
    return this.read(true);
  }

  private async read(forceFetch: boolean): Promise<string> {
    let value: unknown;
    try {
      value = await this.provider.get(this.secretId, { maxAge: this.maxAgeSeconds, forceFetch });
    } catch (error) {
      // Powertools wraps the SDK's error; ours names the service, the call and the setting.
      const cause = (error as { cause?: unknown }).cause ?? error;
      const message = `could not read the deploy key from ${this.source}: ${(cause as Error).message}`;
      throw isTransientAwsError(cause)
        ? new DeployKeyUnavailableError(message, { cause })
        : new ConfigError(message, { cause });
    }
    const text = typeof value === 'string' ? value : undefined;
    if (!text || text.trim() === '') {
      throw new ConfigError(
        `the deploy key secret ${this.source} is empty; put the Convex deploy key in it`,
      );
    }
    if (text.trimStart().startsWith('{')) {
      try {
        const parsed = JSON.parse(text) as { deployKey?: unknown };
        if (typeof parsed.deployKey === 'string' && parsed.deployKey.length > 0)
          return parsed.deployKey;
      } catch {
        // Not JSON after all: fall through to the error below rather than echo the text.
      }
      throw new ConfigError(
        `the deploy key secret ${this.source} is JSON without a string "deployKey" field`,
      );
    }
    return text.trim();
  }
}

/** A provider for where the settings say the key is: the environment, or a secret. */
export function deployKeyProvider(
  source: DeployKeySource,
  secrets: () => SecretsManagerClient,
  maxAgeSeconds = DEFAULT_KEY_MAX_AGE_SECONDS,
): DeployKeyProvider {
  return 'value' in source
    ? staticDeployKey(source.value)
    : new SecretsManagerDeployKey(source.secretId, secrets(), maxAgeSeconds);
}
