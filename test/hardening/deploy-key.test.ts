import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import {
  DeployKeyUnavailableError,
  SecretsManagerDeployKey,
} from '../../shared/adapters/secrets-manager-deploy-key.js';
import { createSecretsManagerClient } from '../../shared/aws/clients.js';
import type { DeployKeyProvider } from '../../shared/convex/deploy-key.js';
import { FatalConvexError } from '../../shared/convex/errors.js';
import { ConfigError } from '../../shared/errors.js';
import { DEPLOY_KEY, useSimulator } from '../helpers/simulator.js';

/** A provider that hands out `keys` in turn on refresh, counting the calls. */
function rotating(first: string, next: string = first) {
  let current = first;
  const calls = { get: 0, refresh: 0 };
  const provider: DeployKeyProvider = {
    source: 'CONVEX_DEPLOY_KEY_SECRET_ID=test-secret',
    get: async () => {
      calls.get++;
      return current;
    },
    refresh: async () => {
      calls.refresh++;
      current = next;
      return current;
    },
  };
  return { provider, calls };
}

describe('the Convex client asks its key provider again when Convex refuses the key', () => {
  const f = useSimulator();

  it('retries once with a rotated key and succeeds', async () => {
    const { provider, calls } = rotating('prod:sim-deployment|b2xkLWtleQ==', DEPLOY_KEY);
    const client = f.client({ deployKey: provider });
    await expect(client.jsonSchemas()).resolves.toBeDefined();
    expect(calls).toEqual({ get: 1, refresh: 1 });
    // The next call uses the new key straight away.
    await client.jsonSchemas();
    expect(calls).toEqual({ get: 2, refresh: 1 });
  });

  it('fails after one fresh read when the key has not changed, naming where the key comes from', async () => {
    const wrong = 'prod:sim-deployment|d3Jvbmcta2V5';
    const { provider, calls } = rotating(wrong);
    const error = await f
      .client({ deployKey: provider })
      .jsonSchemas()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FatalConvexError);
    expect(String(error)).toContain('401 BadAdminKey');
    expect(String(error)).toContain('CONVEX_DEPLOY_KEY_SECRET_ID=test-secret');
    expect(String(error)).not.toContain(wrong);
    expect(calls).toEqual({ get: 1, refresh: 1 });
  });

  it('refreshes on a malformed header too (a placeholder with a colon is a 400, not a 401)', async () => {
    const { provider, calls } = rotating('x:y:not-base64!', DEPLOY_KEY);
    await expect(f.client({ deployKey: provider }).jsonSchemas()).resolves.toBeDefined();
    expect(calls.refresh).toBe(1);
  });

  it('a key given as CONVEX_DEPLOY_KEY is named in the 401', async () => {
    const error = await f
      .client({ deployKey: 'prod:sim-deployment|d3Jvbmcta2V5' })
      .jsonSchemas()
      .catch((e: unknown) => String(e));
    expect(error).toContain('the deploy key from CONVEX_DEPLOY_KEY was refused');
  });
});

describe('SecretsManagerDeployKey (Powertools Parameters)', () => {
  const secrets = createSecretsManagerClient();
  const secret = async (value: string) => {
    const name = `dk-${randomUUID().slice(0, 8)}`;
    await secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    return name;
  };

  it('serves the cached key until maxAge, and reads the secret again at once on refresh()', async () => {
    const name = await secret('key-one');
    const keys = new SecretsManagerDeployKey(name, secrets, 1);
    expect(await keys.get()).toBe('key-one');
    await secrets.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: '{"deployKey":"key-two"}' }),
    );
    expect(await keys.get()).toBe('key-one'); // cached
    expect(await keys.refresh()).toBe('key-two');
    await secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'key-three' }));
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await keys.get()).toBe('key-three'); // maxAge passed
  });

  it('names the secret, never its content, when it is empty, unusable or missing', async () => {
    const json = await secret('{"other":"prod:secret-value"}');
    const bad = await new SecretsManagerDeployKey(json, secrets).get().catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ConfigError);
    expect(String(bad)).toContain(`CONVEX_DEPLOY_KEY_SECRET_ID=${json}`);
    expect(String(bad)).not.toContain('secret-value');
    const missing = await new SecretsManagerDeployKey('no-such-secret', secrets)
      .get()
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect(String(missing)).toContain('CONVEX_DEPLOY_KEY_SECRET_ID=no-such-secret');
  });

  it('calls an unreachable Secrets Manager transient, not a configuration error', async () => {
    const down = createSecretsManagerClient({
      env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_REGION: 'us-east-1' },
      maxAttempts: 1,
    });
    const error = await new SecretsManagerDeployKey('any', down).get().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeployKeyUnavailableError);
  });
});
