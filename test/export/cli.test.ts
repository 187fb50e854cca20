import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { DEPLOY_KEY, useSimulator } from '../helpers/simulator.js';

const cli = runCli;

describe('convex-bridge CLI (export side)', () => {
  const f = useSimulator();

  it('sets up resources, exports until caught up, reports status, and resyncs', {
    timeout: 60_000,
  }, async () => {
    const id = randomUUID().slice(0, 8);
    f.write([{ op: 'insert', table: 'cli_docs', doc: { a: 1 } }]);
    const env = {
      CONVEX_URL: f.sim.url,
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      BRIDGE_STREAM_NAME: `cli-${id}`,
      BRIDGE_STATE_TABLE: `cli-state-${id}`,
      BRIDGE_OVERSIZE_BUCKET: `cli-bucket-${id}`,
      BRIDGE_INCLUDE_TABLES: 'cli_docs',
    };
    const setup = await cli(['setup'], env);
    expect(setup).toMatchObject({ code: 0 });
    expect(setup.stdout).toContain(`stream cli-${id}: created`);
    expect((await cli(['setup'], env)).stdout).toContain(`stream cli-${id}: exists`);

    const run = await cli(['export'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /export caught-up: 1 events in \d+ pages \(snapshot 1, upsert 0, delete 0\); phase changes/,
    );

    const tail = await cli(['tail', '--from-start'], env);
    expect(tail.code).toBe(0);
    // The document, and the copy's control events (one copy per shard): the table's schema, the
    // source's truncate as the table enters the sync, snapshot-complete.
    const lines = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { op: string });
    expect(lines.filter((l) => l.op === 'snapshot')).toHaveLength(1);
    expect(new Set(lines.filter((l) => l.op !== 'snapshot').map((l) => l.op))).toEqual(
      new Set(['schema', 'truncate', 'snapshot-complete']),
    );
    expect(lines.find((l) => l.op === 'snapshot')).toMatchObject({
      v: 1,
      op: 'snapshot',
      table: 'cli_docs',
      ts: expect.stringMatching(/^\d{19}$/),
    });
    expect((await cli(['tail', '--from-start', '--table', 'other'], env)).stdout).toBe('');

    const status = await cli(['status', '--json'], env);
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout) as Record<string, unknown>;
    // A new export starts on Data Sync, which the simulator serves (BRIDGE_SOURCE=auto).
    expect(report).toMatchObject({
      phase: 'changes',
      source: 'data-sync',
      syncStatus: 'upToDate',
      generation: 1,
      cursorAgeSeconds: expect.any(Number),
    });
    expect(report.lease).toBeUndefined();

    const refused = await cli(['resync'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes to confirm');
    const resync = await cli(['resync', '--yes'], env);
    expect(resync).toMatchObject({ code: 0 });
    expect(JSON.parse((await cli(['status', '--json'], env)).stdout)).toMatchObject({
      phase: 'snapshot',
      generation: 2,
    });
    expect((await cli(['export'], env)).stdout).toContain('snapshot 1');
    // The operator's resync is announced like an automatic one.
    const after = (await cli(['tail', '--from-start'], env)).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { op: string; generation?: number; reason?: string });
    expect(after.filter((l) => l.op === 'resync-start').every((l) => l.reason === 'operator')).toBe(
      true,
    );
    expect(after.some((l) => l.op === 'snapshot-complete' && l.generation === 2)).toBe(true);
  });

  it('fails with exit 2 and names the missing settings', async () => {
    const result = await cli(['export'], { CONVEX_URL: '', BRIDGE_STREAM_NAME: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'BRIDGE_STATE_TABLE is required (the DynamoDB table for cursors and the lease), e.g. BRIDGE_STATE_TABLE=convex-bridge-state',
    );
    // Empty variables count as unset (issue 15 (6)).
    expect(result.stderr).toContain('CONVEX_URL is required');
  });
});
