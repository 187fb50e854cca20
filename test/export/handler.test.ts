import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it, vi } from 'vitest';
import { createSecretsManagerClient } from '../../shared/aws/clients.js';
import { lambdaContext } from '../helpers/lambda-context.js';
import { DEPLOY_KEY } from '../helpers/simulator.js';
import { useExportRig } from './rig.js';

describe('export Lambda handler', () => {
  const rig = useExportRig();

  it('reads the deploy key from Secrets Manager, follows until its budget is spent, and checkpoints', async () => {
    const { stream, exportId } = await rig.fresh();
    rig.f.write([{ op: 'insert', table: 'h_docs', doc: { a: 1 } }]);
    const secretId = `deploy-key-${exportId}`;
    await createSecretsManagerClient().send(
      new CreateSecretCommand({
        Name: secretId,
        SecretString: JSON.stringify({ deployKey: DEPLOY_KEY }),
      }),
    );
    vi.stubEnv('CONVEX_URL', rig.f.sim.url);
    vi.stubEnv('CONVEX_DEPLOY_KEY_SECRET_ID', secretId);
    vi.stubEnv('BRIDGE_ALLOW_INSECURE_LOOPBACK', 'true');
    vi.stubEnv('BRIDGE_STREAM_NAME', stream);
    vi.stubEnv('BRIDGE_STATE_TABLE', rig.names.table);
    vi.stubEnv('BRIDGE_OVERSIZE_BUCKET', rig.names.bucket);
    vi.stubEnv('BRIDGE_EXPORT_ID', exportId);
    vi.stubEnv('BRIDGE_INCLUDE_TABLES', 'h_docs');
    vi.stubEnv('BRIDGE_SAFETY_MARGIN_MS', '1000');
    vi.stubEnv('BRIDGE_POLL_INTERVAL_MS', '100');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const consoleLog = vi.spyOn(console, 'log').mockImplementation(() => {});
    const consoleInfo = vi.spyOn(console, 'info').mockImplementation(() => {});
    try {
      const { handler } = await import('../../lambdas/export/handler.js');
      const started = Date.now();
      const outcome = await handler({} as never, lambdaContext(2_500, 'exporter'));
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(outcome).toMatchObject({
        status: 'budget-spent',
        events: 1,
        state: { position: { source: 'data-sync', phase: 'changes' } },
      });
      const emitted = [...stdout.mock.calls, ...consoleLog.mock.calls, ...consoleInfo.mock.calls]
        .map((c) => String(c[0]))
        .join('\n');
      expect(emitted).toContain('"SnapshotEvents"');
      // A named export's metrics carry its id, which the stack's per-deployment alarms select.
      expect(emitted).toContain(`"exportId":"${exportId}"`);
      expect(emitted).not.toContain(DEPLOY_KEY);
    } finally {
      stdout.mockRestore();
      consoleLog.mockRestore();
      consoleInfo.mockRestore();
      vi.unstubAllEnvs();
    }
    await rig.verify({ stream, exportId, filter: { includeTables: ['h_docs'] } });
  });
});
