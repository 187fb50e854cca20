import { describe, expect, it } from 'vitest';
import { replaceTable } from '../../simulator/admin-routes.js';
import {
  exportTexts,
  onlyTables,
  parseSyncPage,
  type SyncPage,
  SyncReplica,
  useSimulator,
} from '../helpers/simulator.js';

// docs/convex-api.md §5: truncates, the only signal of a cleared or replaced table.
describe('simulator data sync truncates', () => {
  const f = useSimulator();
  const sync = async (body: object): Promise<SyncPage> => {
    const res = await f.call('/api/v1/data/sync', { method: 'POST', body });
    expect(res.status, res.text).toBe(200);
    return parseSyncPage(res.text);
  };
  /** Pages to upToDate, applying each to `replica`; returns the pages. */
  const catchUp = async (replica: SyncReplica, selection: object, cursor?: string) => {
    const pages: SyncPage[] = [];
    let next = cursor;
    for (;;) {
      const page = await sync({ cursor: next, selection });
      replica.apply(page);
      pages.push(page);
      next = page.pagination.nextCursor;
      if (page.status.type === 'upToDate') return { pages, cursor: next };
      if (pages.length > 50) throw new Error('never caught up');
    }
  };
  const truncated = (pages: SyncPage[]) => pages.flatMap((p) => p.truncates.map((t) => t.table));

  it('truncates every selected table once as its walk begins on a cold start, empty tables too', async () => {
    f.write([{ op: 'insert', table: 'tr_full', doc: { a: 1 } }]);
    await f.call('/api/streaming_import/clear_tables', {
      method: 'PUT',
      body: { tableNames: ['tr_empty'] },
    });
    const replica = new SyncReplica();
    const { pages } = await catchUp(replica, onlyTables('tr_full', 'tr_empty', 'tr_missing'));
    expect(truncated(pages).sort()).toEqual(['tr_empty', 'tr_full']);
    // Truncates apply before values: no table has values on a page before its truncate.
    const seenTruncate = new Set<string>();
    for (const page of pages) {
      for (const t of page.truncates) seenTruncate.add(t.table);
      for (const v of page.values) expect(seenTruncate).toContain(v.table);
    }
    expect(pages[0]?.truncates.length).toBeGreaterThan(0);
  });

  it('truncates a table created after the sync caught up, then sends its rows', async () => {
    const replica = new SyncReplica();
    const sel = onlyTables('tr_anchor', 'tr_later');
    f.write([{ op: 'insert', table: 'tr_anchor', doc: {} }]);
    const start = await catchUp(replica, sel);
    f.write([{ op: 'insert', table: 'tr_later', doc: { n: 1 } }]);
    const { pages } = await catchUp(replica, sel, start.cursor);
    expect(truncated(pages)).toEqual(['tr_later']);
    expect(replica.table('tr_later')).toEqual(exportTexts(f.sim, 'tr_later'));
  });

  it('truncates a table newly added to the selection and walks its current rows', async () => {
    f.write([
      { op: 'insert', table: 'tr_first', doc: {} },
      { op: 'insert', table: 'tr_added', doc: { x: 1 } },
      { op: 'insert', table: 'tr_added', doc: { x: 2 } },
    ]);
    const replica = new SyncReplica();
    const start = await catchUp(replica, onlyTables('tr_first'));
    const { pages } = await catchUp(replica, onlyTables('tr_first', 'tr_added'), start.cursor);
    expect(truncated(pages)).toEqual(['tr_added']);
    expect(replica.table('tr_added')).toEqual(exportTexts(f.sim, 'tr_added'));
  });

  it('does not truncate a deselected table, and truncates it again when it is selected again', async () => {
    f.write([
      { op: 'insert', table: 'tr_stay', doc: {} },
      { op: 'insert', table: 'tr_toggle', doc: {} },
    ]);
    const replica = new SyncReplica();
    const both = onlyTables('tr_stay', 'tr_toggle');
    const start = await catchUp(replica, both);
    f.write([{ op: 'insert', table: 'tr_toggle', doc: { unseen: true } }]);
    const dropped = await catchUp(replica, onlyTables('tr_stay'), start.cursor);
    expect(truncated(dropped.pages)).toEqual([]);
    expect(dropped.pages.flatMap((p) => p.values)).toEqual([]);
    expect(replica.table('tr_toggle')).toHaveLength(1); // the consumer keeps what it had
    const again = await catchUp(replica, both, dropped.cursor);
    expect(truncated(again.pages)).toEqual(['tr_toggle']);
    expect(replica.table('tr_toggle')).toEqual(exportTexts(f.sim, 'tr_toggle'));
  });

  it('truncates a table emptied by clear_tables, with no tombstones, ending equal to the deployment', async () => {
    f.write([1, 2, 3].map((i) => ({ op: 'insert' as const, table: 'tr_cleared', doc: { i } })));
    const replica = new SyncReplica();
    const sel = onlyTables('tr_cleared');
    const start = await catchUp(replica, sel);
    expect(replica.table('tr_cleared')).toHaveLength(3);
    await f.call('/api/streaming_import/clear_tables', {
      method: 'PUT',
      body: { tableNames: ['tr_cleared'] },
    });
    f.write([{ op: 'insert', table: 'tr_cleared', doc: { after: true } }]);
    const { pages } = await catchUp(replica, sel, start.cursor);
    expect(truncated(pages)).toEqual(['tr_cleared']);
    expect(pages.flatMap((p) => p.values).filter((v) => v.deleted)).toEqual([]);
    expect(replica.table('tr_cleared')).toEqual(exportTexts(f.sim, 'tr_cleared'));
    expect(replica.table('tr_cleared')).toHaveLength(1);
  });

  it('truncates a replaced table (import --replace), with no tombstones, ending equal to the deployment', async () => {
    f.write([1, 2].map((i) => ({ op: 'insert' as const, table: 'tr_replaced', doc: { old: i } })));
    const replica = new SyncReplica();
    const sel = onlyTables('tr_replaced');
    const start = await catchUp(replica, sel);
    const { ids } = replaceTable(f.sim.deployment, 'tr_replaced', [
      { fresh: 1 },
      { fresh: 2 },
      { fresh: 3 },
    ]);
    const { pages } = await catchUp(replica, sel, start.cursor);
    expect(truncated(pages)).toEqual(['tr_replaced']);
    expect(pages.flatMap((p) => p.values).filter((v) => v.deleted)).toEqual([]);
    expect(replica.table('tr_replaced')).toEqual(exportTexts(f.sim, 'tr_replaced'));
    expect(
      replica
        .table('tr_replaced')
        .map((t) => JSON.parse(t)._id)
        .sort(),
    ).toEqual([...ids].sort());
  });

  it('replaces a table through POST /_sim/replace_table, leaving no deletion rows in document_deltas', async () => {
    const { ts } = f.write([{ op: 'insert', table: 'tr_route', doc: { old: true } }]);
    const res = await f.raw('/_sim/replace_table', {
      method: 'POST',
      body: { table: 'tr_route', docs: [{ n: { $integer: 'AQAAAAAAAAA=' } }] },
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ ts: expect.stringMatching(/^\d{19}$/), ids: [expect.any(String)] });
    expect(f.sim.deployment.documents('tr_route')).toEqual([expect.objectContaining({ n: 1n })]);
    const deltas = await f.call(`/api/document_deltas?cursor=${ts}&tableName=tr_route`);
    expect(deltas.text).not.toContain('"_deleted":true');
  });
});
