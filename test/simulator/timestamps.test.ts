import { describe, expect, it } from 'vitest';
import { parsePage } from '../helpers/lossless.js';
import { useSimulator } from '../helpers/simulator.js';

// docs/convex-api.md §11.4: nanosecond int64 timestamps, shared per transaction, strictly increasing.
describe('simulator timestamps', () => {
  const f = useSimulator();
  const deltas = async (cursor: bigint | string, query = '') =>
    parsePage((await f.call(`/api/document_deltas?cursor=${cursor}${query}`)).text);

  it('gives every write of one transaction the same _ts and later transactions larger ones', async () => {
    const start = f.sim.deployment.now();
    const first = f.write([
      { op: 'insert', table: 'ts_a', doc: { n: 1 } },
      { op: 'insert', table: 'ts_b', doc: { n: 2 } },
      { op: 'insert', table: 'ts_a', doc: { n: 3 } },
    ]);
    const second = f.write([{ op: 'insert', table: 'ts_a', doc: { n: 4 } }]);
    const page = await deltas(start);
    const rows = page.values.filter((r) => r._table.startsWith('ts_'));
    expect(rows.map((r) => r._ts)).toEqual([
      ...Array(3).fill(first.ts.toString()),
      second.ts.toString(),
    ]);
    expect(second.ts).toBeGreaterThan(first.ts);
  });

  it('uses nanoseconds beyond 2^53 that JSON.parse cannot represent exactly', async () => {
    const stamps = Array.from(
      { length: 20 },
      (_, i) => f.write([{ op: 'insert', table: 'ts_ns', doc: { i } }]).ts,
    );
    for (const ts of stamps) expect(ts).toBeGreaterThan(2n ** 53n);
    // With real sub-millisecond digits, float64 rounding (ulp 256) changes almost every value.
    const rounded = stamps.filter((ts) => BigInt(Number(ts)) !== ts);
    expect(rounded.length).toBeGreaterThan(10);
    const now = BigInt(Date.now()) * 1_000_000n;
    expect(stamps[0]).toBeGreaterThan(now - 60_000_000_000n); // nanoseconds of wall time, not a counter
  });

  it('treats the cursor as exclusive: a cursor equal to a commit ts skips that commit', async () => {
    const a = f.write([{ op: 'insert', table: 'ts_excl', doc: { n: 1 } }]);
    const b = f.write([{ op: 'insert', table: 'ts_excl', doc: { n: 2 } }]);
    const fromA = await deltas(a.ts, '&tableName=ts_excl');
    expect(fromA.values.map((r) => r._ts)).toEqual([b.ts.toString()]);
    const beforeA = await deltas(a.ts - 1n, '&tableName=ts_excl');
    expect(beforeA.values.map((r) => r._ts)).toEqual([a.ts.toString(), b.ts.toString()]);
  });

  it('sends the cursor back byte-identical, e.g. 1718000001000000007', async () => {
    f.sim.knobs.retentionSeconds = 10 * 365 * 24 * 3600;
    f.sim.knobs.documentDeltasLimit = 1;
    const old = 1718000001000000007n;
    const page = await deltas(old);
    expect(page.hasMore).toBe(true);
    // The first page ends at a real commit; asking from exactly that value returns later rows only.
    const again = await deltas(BigInt(page.cursor as string));
    expect(again.values.every((r) => BigInt(r._ts) > BigInt(page.cursor as string))).toBe(true);
    const post = await f.call('/api/document_deltas', {
      method: 'POST',
      body: `{"cursor":${old}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(parsePage(post.text).cursor).toBe(page.cursor);
  });
});
