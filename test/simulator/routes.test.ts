import { describe, expect, it } from 'vitest';
import { useSimulator } from '../helpers/simulator.js';

// docs/convex-api.md §11.1: routes and methods exactly as the real router has them.
describe('simulator routes', () => {
  const f = useSimulator();

  it.each([
    ['GET', '/api/list_snapshot'],
    ['POST', '/api/list_snapshot'],
    ['GET', '/api/document_deltas?cursor=NOW'],
    ['POST', '/api/document_deltas'],
    ['GET', '/api/json_schemas'],
    ['GET', '/api/test_streaming_export_connection'],
  ])('serves %s %s', async (method, path) => {
    const now = f.sim.deployment.now().toString();
    const body =
      method === 'POST' ? (path.includes('deltas') ? `{"cursor":${now}}` : '{}') : undefined;
    const res = await f.call(path.replace('NOW', now), {
      method,
      ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
  });

  it.each([
    ['POST', '/api/json_schemas'],
    ['POST', '/api/streaming_import/clear_tables'],
    ['POST', '/api/streaming_import/add_primary_key_indexes'],
    ['PUT', '/api/streaming_import/import_airbyte_records'],
    ['POST', '/api/streaming_import/primary_key_indexes_ready'],
    ['DELETE', '/api/list_snapshot'],
  ])('answers %s %s with 405 and an empty body', async (method, path) => {
    const res = await f.call(path, { method });
    expect(res.status).toBe(405);
    expect(res.text).toBe('');
  });

  it('answers unknown paths with 404 and an empty body', async () => {
    const res = await f.call('/api/streaming_export/list_snapshot');
    expect(res.status).toBe(404);
    expect(res.text).toBe('');
  });

  it('serves /version without auth as text', async () => {
    const res = await f.raw('/version');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('accepts primary_key_indexes_ready as a GET with a JSON body', async () => {
    await f.call('/api/streaming_import/add_primary_key_indexes', {
      method: 'PUT',
      body: { indexes: { routes_t: [['k']] } },
    });
    const res = await f.call('/api/streaming_import/primary_key_indexes_ready', {
      method: 'GET',
      body: { tables: ['routes_t'] },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ indexesReady: expect.any(Boolean) });
  });
});
