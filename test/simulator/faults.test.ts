import { describe, expect, it } from 'vitest';
import { useSimulator } from '../helpers/simulator.js';

// docs/convex-api.md §11.13: fault injection that real deployments produce.
describe('simulator fault injection', () => {
  const f = useSimulator();
  const snapshot = () => f.call('/api/list_snapshot');

  it('consumes scripted faults in order, only on matching paths', async () => {
    f.sim.faults.configure({
      script: [
        {
          path: 'list_snapshot',
          action: { kind: 'status', status: 503, code: 'OptimisticConcurrencyControlFailure' },
        },
        {
          path: 'list_snapshot',
          action: {
            kind: 'status',
            status: 503,
            code: 'TableSummariesUnavailable',
            message: 'Table summary unavailable (still bootstrapping)',
          },
        },
      ],
    });
    expect((await f.call('/version')).status).toBe(200);
    const first = await snapshot();
    expect(first.status).toBe(503);
    expect((first.json as { code: string }).code).toBe('OptimisticConcurrencyControlFailure');
    expect((await snapshot()).json).toEqual({
      code: 'TableSummariesUnavailable',
      message: 'Table summary unavailable (still bootstrapping)',
    });
    expect((await snapshot()).status).toBe(200);
    expect(f.sim.faults.pending).toBe(0);
  });

  it('can answer with a bare status and no body, as a proxy would', async () => {
    f.sim.faults.configure({ script: [{ action: { kind: 'status', status: 502 } }] });
    const res = await snapshot();
    expect(res.status).toBe(502);
    expect(res.text).toBe('');
  });

  it('resets the connection without an answer', async () => {
    f.sim.faults.configure({ script: [{ action: { kind: 'reset' } }] });
    await expect(snapshot()).rejects.toThrow(/socket hang up|ECONNRESET/);
  });

  it('truncates the body after the headers promised more', async () => {
    f.sim.faults.configure({ script: [{ action: { kind: 'truncate' } }] });
    await expect(snapshot()).rejects.toThrow(/aborted|ECONNRESET|socket hang up/);
    expect(f.sim.stats.get('GET /api/list_snapshot truncated')).toBe(1);
  });

  it('fails a seeded fraction of requests reproducibly', async () => {
    const run = async () => {
      f.sim.faults.configure({
        failRate: { rate: 0.5, seed: 7, action: { kind: 'status', status: 500 } },
      });
      const statuses = [];
      for (let i = 0; i < 20; i++) statuses.push((await snapshot()).status);
      f.sim.faults.clear();
      return statuses;
    };
    const a = await run();
    expect(a.filter((s) => s === 500).length).toBeGreaterThan(3);
    expect(a.filter((s) => s === 200).length).toBeGreaterThan(3);
    expect(await run()).toEqual(a);
  });

  it('adds latency, and answers 408 with no body once latency reaches the request timeout', async () => {
    f.sim.faults.configure({ latencyMs: 50 });
    const t0 = Date.now();
    expect((await snapshot()).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    f.sim.knobs.requestTimeoutMs = 20;
    const res = await snapshot();
    expect(res.status).toBe(408);
    expect(res.text).toBe('');
  });
});
