import { describe, expect, it } from 'vitest';
import { useSimulator } from '../helpers/simulator.js';

const GENERIC = {
  code: 'InternalServerError',
  message: "Your request couldn't be completed. Try again later.",
};

// docs/convex-api.md §11.3: the {code, message} envelope, untagged 500s, 400 for oversize bodies.
describe('simulator error envelope', () => {
  const f = useSimulator();

  it('sends errors as JSON {code, message} with a JSON content type', async () => {
    const res = await f.call('/api/document_deltas');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.json).toEqual({
      code: 'DocumentDeltasCursorRequired',
      message: '/api/document_deltas requires a cursor',
    });
  });

  it('answers a negative cursor with the generic 500', async () => {
    const res = await f.call('/api/document_deltas?cursor=-5');
    expect(res.status).toBe(500);
    expect(res.json).toEqual(GENERIC);
  });

  it('answers an invalid table name in a selection with the generic 500', async () => {
    const res = await f.call('/api/list_snapshot?tableName=my-table');
    expect(res.status).toBe(500);
    expect(res.json).toEqual(GENERIC);
  });

  it('answers an import body over the limit with 400 BadJsonBody, not 413', async () => {
    f.sim.knobs.importBodyLimitBytes = 1000;
    const res = await f.call('/api/streaming_import/import_airbyte_records', {
      method: 'POST',
      body: {
        tables: { t: { jsonSchema: {} } },
        messages: [{ tableName: 't', data: { pad: 'x'.repeat(2000) } }],
      },
    });
    expect(res.status).toBe(400);
    expect((res.json as { code: string }).code).toBe('BadJsonBody');
  });

  it('limits other JSON routes to 2 MiB by default', async () => {
    const names = Array.from({ length: 200_000 }, (_, i) => `table_${i}`);
    const res = await f.call('/api/streaming_import/clear_tables', {
      method: 'PUT',
      body: { tableNames: names },
    });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      code: 'BadJsonBody',
      message: expect.stringContaining('length limit exceeded'),
    });
  });

  it('requires Content-Type: application/json on JSON bodies, including the GET with a body', async () => {
    const res = await f.call('/api/streaming_import/primary_key_indexes_ready', {
      method: 'GET',
      body: '{"tables":[]}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      code: 'BadJsonBody',
      message: 'Expected request with `Content-Type: application/json`',
    });
  });

  it('rejects a quoted number where the body needs an int64', async () => {
    const res = await f.call('/api/document_deltas', { method: 'POST', body: { cursor: '5' } });
    expect(res.status).toBe(400);
    expect((res.json as { code: string }).code).toBe('BadJsonBody');
  });

  it('rejects a non-numeric query cursor with 400 BadQueryArgs', async () => {
    const res = await f.call('/api/document_deltas?cursor=1.5');
    expect(res.status).toBe(400);
    expect((res.json as { code: string }).code).toBe('BadQueryArgs');
  });
});
