import { describe, expect, it } from 'vitest';
import { estimateSnapshot } from '../../local/snapshot-estimate.js';
import { FatalConvexError } from '../../shared/convex/errors.js';
import { READ_ONLY_KEY, useSimulator } from '../helpers/simulator.js';

describe('POST /api/query for the CLI table-size query', () => {
  const f = useSimulator();

  it('counts live documents of a table, and the client reads the count', async () => {
    const { ids } = f.write([
      { op: 'insert', table: 'counted', doc: { a: 1 } },
      { op: 'insert', table: 'counted', doc: { a: 2 } },
      { op: 'insert', table: 'counted', doc: { a: 3 } },
    ]);
    f.write([{ op: 'delete', id: ids[0] as string }]);
    const res = await f.call('/api/query', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        path: '_system/cli/tableSize:default',
        args: { tableName: 'counted' },
      }),
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'success', value: 2 });
    expect(await f.client().countDocuments('counted')).toBe(2);
    expect(await f.client().countDocuments('never_written')).toBe(0);
  });

  it('answers an unknown function with a 200 function error, which the client raises', async () => {
    const res = await f.call('/api/query', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: 'messages:list', args: {} }),
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'error' });
    // A deployment whose system query fails (e.g. an older backend): the client raises, not 0.
    const failing = f.client({
      transport: async () => ({
        status: 200,
        contentType: 'application/json',
        body: '{"status":"error","errorMessage":"Could not find public function"}',
      }),
    });
    await expect(failing.countDocuments('x')).rejects.toThrow(
      /tableSize:default failed: Could not find public function/,
    );
    await expect(failing.countDocuments('x')).rejects.toBeInstanceOf(FatalConvexError);
  });

  it('refuses an anonymous caller (403) and lets a read-only key count', async () => {
    const anonymous = await f.raw('/api/query', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: '_system/cli/tableSize:default', args: { tableName: 'x' } }),
    });
    expect(anonymous.status).toBe(403);
    const readOnly = f.client({ deployKey: READ_ONLY_KEY });
    expect(await readOnly.countDocuments('counted')).toBeGreaterThanOrEqual(0);
  });

  it('estimates a snapshot from the table list and counts, filtered like the export', async () => {
    f.write([
      { op: 'insert', table: 'est_a', doc: { v: 1 } },
      { op: 'insert', table: 'est_a', doc: { v: 2 } },
      { op: 'insert', table: 'est_b', doc: { v: 3 } },
    ]);
    const estimate = await estimateSnapshot(f.client(), (_c, t) => t.startsWith('est_'));
    expect(estimate).toEqual({ tables: expect.arrayContaining(['est_a', 'est_b']), documents: 3 });
    expect(estimate?.tables).toHaveLength(2);
  });

  it('keeps the table list when the count query fails, and gives up quietly without schemas', async () => {
    const failing = {
      jsonSchemas: async () => ({ t1: {}, t2: {} }),
      countDocuments: async () => {
        throw new FatalConvexError('no such function', { endpoint: '/api/query', status: 200 });
      },
    };
    expect(await estimateSnapshot(failing, () => true)).toEqual({ tables: ['t1', 't2'] });
    const down = {
      jsonSchemas: async () => {
        throw new Error('connection refused');
      },
      countDocuments: async () => 0,
    };
    expect(await estimateSnapshot(down, () => true)).toBeUndefined();
  });
});
