import { describe, expect, it } from 'vitest';
import { parsePage } from '../helpers/lossless.js';
import { onlyTables, parseSyncPage, type SyncPage, useSimulator } from '../helpers/simulator.js';

const DAY_MS = 24 * 3600 * 1000;

interface ActiveSyncs {
  syncs: { syncId: string; lastUpdated: number; status: { type: string } }[];
  pagination: { hasMore: boolean; nextCursor?: string };
}

// docs/convex-api.md §5: list_active_syncs and data_sync_cursor_from_deltas.
describe('simulator data sync helpers', () => {
  const f = useSimulator();
  const sync = async (body: object, headers: Record<string, string> = {}): Promise<SyncPage> => {
    const res = await f.call('/api/v1/data/sync', { method: 'POST', body, headers });
    expect(res.status, res.text).toBe(200);
    return parseSyncPage(res.text);
  };
  const list = async (query = '') => {
    const res = await f.call(`/api/v1/data/list_active_syncs${query}`);
    expect(res.status, res.text).toBe(200);
    return res.json as ActiveSyncs;
  };
  /** A raw body, so the int64 cursor goes out as exact digits. */
  const fromDeltas = (cursor: string, selection?: object) =>
    f.call('/api/data_sync_cursor_from_deltas', {
      method: 'POST',
      body: `{"cursor":${cursor}${selection ? `,"selection":${JSON.stringify(selection)}` : ''}}`,
      headers: { 'content-type': 'application/json' },
    });

  it('lists syncs that fetched a page in the last 3 days, newest first, with lastUpdated in ms and status', async () => {
    f.write([{ op: 'insert', table: 'dsh_a', doc: {} }]);
    const old = await sync({ selection: onlyTables('dsh_a') });
    f.sim.deployment.advanceClock(2 * DAY_MS);
    const recent = await sync({ selection: onlyTables('dsh_a') });
    const before = Date.now();
    const { syncs } = await list();
    expect(syncs.map((s) => s.syncId)).toEqual([recent.syncId, old.syncId]);
    expect(syncs[0]).toEqual({
      syncId: recent.syncId,
      lastUpdated: expect.any(Number),
      status: expect.objectContaining({ type: recent.status.type }),
    });
    expect(syncs[0]?.lastUpdated).toBeGreaterThan(before); // the simulator's clock, 2 days ahead
    f.sim.deployment.advanceClock(DAY_MS + 60_000);
    expect((await list()).syncs.map((s) => s.syncId)).toEqual([recent.syncId]);
    f.sim.deployment.advanceClock(2 * DAY_MS);
    expect((await list()).syncs).toEqual([]);
  });

  it('pages with limit and nextCursor, and says hasMore false with no cursor at the end', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) {
      ids.unshift((await sync({ selection: onlyTables('dsh_a') })).syncId);
      f.sim.deployment.advanceClock(1000);
    }
    const first = await list('?limit=2');
    expect(first.syncs.map((s) => s.syncId)).toEqual(ids.slice(0, 2));
    expect(first.pagination.hasMore).toBe(true);
    const rest = await list(`?limit=2&cursor=${first.pagination.nextCursor}`);
    expect(rest.syncs.map((s) => s.syncId)).toEqual(ids.slice(2));
    expect(rest.pagination).toEqual({ hasMore: false });
  });

  it.each(['0', '101'])('refuses limit=%s with 400 LimitOutOfRange', async (limit) => {
    const res = await f.call(`/api/v1/data/list_active_syncs?limit=${limit}`);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      code: 'LimitOutOfRange',
      message: 'The limit for listing active syncs must be between 1 and 100',
    });
    expect((await f.call('/api/v1/data/list_active_syncs?limit=100')).status).toBe(200);
  });

  it('turns a document_deltas cursor into a Data Sync cursor that continues exactly after it, copying nothing again', async () => {
    const sel = onlyTables('dsh_m');
    f.write([{ op: 'insert', table: 'dsh_m', doc: { before: 1 } }]);
    const legacy = parsePage((await f.call('/api/list_snapshot?tableName=dsh_m')).text);
    const { ts: afterCursor } = f.write([{ op: 'insert', table: 'dsh_m', doc: { after: 1 } }]);
    const deltas = parsePage(
      (await f.call(`/api/document_deltas?cursor=${legacy.snapshot}&tableName=dsh_m`)).text,
    );
    expect(deltas.values).toHaveLength(1);
    const cursor = deltas.cursor as string;
    const { ids, ts: later } = f.write([
      { op: 'insert', table: 'dsh_m', doc: { later: 1 } },
      { op: 'insert', table: 'dsh_m2', doc: { newTable: 1 } },
    ]);
    const res = await fromDeltas(cursor, sel);
    expect(res.status, res.text).toBe(200);
    const converted = (res.json as { cursor: string }).cursor;
    expect(Object.keys(res.json as object)).toEqual(['cursor']);
    const page = await sync({ cursor: converted, selection: sel });
    expect(page.status.type).not.toBe('snapshotting');
    expect(page.truncates).toEqual([]);
    expect(page.values.map((v) => [v.value._id, v.ts])).toEqual([[ids[0], later.toString()]]);
    expect(BigInt(cursor)).toBeGreaterThanOrEqual(afterCursor);
  });

  it('refuses a negative or future delta cursor with 400 InvalidDataSyncCursor, and one past retention with DataSyncCursorExpired', async () => {
    for (const bad of ['-1', (f.sim.deployment.now() + 3_600_000_000_000n).toString()]) {
      const res = await fromDeltas(bad);
      expect(res.status, bad).toBe(400);
      expect((res.json as { code: string }).code).toBe('InvalidDataSyncCursor');
    }
    const old = f.sim.deployment.now().toString();
    f.sim.knobs.retentionSeconds = 60;
    f.sim.deployment.advanceClock(61_000);
    const res = await fromDeltas(old);
    expect([res.status, (res.json as { code: string }).code]).toEqual([
      400,
      'DataSyncCursorExpired',
    ]);
    const text = await fromDeltas('"123"');
    expect([text.status, (text.json as { code: string }).code]).toEqual([400, 'BadJsonBody']);
  });

  it('prefixes the converted sync id by Convex-Client, as a cold start would', async () => {
    const now = f.sim.deployment.now().toString();
    const res = await f.call('/api/data_sync_cursor_from_deltas', {
      method: 'POST',
      body: `{"cursor":${now}}`,
      headers: { 'content-type': 'application/json', 'convex-client': 'fivetran-export-2.0.2' },
    });
    const page = await sync({ cursor: (res.json as { cursor: string }).cursor });
    expect(page.syncId).toMatch(/^fivetran-/);
  });
});
