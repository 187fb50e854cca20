import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeInt64 } from '../../simulator/values.js';
import { parsePage } from '../helpers/lossless.js';
import { rawRequest } from '../helpers/raw-http.js';
import { useSimulator } from '../helpers/simulator.js';

describe('simulator admin routes, from outside the process', () => {
  const f = useSimulator();

  it('writes a multi-document transaction at one timestamp and reads documents back', async () => {
    const res = await f.raw('/_sim/transaction', {
      method: 'POST',
      body: {
        writes: [
          { op: 'insert', table: 'adm', doc: { n: encodeInt64(7n) } },
          { op: 'insert', table: 'adm', doc: { n: 2 } },
        ],
      },
    });
    expect(res.status).toBe(200);
    const { ts, ids } = res.json as { ts: string; ids: string[] };
    expect(ts).toMatch(/^\d{19}$/);
    const patch = await f.raw('/_sim/transaction', {
      method: 'POST',
      body: {
        writes: [
          { op: 'patch', id: ids[0], fields: { extra: true } },
          { op: 'delete', id: ids[1] },
        ],
      },
    });
    expect(patch.status).toBe(200);
    const page = parsePage(
      (await f.call(`/api/document_deltas?cursor=${BigInt(ts) - 1n}&tableName=adm`)).text,
    );
    const [first, second] = [page.values.slice(0, 2), page.values.slice(2)];
    expect(first.map((r) => [r._ts, r._deleted])).toEqual([
      [ts, false],
      [ts, false],
    ]);
    // The second transaction: one commit ts, rows in id order, so patch and delete in either order.
    expect(second).toHaveLength(2);
    expect(second[0]?._ts).toBe(second[1]?._ts);
    expect(BigInt(second[0]?._ts as string)).toBeGreaterThan(BigInt(ts));
    expect(second.map((r) => r._deleted).sort()).toEqual([false, true]);
    const docs = await f.raw('/_sim/documents?table=adm');
    expect((docs.json as { documents: unknown[] }).documents).toEqual([
      expect.objectContaining({ extra: true, n: { $integer: encodeInt64(7n).$integer } }),
    ]);
  });

  it('rejects a bad write with a message naming it', async () => {
    const res = await f.raw('/_sim/transaction', {
      method: 'POST',
      body: { writes: [{ op: 'insert', table: 'adm', doc: 5 }] },
    });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      code: 'BadAdminRequest',
      message: 'writes[0].doc must be an object',
    });
  });

  it('configures faults, knobs and the clock, and reports request counts', async () => {
    await f.raw('/_sim/faults', {
      method: 'POST',
      body: { script: [{ path: 'list_snapshot', action: { kind: 'status', status: 503 } }] },
    });
    expect((await f.call('/api/list_snapshot')).status).toBe(503);
    await f.raw('/_sim/knobs', { method: 'POST', body: { streamingExportEnabled: false } });
    expect((await f.call('/api/list_snapshot')).status).toBe(403);
    const before = f.sim.deployment.now();
    await f.raw('/_sim/clock', { method: 'POST', body: { advanceMs: 60_000 } });
    expect(f.sim.deployment.now() - before).toBeGreaterThanOrEqual(60_000_000_000n);
    const stats = (await f.raw('/_sim/stats')).json as { requests: Record<string, number> };
    expect(stats.requests).toMatchObject({
      'GET /api/list_snapshot 503': 1,
      'GET /api/list_snapshot 403': 1,
    });
  });
});

describe('convex-bridge-sim CLI', () => {
  const bin = fileURLToPath(new URL('../../bin/convex-bridge-sim.js', import.meta.url));

  it('serves a seeded deployment on loopback and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [
      bin,
      '--port',
      '0',
      '--deploy-key',
      'cli-key',
      '--seed',
      'demo',
      '--knob',
      'snapshotListLimit=7',
    ]);
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
    });
    const page = parsePage(
      (
        await rawRequest(url, '/api/list_snapshot?tableName=users', {
          headers: { authorization: 'Convex cli-key' },
        })
      ).text,
    );
    expect(page.values).toHaveLength(7);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });

  it('exits 2 with a clear message when the deploy key is missing', async () => {
    const env = { ...process.env };
    delete env.CONVEX_DEPLOY_KEY;
    const child = spawn(process.execPath, [bin, '--port', '0'], { env });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(err).toContain('pass --deploy-key KEY or set CONVEX_DEPLOY_KEY');
  });
});
