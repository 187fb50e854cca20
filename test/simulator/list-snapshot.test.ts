import { describe, expect, it } from 'vitest';
import { parsePage, type RawPage } from '../helpers/lossless.js';
import { useSimulator } from '../helpers/simulator.js';

// docs/convex-api.md §11.6: list_snapshot paging, pinning and validation.
describe('simulator list_snapshot paging', () => {
  const f = useSimulator();
  const page = async (query: Record<string, string> = {}) => {
    const res = await f.call(`/api/list_snapshot?${new URLSearchParams(query)}`);
    expect(res.status).toBe(200);
    return parsePage(res.text);
  };
  /** Pages until hasMore is false, passing back snapshot and cursor each time. */
  const all = async (extra: Record<string, string> = {}) => {
    const pages: RawPage[] = [];
    let next = await page(extra);
    pages.push(next);
    while (next.hasMore) {
      next = await page({
        ...extra,
        snapshot: next.snapshot as string,
        cursor: next.cursor as string,
      });
      pages.push(next);
    }
    return pages;
  };

  it('walks one table per page, at most 1024 documents each, ending with cursor null', async () => {
    f.write(
      Array.from({ length: 2500 }, (_, i) => ({
        op: 'insert' as const,
        table: 'ls_big',
        doc: { i },
      })),
    );
    f.write(
      Array.from({ length: 10 }, (_, i) => ({
        op: 'insert' as const,
        table: 'ls_small',
        doc: { i },
      })),
    );
    const pages = await all();
    for (const p of pages) {
      expect(p.values.length).toBeLessThanOrEqual(1024);
      expect(new Set(p.values.map((r) => r._table)).size).toBeLessThanOrEqual(1);
    }
    const big = pages.filter((p) => p.values[0]?._table === 'ls_big').map((p) => p.values.length);
    expect(big).toEqual([1024, 1024, 452]);
    const last = pages.at(-1) as RawPage;
    expect(last.hasMore).toBe(false);
    expect(last.cursor).toBeNull();
    expect(new Set(pages.map((p) => p.snapshot)).size).toBe(1);
  });

  it('returns documents in _id order within a table, never with a _deleted key', async () => {
    const { ids } = f.write(
      Array.from({ length: 30 }, (_, i) => ({
        op: 'insert' as const,
        table: 'ls_order',
        doc: { i },
      })),
    );
    const rows = (await all({ tableName: 'ls_order' })).flatMap((p) => p.values);
    expect(rows.map((r) => r._id)).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    expect(rows.map((r) => r._id)).not.toEqual(ids);
    for (const r of rows) expect(r).not.toHaveProperty('_deleted');
  });

  it('ends a page at a table boundary, so an empty table gives an empty page with hasMore true', async () => {
    await f.call('/api/streaming_import/clear_tables', {
      method: 'PUT',
      body: { tableNames: ['ls_e1', 'ls_e2'] },
    });
    const selection = {
      _other: 'excluded',
      '': { _other: 'excluded', ls_e1: { _other: 'included' }, ls_e2: { _other: 'included' } },
    };
    const post = async (extra: string) => {
      const body = `{"selection":${JSON.stringify(selection)}${extra}}`;
      const res = await f.call('/api/list_snapshot', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      return parsePage(res.text);
    };
    const first = await post('');
    expect([first.values.length, first.hasMore]).toEqual([0, true]);
    const second = await post(
      `,"snapshot":${first.snapshot},"cursor":${JSON.stringify(first.cursor)}`,
    );
    expect([second.values.length, second.hasMore, second.cursor]).toEqual([0, false, null]);
  });

  it('needs one more (empty) page when a table ends exactly at 1024', async () => {
    f.write(
      Array.from({ length: 1024 }, (_, i) => ({
        op: 'insert' as const,
        table: 'ls_exact',
        doc: { i },
      })),
    );
    const pages = await all({ tableName: 'ls_exact' });
    expect(pages.map((p) => [p.values.length, p.hasMore])).toEqual([
      [1024, true],
      [0, false],
    ]);
  });

  it('reports each document at its latest revision at or before the pinned snapshot', async () => {
    f.sim.knobs.snapshotListLimit = 2;
    const { ids, ts } = f.write(
      Array.from({ length: 4 }, (_, i) => ({
        op: 'insert' as const,
        table: 'ls_pin',
        doc: { v: i },
      })),
    );
    const first = await page({ tableName: 'ls_pin' });
    for (const id of ids) f.write([{ op: 'patch', id, fields: { v: 99 } }]);
    f.write([{ op: 'insert', table: 'ls_pin', doc: { v: 100 } }]);
    const second = await page({
      tableName: 'ls_pin',
      snapshot: first.snapshot as string,
      cursor: first.cursor as string,
    });
    const rows = [...first.values, ...second.values];
    expect(rows).toHaveLength(4);
    for (const r of rows) {
      expect(String(r.v)).not.toBe('99.0');
      expect(r._ts).toBe(ts.toString());
    }
  });

  it('rejects a snapshot in the future with 400 SnapshotTooNew', async () => {
    const future = f.sim.deployment.now() + 60_000_000_000n;
    const res = await f.call(`/api/list_snapshot?snapshot=${future}`);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      code: 'SnapshotTooNew',
      message: `Snapshot value ${future} is in the future.`,
    });
  });

  it('rejects a snapshot older than 5 days with 400 SnapshotTooOld', async () => {
    const first = await page();
    f.sim.deployment.advanceClock(5 * 24 * 3600 * 1000 + 1000);
    const res = await f.call(`/api/list_snapshot?snapshot=${first.snapshot}`);
    expect(res.status).toBe(400);
    expect((res.json as { code: string }).code).toBe('SnapshotTooOld');
  });

  it.each(['garbage', '{"tablet":"x","id":"y"}', '{}'])(
    'rejects the cursor %s with 400 InvalidListSnapshotCursor',
    async (cursor) => {
      const res = await f.call(`/api/list_snapshot?${new URLSearchParams({ cursor })}`);
      expect(res.status).toBe(400);
      expect((res.json as { code: string }).code).toBe('InvalidListSnapshotCursor');
    },
  );

  it('emits the cursor as JSON text inside a string', async () => {
    f.write([
      { op: 'insert', table: 'ls_cursor', doc: {} },
      { op: 'insert', table: 'ls_cursor2', doc: {} },
    ]);
    const first = await page();
    expect(first.hasMore).toBe(true);
    expect(JSON.parse(first.cursor as string)).toEqual({
      tablet: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      id: expect.any(String),
    });
  });

  it('returns an empty final page when nothing is selected', async () => {
    const p = await page({ tableName: 'no_such_table' });
    expect(p).toEqual({ values: [], cursor: null, hasMore: false, snapshot: expect.any(String) });
  });
});

// docs/convex-api.md §11.7: cursors older than the retention window.
describe('simulator retention window', () => {
  const f = useSimulator({ retentionSeconds: 3600 });

  it('rejects a delta cursor older than retention with 400 InvalidWindowToReadDocuments', async () => {
    const cursor = f.sim.deployment.now();
    expect((await f.call(`/api/document_deltas?cursor=${cursor}`)).status).toBe(200);
    f.sim.deployment.advanceClock(3601 * 1000);
    const res = await f.call(`/api/document_deltas?cursor=${cursor}`);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      code: 'InvalidWindowToReadDocuments',
      message: expect.stringContaining(`Trying to synchronize from timestamp ${cursor}`),
    });
  });
});
