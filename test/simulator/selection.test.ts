import { beforeAll, describe, expect, it } from 'vitest';
import { parsePage } from '../helpers/lossless.js';
import { useSimulator } from '../helpers/simulator.js';

// docs/convex-api.md §11.9: selection semantics, including the silent fall-back to everything.
describe('simulator selection', () => {
  const f = useSimulator();
  /** Every `component/table` with a row in the whole snapshot, following cursors page by page. */
  const collectTables = async (
    request: (more: { cursor?: string; snapshot?: string }) => ReturnType<typeof f.call>,
  ) => {
    const tables = new Set<string>();
    let cursor: string | null = null;
    let snapshot: string | undefined;
    for (;;) {
      const res = await request({
        ...(cursor ? { cursor } : {}),
        ...(snapshot ? { snapshot } : {}),
      });
      expect(res.status).toBe(200);
      const page = parsePage(res.text);
      for (const r of page.values) tables.add(`${r._component}/${r._table}`);
      snapshot = page.snapshot;
      cursor = page.cursor;
      if (!page.hasMore) return [...tables].sort();
    }
  };
  /** Through POST with a JSON body (the snapshot is an int64, so it is spliced in as a number). */
  const tablesIn = (body: object) =>
    collectTables(({ cursor, snapshot }) =>
      f.call('/api/list_snapshot', {
        method: 'POST',
        body: JSON.stringify({ ...body, ...(cursor ? { cursor } : {}) }).replace(
          /}$/,
          snapshot ? `,"snapshot":${snapshot}}` : '}',
        ),
        headers: { 'content-type': 'application/json' },
      }),
    );
  /** Through GET with query parameters. */
  const tablesInQuery = (query: Record<string, string>) =>
    collectTables((more) =>
      f.call(`/api/list_snapshot?${new URLSearchParams({ ...query, ...more })}`),
    );

  // Every test reads these tables in two components; none leaves a row behind in them.
  const everything = ['/posts', '/users', 'chat/users'];
  beforeAll(() => {
    f.write([
      { op: 'insert', table: 'users', doc: { name: 'a', ssn: '1' } },
      { op: 'insert', table: 'posts', doc: { t: 'x' } },
      { op: 'insert', table: 'users', component: 'chat', doc: { name: 'b' } },
    ]);
  });

  it('lists every table of both components without a selection', async () => {
    expect(await tablesIn({})).toEqual(everything);
  });

  it('selects one root table by tableName or table_name', async () => {
    expect(await tablesIn({ tableName: 'users' })).toEqual(['/users']);
    expect(await tablesIn({ table_name: 'users' })).toEqual(['/users']);
    expect(await tablesIn({ tableName: 'users', component: 'chat' })).toEqual(['chat/users']);
  });

  it('selects a whole component with component alone', async () => {
    expect(await tablesIn({ component: 'chat' })).toEqual(['chat/users']);
  });

  it('applies a full selection object, dropping excluded columns but never _id', async () => {
    const selection = {
      _other: 'excluded',
      '': { _other: 'excluded', users: { _other: 'included', ssn: 'excluded' } },
    };
    expect(await tablesIn({ selection })).toEqual(['/users']);
    const res = await f.call('/api/list_snapshot', { method: 'POST', body: { selection } });
    const rows = parsePage(res.text).values;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'a', _id: expect.any(String) });
    expect(rows[0]).not.toHaveProperty('ssn');
  });

  it('silently exports everything when the selection object is malformed', async () => {
    const typo = { _other: 'include', '': { _other: 'excluded' } };
    expect(await tablesIn({ selection: typo })).toEqual(everything);
    expect(await tablesIn({ selection: { '': 'excluded' } })).toEqual(everything);
  });

  it('falls back to everything for an unknown GET key like selection=', async () => {
    expect(await tablesInQuery({ selection: 'users' })).toEqual(everything);
    expect(await tablesInQuery({ tableName: 'users' })).toEqual(['/users']); // a known key does select
  });

  it('answers invalid names with the generic 500 and unknown tables with empty results', async () => {
    const bad = await f.call('/api/list_snapshot', { method: 'POST', body: { tableName: '' } });
    expect(bad.status).toBe(500);
    const badComponent = await f.call('/api/list_snapshot', {
      method: 'POST',
      body: { component: 'a b' },
    });
    expect(badComponent.status).toBe(500);
    expect(await tablesIn({ tableName: 'nothing_here' })).toEqual([]);
  });

  it('rejects excluding _id with the generic 500', async () => {
    const selection = {
      _other: 'included',
      '': { _other: 'included', users: { _other: 'included', _id: 'excluded' } },
    };
    const res = await f.call('/api/list_snapshot', { method: 'POST', body: { selection } });
    expect(res.status).toBe(500);
  });

  it('filters document_deltas the same way, and deletions carry only _id', async () => {
    const start = f.sim.deployment.now();
    const { ids } = f.write([{ op: 'insert', table: 'users', doc: { name: 'c', ssn: '9' } }]);
    f.write([{ op: 'delete', id: ids[0] as string }]);
    const selection = {
      _other: 'excluded',
      '': { _other: 'excluded', users: { _other: 'included', ssn: 'excluded' } },
    };
    const res = await f.call('/api/document_deltas', {
      method: 'POST',
      body: `{"cursor":${start},"selection":${JSON.stringify(selection)}}`,
      headers: { 'content-type': 'application/json' },
    });
    const rows = parsePage(res.text).values;
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ _table: 'users', _id: ids[0], name: 'c' });
    expect(rows[0]).not.toHaveProperty('ssn');
    expect(Object.keys(rows[1] ?? {})).toEqual(['_component', '_table', '_ts', '_deleted', '_id']);
  });
});
