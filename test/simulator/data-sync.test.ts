import { describe, expect, it } from 'vitest';
import { encodeInt64 } from '../../simulator/values.js';
import {
  exportTexts,
  onlyTables as only,
  parseSyncPage,
  type SyncPage,
  SyncReplica,
  useSimulator,
} from '../helpers/simulator.js';

// docs/convex-api.md §5: Data Sync paging, statuses and values.
describe('simulator data sync', () => {
  const f = useSimulator();
  const sync = async (body: object): Promise<SyncPage> => {
    const res = await f.call('/api/v1/data/sync', { method: 'POST', body });
    expect(res.status, res.text).toBe(200);
    return parseSyncPage(res.text);
  };
  /** Pages until the status is `until`, returning every page read. */
  const syncUntil = async (first: object, until: string, max = 50) => {
    const pages = [await sync(first)];
    while ((pages.at(-1) as SyncPage).status.type !== until) {
      if (pages.length >= max) throw new Error(`no ${until} after ${max} pages`);
      const { selection } = first as { selection?: unknown };
      pages.push(await sync({ cursor: pages.at(-1)?.pagination.nextCursor, selection }));
    }
    return pages;
  };

  it('answers {status, truncates, values, syncId, pagination} with hasMore true and a cursor on every page', async () => {
    f.write([{ op: 'insert', table: 'ds_shape', doc: { a: 1 } }]);
    const pages = await syncUntil({ selection: only('ds_shape') }, 'upToDate');
    const idle = await sync({
      cursor: pages.at(-1)?.pagination.nextCursor,
      selection: only('ds_shape'),
    });
    for (const page of [...pages, idle]) {
      expect(Object.keys(page)).toEqual(['status', 'truncates', 'values', 'syncId', 'pagination']);
      expect(page.pagination.hasMore).toBe(true);
      expect(page.pagination.nextCursor).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    }
    expect(idle.values).toEqual([]);
    expect(idle.status.type).toBe('upToDate');
  });

  it('goes snapshotting while tables are walked, then stale while log is left to read, then upToDate', async () => {
    // The read timestamp stays at the last commit, so "caught up" is exact.
    f.sim.knobs.readTsFollowsClock = false;
    f.sim.knobs.dataSyncPageSizeLimit = 2;
    f.write(
      [1, 2, 3, 4, 5].map((i) => ({ op: 'insert' as const, table: 'ds_status', doc: { i } })),
    );
    const sel = only('ds_status');
    const walk = await syncUntil({ selection: sel }, 'upToDate');
    expect(walk.map((p) => p.status.type)).toEqual([
      'snapshotting',
      'snapshotting',
      'upToDate', // the walk's timestamp is still the latest: nothing was written since
    ]);
    expect(walk.map((p) => p.values.length)).toEqual([2, 2, 1]);
    for (let i = 0; i < 5; i++) f.write([{ op: 'insert', table: 'ds_status', doc: { i } }]);
    const log = await syncUntil(
      { cursor: walk.at(-1)?.pagination.nextCursor, selection: sel },
      'upToDate',
    );
    expect(log.map((p) => p.status.type)).toEqual(['stale', 'stale', 'upToDate']);
    const [first, second] = log;
    expect(BigInt(first?.status.snapshotTs ?? 0)).toBeLessThan(
      BigInt(second?.status.snapshotTs ?? 0),
    );
    expect(first?.status.snapshotTs).toBe(first?.values.at(-1)?.ts);
  });

  it('writes values in export_json: exact int64 text, ts in nanoseconds, $float, $bytes, .0 floats', async () => {
    const big = 2n ** 62n + 1n;
    const { ts } = f.write([
      {
        op: 'insert',
        table: 'ds_values',
        doc: { n: encodeInt64(big), x: 2, nan: { $float: 'AAAAAAAA+H8=' }, b: { $bytes: 'AAE=' } },
      },
    ]);
    const res = await f.call('/api/v1/data/sync', {
      method: 'POST',
      body: { selection: only('ds_values') },
    });
    expect(res.text).toMatch(
      new RegExp(
        `"values":\\[\\{"component":"","table":"ds_values","ts":${ts},"deleted":false,"value":\\{"_creationTime":[0-9.]+,"_id":"[0-9a-z]+","b":\\{"\\$bytes":"AAE="\\},"n":${big},"nan":\\{"\\$float":"AAAAAAAA\\+H8="\\},"x":2\\.0\\}\\}\\]`,
      ),
    );
    const page = parseSyncPage(res.text);
    expect(page.values[0]?.ts).toBe(ts.toString());
    expect(String(page.values[0]?.value.n)).toBe(big.toString());
  });

  it('sends a deletion as deleted true with a value of only _id', async () => {
    const sel = only('ds_tomb');
    const { ids } = f.write([{ op: 'insert', table: 'ds_tomb', doc: { secret: 's' } }]);
    const walked = await syncUntil({ selection: sel }, 'upToDate');
    const del = f.write([{ op: 'delete', id: ids[0] as string }]);
    const res = await f.call('/api/v1/data/sync', {
      method: 'POST',
      body: { cursor: walked.at(-1)?.pagination.nextCursor, selection: sel },
    });
    expect(res.text).toContain(
      `"values":[{"component":"","table":"ds_tomb","ts":${del.ts},"deleted":true,"value":{"_id":"${ids[0]}"}}]`,
    );
  });

  it('drops unselected columns but always keeps _id', async () => {
    f.write([{ op: 'insert', table: 'ds_cols', doc: { keep: 1, ssn: 'x' } }]);
    const selection = {
      _other: 'excluded',
      '': {
        _other: 'excluded',
        ds_cols: { _other: 'excluded', _id: 'included', keep: 'included' },
      },
    };
    const [page] = await syncUntil({ selection }, 'upToDate');
    expect(Object.keys(page?.values[0]?.value ?? {})).toEqual(['_id', 'keep']);
  });

  it('may send a document several times at increasing revisions while snapshotting, and ends equal to the deployment', async () => {
    f.sim.knobs.dataSyncPageSizeLimit = 3;
    const sel = only('ds_churn');
    const { ids } = f.write(
      Array.from({ length: 12 }, (_, i) => ({
        op: 'insert' as const,
        table: 'ds_churn',
        doc: { i },
      })),
    );
    const replica = new SyncReplica();
    const seen = new Map<string, string[]>();
    let page = await sync({ selection: sel });
    let round = 0;
    for (;;) {
      replica.apply(page);
      for (const v of page.values) seen.set(v.value._id, [...(seen.get(v.value._id) ?? []), v.ts]);
      if (page.status.type === 'upToDate') break;
      // Churn during the walk: patch every document, delete one, insert one, and now and then
      // let the sync fall behind so a page follows the log instead of walking.
      if (round < 6) {
        const live = round > 1 ? ids.slice(0, 11) : ids;
        f.write(live.map((id) => ({ op: 'patch' as const, id, fields: { round } })));
        if (round === 1) f.write([{ op: 'delete', id: ids[11] as string }]);
        if (round === 2) f.write([{ op: 'insert', table: 'ds_churn', doc: { late: true } }]);
        if (round % 2 === 1) f.sim.deployment.advanceClock(31_000);
      }
      round++;
      page = await sync({ cursor: page.pagination.nextCursor, selection: sel });
      if (round > 60) throw new Error('the sync never caught up');
    }
    expect(replica.table('ds_churn')).toEqual(exportTexts(f.sim, 'ds_churn'));
    const repeated = [...seen.values()].filter((tss) => tss.length > 1);
    expect(repeated.length).toBeGreaterThan(0);
    for (const tss of repeated) {
      const asBig = tss.map(BigInt);
      expect(asBig).toEqual([...asBig].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      expect(new Set(tss).size).toBe(tss.length);
    }
  });

  it('replays a walked document from the log while still snapshotting once the walk falls behind', async () => {
    f.sim.knobs.dataSyncPageSizeLimit = 1;
    const sel = only('ds_behind');
    const { ids } = f.write([
      { op: 'insert', table: 'ds_behind', doc: { v: 0 } },
      { op: 'insert', table: 'ds_behind', doc: { v: 0 } },
    ]);
    const first = await sync({ selection: sel });
    const walkedId = first.values[0]?.value._id as string;
    const { ts } = f.write([{ op: 'patch', id: walkedId, fields: { v: 1 } }]);
    f.sim.deployment.advanceClock(31_000);
    const second = await sync({ cursor: first.pagination.nextCursor, selection: sel });
    expect(second.status.type).toBe('snapshotting');
    expect(second.values.map((v) => [v.value._id, v.ts])).toEqual([[walkedId, ts.toString()]]);
    expect(ids).toContain(walkedId);
  });

  it('never splits a transaction across pages at the entry, byte and rows-read limits', async () => {
    const sel = only('ds_split');
    f.write([{ op: 'insert', table: 'ds_split', doc: {} }]);
    const walked = await syncUntil({ selection: sel }, 'upToDate');
    const sizes = new Map<string, number>();
    for (let t = 0; t < 8; t++) {
      const { ts } = f.write(
        [0, 1, 2].map((i) => ({ op: 'insert' as const, table: 'ds_split', doc: { t, i } })),
      );
      sizes.set(ts.toString(), 3);
    }
    for (const knobs of [
      { dataSyncPageSizeLimit: 4 },
      { dataSyncPageBytesLimit: 100 },
      { dataSyncMaxRowsRead: 4 },
    ]) {
      Object.assign(f.sim.knobs, knobs);
      const pages = await syncUntil(
        { cursor: walked.at(-1)?.pagination.nextCursor, selection: sel },
        'upToDate',
      );
      expect(pages.length, JSON.stringify(knobs)).toBeGreaterThan(2);
      for (const page of pages) {
        const counts = new Map<string, number>();
        for (const v of page.values) counts.set(v.ts, (counts.get(v.ts) ?? 0) + 1);
        for (const [ts, n] of counts) expect(n, JSON.stringify(knobs)).toBe(sizes.get(ts));
      }
      expect(pages.flatMap((p) => p.values)).toHaveLength(24);
      Object.assign(f.sim.knobs, {
        dataSyncPageSizeLimit: 16_384,
        dataSyncPageBytesLimit: 64 * 1024 * 1024,
        dataSyncMaxRowsRead: 32_768,
      });
    }
  });

  it('sends one transaction larger than every limit whole, in one page', async () => {
    const sel = only('ds_huge');
    f.write([{ op: 'insert', table: 'ds_huge', doc: {} }]);
    const walked = await syncUntil({ selection: sel }, 'upToDate');
    Object.assign(f.sim.knobs, {
      dataSyncPageSizeLimit: 5,
      dataSyncPageBytesLimit: 50,
      dataSyncMaxRowsRead: 5,
    });
    const { ts } = f.write(
      Array.from({ length: 40 }, (_, i) => ({
        op: 'insert' as const,
        table: 'ds_huge',
        doc: { i },
      })),
    );
    const page = await sync({ cursor: walked.at(-1)?.pagination.nextCursor, selection: sel });
    expect(page.values).toHaveLength(40);
    expect(new Set(page.values.map((v) => v.ts))).toEqual(new Set([ts.toString()]));
  });

  it('keeps one syncId, a uuid, for the whole sync', async () => {
    const pages = await syncUntil({ selection: only('ds_shape') }, 'upToDate');
    const ids = new Set(pages.map((p) => p.syncId));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const fresh = await sync({ selection: only('ds_shape') });
    expect(ids.has(fresh.syncId)).toBe(false);
  });

  it.each([
    ['airbyte-export-1.0.0', /^airbyte-[0-9a-f-]{36}$/],
    ['Fivetran-Export-2.0.2', /^fivetran-[0-9a-f-]{36}$/],
    ['fivetran-import-0.1.0', /^fivetran-[0-9a-f-]{36}$/],
    ['streaming-import-0.1.0', /^[0-9a-f-]{36}$/],
  ])('prefixes the syncId by the Convex-Client %s', async (client, pattern) => {
    const res = await f.call('/api/v1/data/sync', {
      method: 'POST',
      body: { selection: only('ds_shape') },
      headers: { 'convex-client': client },
    });
    expect(parseSyncPage(res.text).syncId).toMatch(pattern);
  });
});
