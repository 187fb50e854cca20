import { describe, expect, it } from 'vitest';
import { decodeDocumentId } from '../../simulator/ids.js';
import { parsePage } from '../helpers/lossless.js';
import { useSimulator } from '../helpers/simulator.js';

// docs/convex-api.md §11.5: document_deltas paging rules.
describe('simulator document_deltas paging', () => {
  const f = useSimulator();
  const deltas = async (cursor: bigint | string, query = '') =>
    parsePage((await f.call(`/api/document_deltas?cursor=${cursor}${query}`)).text);

  it('returns a 300-write transaction in one page although the limit is 128', async () => {
    const start = f.sim.deployment.now();
    f.write(
      Array.from({ length: 300 }, (_, i) => ({
        op: 'insert' as const,
        table: 'dd_big',
        doc: { i },
      })),
    );
    f.write([{ op: 'insert', table: 'dd_big', doc: { i: 300 } }]);
    const page = await deltas(start, '&tableName=dd_big');
    expect(page.values).toHaveLength(300);
    expect(page.hasMore).toBe(true);
    expect(page.cursor).toBe(page.values[299]?._ts);
    const next = await deltas(page.cursor as string, '&tableName=dd_big');
    expect(next.values).toHaveLength(1);
  });

  it('stops at 128 rows returned when transactions are small', async () => {
    f.write([{ op: 'insert', table: 'dd_small', doc: { i: -1 } }]); // table creation row lands before start
    const start = f.sim.deployment.now();
    for (let i = 0; i < 200; i++) f.write([{ op: 'insert', table: 'dd_small', doc: { i } }]);
    const page = await deltas(start, '&tableName=dd_small');
    expect(page.values).toHaveLength(128);
    expect(page.hasMore).toBe(true);
  });

  it('counts unselected rows as read: a filtered page can be empty with hasMore true', async () => {
    const start = f.sim.deployment.now();
    for (let i = 0; i < 130; i++) f.write([{ op: 'insert', table: 'dd_noise', doc: { i } }]);
    f.write([{ op: 'insert', table: 'dd_wanted', doc: { hit: true } }]);
    const first = await deltas(start, '&tableName=dd_wanted');
    expect(first.values).toEqual([]);
    expect(first.hasMore).toBe(true);
    let cursor = first.cursor as string;
    const seen = [];
    for (
      let page = await deltas(cursor, '&tableName=dd_wanted');
      ;
      page = await deltas(cursor, '&tableName=dd_wanted')
    ) {
      seen.push(...page.values);
      cursor = page.cursor as string;
      if (!page.hasMore) break;
    }
    expect(seen.map((r) => r.hit)).toEqual([true]);
  });

  it('counts system rows (table creations) as read but never returns them', async () => {
    f.sim.knobs.documentDeltasLimit = 2;
    const start = f.sim.deployment.now();
    // clear_tables creates three tables in one commit: three `_tables` rows and no user rows.
    await f.call('/api/streaming_import/clear_tables', {
      method: 'PUT',
      body: { tableNames: ['dd_s1', 'dd_s2', 'dd_s3'] },
    });
    f.write([{ op: 'insert', table: 'dd_s1', doc: { x: 1 } }]);
    const first = await deltas(start);
    expect(first.values).toEqual([]);
    expect(first.hasMore).toBe(true);
    const second = await deltas(first.cursor as string);
    expect(second.values.map((r) => r._table)).toEqual(['dd_s1']);
  });

  it('returns the read timestamp as cursor when the log is exhausted', async () => {
    const { ts } = f.write([{ op: 'insert', table: 'dd_exhaust', doc: { x: 1 } }]);
    const page = await deltas(ts - 1n, '&tableName=dd_exhaust');
    expect(page.hasMore).toBe(false);
    expect(BigInt(page.cursor as string)).toBeGreaterThanOrEqual(ts);
    const idle = await deltas(page.cursor as string, '&tableName=dd_exhaust');
    expect(idle.values).toEqual([]);
    expect(idle.hasMore).toBe(false);
    expect(BigInt(idle.cursor as string)).toBeGreaterThanOrEqual(BigInt(page.cursor as string));
  });

  it('returns the last timestamp with hasMore false when the limit is reached exactly at the end', async () => {
    f.sim.knobs.readTsFollowsClock = false;
    const start = f.sim.deployment.now();
    f.sim.knobs.documentDeltasLimit = 2;
    f.write([{ op: 'insert', table: 'dd_exact', doc: { n: 1 } }]);
    const { ts } = f.write([{ op: 'insert', table: 'dd_exact', doc: { n: 2 } }]);
    const page = await deltas(start, '&tableName=dd_exact');
    // Two rows in the log after start: the table creation row shares the first commit.
    expect(page.values.map((r) => String(r.n))).toEqual(['1.0']);
    const rest = await deltas(page.cursor as string, '&tableName=dd_exact');
    expect(rest.values.map((r) => String(r.n))).toEqual(['2.0']);
    expect(rest.hasMore).toBe(false);
    expect(rest.cursor).toBe(ts.toString());
  });

  it('sends a deletion as only _id plus metadata with _deleted true', async () => {
    const { ids, ts } = f.write([{ op: 'insert', table: 'dd_del', doc: { secret: 'x' } }]);
    const del = f.write([{ op: 'delete', id: ids[0] as string }]);
    const res = await f.call(`/api/document_deltas?cursor=${ts}&tableName=dd_del`);
    expect(res.text).toContain(
      `{"_component":"","_table":"dd_del","_ts":${del.ts},"_deleted":true,"_id":"${ids[0]}"}`,
    );
  });

  it('emits one entry per committed revision, collapsing writes inside one transaction', async () => {
    const { ids, ts } = f.write([{ op: 'insert', table: 'dd_rev', doc: { v: 0 } }]);
    const id = ids[0] as string;
    f.write([{ op: 'patch', id, fields: { v: 1 } }]);
    f.write([
      { op: 'patch', id, fields: { v: 2 } },
      { op: 'patch', id, fields: { v: 3 } },
    ]);
    const page = await deltas(ts, '&tableName=dd_rev');
    expect(page.values.map((r) => [r._id, String(r.v)])).toEqual([
      [id, '1.0'],
      [id, '3.0'],
    ]);
  });

  it('orders rows by (ts, id) and puts _component, _table, _ts, _deleted first', async () => {
    const start = f.sim.deployment.now();
    const inserted = f.write(
      Array.from({ length: 20 }, (_, i) => ({
        op: 'insert' as const,
        table: 'dd_order',
        doc: { i },
      })),
    ).ids;
    const res = await f.call(`/api/document_deltas?cursor=${start}&tableName=dd_order`);
    expect(res.text).toMatch(
      /^\{"values":\[\{"_component":"","_table":"dd_order","_ts":\d{19},"_deleted":false,"_creationTime":/,
    );
    const ids = parsePage(res.text).values.map((r) => r._id);
    const internal = (id: string) => decodeDocumentId(id)?.internalHex ?? '';
    expect(ids).toEqual([...inserted].sort((a, b) => (internal(a) < internal(b) ? -1 : 1)));
    expect(ids).not.toEqual(inserted); // id order, not insertion order (equal by chance with p = 1/20!)
  });
});
