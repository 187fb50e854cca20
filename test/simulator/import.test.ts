import { describe, expect, it } from 'vitest';
import { decodeEncodedJson } from '../../simulator/values.js';
import { useSimulator } from '../helpers/simulator.js';

type Json = Record<string, unknown>;

// docs/convex-api.md §11.11: streaming import semantics.
describe('simulator streaming import', () => {
  const f = useSimulator();
  const importRecords = (body: object) =>
    f.call('/api/streaming_import/import_airbyte_records', { method: 'POST', body });
  const docs = (table: string) => f.sim.deployment.documents(table) as Json[];
  const addIndex = (table: string, key: string[][]) =>
    f.call('/api/streaming_import/add_primary_key_indexes', {
      method: 'PUT',
      body: { indexes: { [table]: key } },
    });
  const ready = (tables: string[]) =>
    f.call('/api/streaming_import/primary_key_indexes_ready', { method: 'GET', body: { tables } });
  const waitReady = async (tables: string[]) => {
    for (let i = 0; i < 10; i++)
      if (((await ready(tables)).json as { indexesReady: boolean }).indexesReady) return;
    throw new Error('index never became ready');
  };

  it('answers success with 200 and an empty body', async () => {
    const res = await importRecords({
      tables: { im_plain: { jsonSchema: {} } },
      messages: [{ tableName: 'im_plain', data: { a: 1 } }],
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(res.headers['content-type']).toBeUndefined();
  });

  it('rewrites invalid table and field names with source_, recursively', async () => {
    const res = await importRecords({
      tables: { 'my-table': { jsonSchema: {} } },
      messages: [
        {
          tableName: 'my-table',
          data: { _id: 'x', 'first name': 'A', nested: { $integer: 'y', ok: 1 } },
        },
      ],
    });
    expect(res.status).toBe(200);
    const [doc] = docs('source_my_table');
    expect(doc).toMatchObject({
      source_id: 'x',
      source_first_name: 'A',
      nested: { source_integer: 'y', ok: 1 },
    });
  });

  it('stores every JSON number as Float64, losing int64 precision', async () => {
    const body =
      '{"tables":{"im_num":{"jsonSchema":{}}},"messages":[{"tableName":"im_num","data":{"n":12345678901234567891}}]}';
    const res = await f.call('/api/streaming_import/import_airbyte_records', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    const [doc] = docs('im_num');
    expect(typeof doc?.n).toBe('number');
    expect(BigInt(doc?.n as number)).not.toBe(12345678901234567891n);
  });

  it('inserts deletes as ordinary rows in append mode, stripping CDC fields', async () => {
    const res = await importRecords({
      tables: { im_append: { primaryKey: null, jsonSchema: {} } },
      messages: [
        {
          tableName: 'im_append',
          data: { k: 1, _ab_cdc_deleted_at: '2024-01-01', _ab_cdc_lsn: 5 },
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(docs('im_append')).toEqual([expect.objectContaining({ k: 1 })]);
    expect(Object.keys(docs('im_append')[0] ?? {}).some((k) => k.includes('cdc'))).toBe(false);
  });

  it('needs the primary-key index, which backfills asynchronously', async () => {
    const body = {
      tables: { im_dedup: { primaryKey: [['email']], jsonSchema: {} } },
      messages: [{ tableName: 'im_dedup', data: { email: 'a' } }],
    };
    const missing = await importRecords(body);
    expect(missing.status).toBe(400);
    expect((missing.json as Json).code).toBe('MissingIndex');
    expect((await addIndex('im_dedup', [['email']])).status).toBe(200);
    expect((await ready(['im_dedup'])).json).toEqual({ indexesReady: false });
    expect((await ready(['im_dedup'])).json).toEqual({ indexesReady: true });
  });

  it('upserts and deletes by primary key in dedup mode; a delete of an unknown key inserts a row', async () => {
    await addIndex('im_pk', [['org', 'id']]);
    await waitReady(['im_pk']);
    const table = { im_pk: { primaryKey: [['org', 'id']], jsonSchema: {} } };
    const msg = (id: number, extra: Json = {}) => ({
      tableName: 'im_pk',
      data: { org: { id }, ...extra },
    });
    await importRecords({
      tables: table,
      messages: [msg(1, { v: 'a' }), msg(2, { v: 'b' }), msg(3, { v: 'c' })],
    });
    const before = docs('im_pk').find((d) => (d.org as Json).id === 1);
    await importRecords({
      tables: table,
      messages: [
        msg(1, { v: 'a2' }),
        msg(1, { v: 'a3' }),
        msg(3, { _ab_cdc_deleted_at: 'now' }),
        msg(4, { _ab_cdc_deleted_at: 'now' }),
      ],
    });
    const after = docs('im_pk');
    const byId = new Map(after.map((d) => [(d.org as Json).id, d]));
    expect([...byId.keys()].sort()).toEqual([1, 2, 4]);
    expect(byId.get(1)).toMatchObject({
      v: 'a3',
      _id: before?._id,
      _creationTime: before?._creationTime,
    });
  });

  it('rejects a message for a table missing from tables with 400 MissingStream', async () => {
    const res = await importRecords({
      tables: { im_a: { jsonSchema: {} } },
      messages: [{ tableName: 'im_b', data: {} }],
    });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ code: 'MissingStream', message: 'Missing stream for table im_b' });
  });

  it('rejects an empty primary key with 400 EmptyPrimaryKey and a missing key value with MissingPrimaryKeyValue', async () => {
    const empty = await importRecords({
      tables: { im_e: { primaryKey: [], jsonSchema: {} } },
      messages: [],
    });
    expect(empty.json).toEqual({
      code: 'EmptyPrimaryKey',
      message: 'Primary keys cannot be empty',
    });
    await addIndex('im_mk', [['k']]);
    await waitReady(['im_mk']);
    const res = await importRecords({
      tables: { im_mk: { primaryKey: [['k']], jsonSchema: {} } },
      messages: [{ tableName: 'im_mk', data: { other: 1 } }],
    });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      code: 'MissingPrimaryKeyValue',
      message: 'Missing value for primary key field: k',
    });
  });

  it('validates index fields: InvalidPrimaryKey, IndexFieldNameReserved, IndexFieldsContainCreationTime', async () => {
    expect(((await addIndex('im_i', [['bad-name']])).json as Json).code).toBe('InvalidPrimaryKey');
    expect(((await addIndex('im_i', [['_private']])).json as Json).code).toBe(
      'IndexFieldNameReserved',
    );
    expect(((await addIndex('im_i', [['_creationTime']])).json as Json).code).toBe(
      'IndexFieldsContainCreationTime',
    );
  });

  it('answers MissingIndex for readiness of a table without an index', async () => {
    const res = await ready(['im_never_indexed']);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      code: 'MissingIndex',
      message: 'Missing index: im_never_indexed._by_airbyte_primary_key',
    });
  });

  it('answers a non-object data with the generic 500 and missing required keys with BadJsonBody', async () => {
    const res = await importRecords({
      tables: { im_x: { jsonSchema: {} } },
      messages: [{ tableName: 'im_x', data: [1] }],
    });
    expect(res.status).toBe(500);
    const noSchema = await importRecords({ tables: { im_x: {} }, messages: [] });
    expect((noSchema.json as Json).code).toBe('BadJsonBody');
  });

  it('commits every transactionMaxWrites records in a separate transaction', async () => {
    f.sim.knobs.transactionMaxWrites = 10;
    const start = f.sim.deployment.now();
    const messages = Array.from({ length: 25 }, (_, i) => ({ tableName: 'im_tx', data: { i } }));
    expect((await importRecords({ tables: { im_tx: { jsonSchema: {} } }, messages })).status).toBe(
      200,
    );
    const stamps = f.sim.deployment.log
      .filter((e) => e.ts > start && e.record.tablet.name === 'im_tx')
      .map((e) => e.ts);
    expect(new Set(stamps).size).toBe(3);
  });

  it('commits a prefix before failing when a partial-commit fault is injected', async () => {
    f.sim.knobs.transactionMaxWrites = 4;
    f.sim.faults.configure({
      script: [{ path: 'import_airbyte_records', action: { kind: 'partialImport', records: 6 } }],
    });
    const messages = Array.from({ length: 10 }, (_, i) => ({
      tableName: 'im_partial',
      data: { i },
    }));
    const res = await importRecords({ tables: { im_partial: { jsonSchema: {} } }, messages });
    expect(res.status).toBe(500);
    expect(
      docs('im_partial')
        .map((d) => d.i)
        .sort(),
    ).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('enforces the 20 MiB import body limit by default', async () => {
    expect(f.sim.knobs.importBodyLimitBytes).toBe(20 * 1024 * 1024);
    const pad = 'x'.repeat(1024 * 1024 - 100);
    const messages = Array.from({ length: 21 }, () => ({ tableName: 'im_big', data: { pad } }));
    const res = await importRecords({ tables: { im_big: { jsonSchema: {} } }, messages });
    expect(res.status).toBe(400);
    expect((res.json as Json).code).toBe('BadJsonBody');
    const fits = await importRecords({
      tables: { im_big: { jsonSchema: {} } },
      messages: messages.slice(0, 19),
    });
    expect(fits.status).toBe(200);
  });

  it('exposes stored documents in encoded JSON through the admin route', async () => {
    const res = await f.raw('/_sim/documents?table=im_plain');
    const [doc] = (res.json as { documents: unknown[] }).documents.map((d) => decodeEncodedJson(d));
    expect(doc).toMatchObject({ a: 1 });
  });
});

// docs/convex-api.md §11.12: clear_tables and replace_tables.
describe('simulator clear_tables', () => {
  const f = useSimulator();

  it('empties tables atomically, creates missing ones, and emits no delete events', async () => {
    f.write(
      Array.from({ length: 5 }, (_, i) => ({ op: 'insert' as const, table: 'ct_a', doc: { i } })),
    );
    f.write([{ op: 'insert', table: 'ct_b', doc: { i: 0 } }]);
    const cursor = f.sim.deployment.now();
    const res = await f.call('/api/streaming_import/clear_tables', {
      method: 'PUT',
      body: { tableNames: ['ct_a', 'ct_b', 'ct_new'] },
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(f.sim.deployment.documents('ct_a')).toEqual([]);
    expect(f.sim.deployment.tablet('', 'ct_new')).toBeDefined();
    const deltas = await f.call(`/api/document_deltas?cursor=${cursor}`);
    expect((deltas.json as { values: unknown[] }).values).toEqual([]);
    const clearedAt = f.sim.deployment.tablet('', 'ct_a')?.createdTs;
    expect(f.sim.deployment.tablet('', 'ct_b')?.createdTs).toBe(clearedAt);
  });

  it('keeps the table number, so old document ids stay recognisable, and streams new writes', async () => {
    const before = f.sim.deployment.tablet('', 'ct_a');
    const cursor = f.sim.deployment.now();
    f.write([{ op: 'insert', table: 'ct_a', doc: { fresh: true } }]);
    const deltas = await f.call(`/api/document_deltas?cursor=${cursor}&tableName=ct_a`);
    expect((deltas.json as { values: Json[] }).values).toEqual([
      expect.objectContaining({ fresh: true }),
    ]);
    expect(f.sim.deployment.tablet('', 'ct_a')?.tableNumber).toBe(before?.tableNumber);
  });

  it('answers replace_tables with 400 OverwriteNotSupported, without checking permission', async () => {
    const res = await f.raw('/api/streaming_import/replace_tables', {
      method: 'POST',
      body: { tableNames: { tmp: 'final' } },
    });
    expect(res.status).toBe(400);
    expect((res.json as Json).code).toBe('OverwriteNotSupported');
  });
});
