import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DeployKeySource } from '../config/convex-connection.js';
import { ConfigError } from '../errors.js';

/**
 * The deploy key from env or Secrets Manager (a plain string, or JSON with `deployKey`).
 * Errors name the secret id, never its content.
 */
export async function resolveDeployKey(
  source: DeployKeySource,
  secrets: () => SecretsManagerClient,
): Promise<string> {
  if ('value' in source) return source.value;
  let text: string | undefined;
  try {
    const out = await secrets().send(new GetSecretValueCommand({ SecretId: source.secretId }));
    text = out.SecretString;
  } catch (error) {
    throw new ConfigError(
      `could not read the deploy key secret '${source.secretId}': ${(error as Error).name}`,
    );
  }
  if (!text || text.trim() === '') {
    throw new ConfigError(
      `the deploy key secret '${source.secretId}' is empty; put the Convex deploy key in it`,
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
      `the deploy key secret '${source.secretId}' is JSON without a string "deployKey" field`,
    );
  }
  return text.trim();
}
