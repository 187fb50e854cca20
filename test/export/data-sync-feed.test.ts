import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConvexDataSyncFeed,
  DATA_SYNC_START,
} from '../../shared/adapters/convex-data-sync-feed.js';
import type { ValueFormat } from '../../shared/convex/client.js';
import {
  DataSyncNotServedError,
  FatalConvexError,
  MalformedResponseError,
} from '../../shared/convex/errors.js';
import { type ChangeEvent, isChangeEvent } from '../../shared/events/change-event.js';
import type {
  FeedPage,
  FeedPosition,
  FeedResync,
  TableFilter,
} from '../../shared/ports/change-feed.js';
import { isLosslessNumber } from '../../shared/values/lossless-json.js';
import { encodeInt64 } from '../../simulator/values.js';
import { DEPLOY_KEY, useSimulator } from '../helpers/simulator.js';

const only = (...tables: string[]): TableFilter => ({ includeTables: tables });

function page(result: FeedPage | FeedResync): FeedPage {
  if (result.kind !== 'page') throw new Error(`expected a page, got resync ${result.code}`);
  return result;
}

const docs = (p: FeedPage) => p.events.filter(isChangeEvent);

describe('Data Sync feed over the simulator', () => {
  const f = useSimulator();
  const feed = (format: ValueFormat = 'json') => new ConvexDataSyncFeed(f.client(), format);
  const read = async (
    position: FeedPosition,
    filter: TableFilter,
    options: { format?: ValueFormat; generation?: number } = {},
  ) =>
    page(
      await feed(options.format).read(position, {
        filter,
        signal: AbortSignal.timeout(20_000),
        generation: options.generation ?? 1,
      }),
    );
  /** Reads from `from` until a page says upToDate; every page on the way. */
  const readUntilCaughtUp = async (from: FeedPosition, filter: TableFilter) => {
    const pages: FeedPage[] = [];
    let position = from;
    for (let i = 0; i < 100; i++) {
      const p = await read(position, filter);
      pages.push(p);
      position = p.next;
      if (p.caughtUp) return pages;
    }
    throw new Error('never caught up');
  };

  it('starts a new sync and paces by status: snapshot pages, then the page that completes the copy, then caught up', async () => {
    f.sim.knobs.dataSyncPageSizeLimit = 2;
    f.write(
      Array.from({ length: 5 }, (_, i) => ({
        op: 'insert' as const,
        table: 'dsf_pace',
        doc: { i: encodeInt64(BigInt(i)) },
      })),
    );
    expect(feed().start()).toEqual({ source: 'data-sync', phase: 'snapshot' });
    const pages = await readUntilCaughtUp(DATA_SYNC_START, only('dsf_pace'));
    const snapshotting = pages.filter((p) => p.sourceStatus?.status === 'snapshotting');
    // 2 + 2 documents while snapshotting; the page with the last one completes the table.
    expect(snapshotting).toHaveLength(2);
    for (const p of snapshotting) {
      expect(p).toMatchObject({
        phase: 'snapshot',
        caughtUp: false,
        next: { source: 'data-sync', phase: 'snapshot' },
      });
      expect(p.cursorTs).toBeUndefined();
      expect(p.snapshotCompletedAt).toBeUndefined();
      expect(docs(p).every((e) => e.op === 'snapshot')).toBe(true);
    }
    // The first consistent page (stale or upToDate) completes the copy, at its snapshotTs; read
    // from a copying position, it still belongs to the copy (as the legacy snapshot's last page).
    const [completing, ...after] = pages.slice(snapshotting.length);
    const ts = completing?.sourceStatus?.snapshotTs as string;
    expect(ts).toMatch(/^[0-9]{19}$/);
    expect(docs(completing as FeedPage).every((e) => e.op === 'snapshot')).toBe(true);
    expect(completing).toMatchObject({
      phase: 'snapshot',
      snapshotCompletedAt: ts,
      cursorTs: ts,
      next: { source: 'data-sync', phase: 'changes' },
    });
    for (const p of after) expect(p.snapshotCompletedAt).toBeUndefined();
    const done = pages.at(-1) as FeedPage;
    expect(done).toMatchObject({
      phase: 'changes',
      caughtUp: true,
      cursorTs: done.sourceStatus?.snapshotTs,
      sourceStatus: { status: 'upToDate' },
    });
    for (const p of pages.slice(0, -1)) expect(p.caughtUp).toBe(false);
    expect(new Set(pages.map((p) => p.sourceStatus?.syncId)).size).toBe(1);
    expect(
      pages
        .flatMap(docs)
        .map((e) => (e.doc as { i: string }).i)
        .sort(),
    ).toEqual(['0', '1', '2', '3', '4']);

    // Changes after the copy: upserts and deletes; no second completion, stale while behind.
    const { ids } = f.write([{ op: 'insert', table: 'dsf_pace', doc: { i: encodeInt64(5n) } }]);
    f.write([{ op: 'delete', id: ids[0] as string }]);
    f.sim.knobs.dataSyncMaxRowsRead = 1;
    const changes = await read(done.next, only('dsf_pace'));
    expect(changes).toMatchObject({
      phase: 'changes',
      caughtUp: false,
      sourceStatus: { status: 'stale' },
    });
    expect(changes.snapshotCompletedAt).toBeUndefined();
    expect(changes.cursorTs).toBe(changes.sourceStatus?.snapshotTs);
    const rest = await readUntilCaughtUp(changes.next, only('dsf_pace'));
    const ops = [changes, ...rest].flatMap(docs).map((e) => [e.op, e.id, e.doc === null]);
    expect(ops).toEqual([
      ['upsert', ids[0], false],
      ['delete', ids[0], true],
    ]);
  });

  it("puts a page's truncates before its values, with eventIds a replay of the same request repeats", async () => {
    f.write([
      { op: 'insert', table: 'dsf_trunc_a', doc: { a: 1 } },
      { op: 'insert', table: 'dsf_trunc_b', doc: { b: 1 } },
    ]);
    const filter = only('dsf_trunc_a', 'dsf_trunc_b', 'dsf_trunc_c');
    const kinds = (p: FeedPage) => p.events.map((e) => `${e.op} ${'table' in e ? e.table : ''}`);
    // The first page copies one table and starts the next: both enter the sync on this page.
    const first = await read(DATA_SYNC_START, filter, { generation: 3 });
    const a = first.events.find(isChangeEvent)?.table as string;
    const b = a === 'dsf_trunc_a' ? 'dsf_trunc_b' : 'dsf_trunc_a';
    expect(kinds(first)).toEqual([`truncate ${a}`, `truncate ${b}`, `snapshot ${a}`]);
    expect(first.events[0]).toMatchObject({ op: 'truncate', cause: 'source', generation: 3 });
    // Named by the sync, the request's cursor (none) and the generation.
    const named = (syncId: string, cursor: string) =>
      `c${createHash('sha256').update(`${syncId}\n${cursor}`).digest('hex').slice(0, 16)}`;
    const coldStart = named(first.sourceStatus?.syncId as string, '');
    expect(first.events.slice(0, 2).map((e) => e.eventId)).toEqual([
      `truncate:/${a}@${coldStart}/g3`,
      `truncate:/${b}@${coldStart}/g3`,
    ]);
    // A cold start again (a new sync, as after a crash before the first checkpoint) names its
    // truncates anew, so recovery cannot take them for the first sync's.
    const again = await read(DATA_SYNC_START, filter, { generation: 3 });
    expect(again.sourceStatus?.syncId).not.toBe(first.sourceStatus?.syncId);
    expect(again.events[0]?.eventId).not.toBe(first.events[0]?.eventId);
    // This page completes the copy: its status is no longer snapshotting, but it was read from a
    // copying position, so its documents still belong to the copy.
    const second = await read(first.next, filter, { generation: 3 });
    expect(kinds(second)).toEqual([`snapshot ${b}`]);
    expect(second.snapshotCompletedAt).toBeDefined();

    // A table created later enters the sync with a truncate named by that page's request.
    f.write([{ op: 'insert', table: 'dsf_trunc_c', doc: { c: 1 } }]);
    const third = await read(second.next, filter, { generation: 3 });
    const replay = await read(second.next, filter, { generation: 3 });
    // (Walked at the sync's timestamp, before the insert: the document follows from the log.)
    expect(kinds(third)).toEqual(['truncate dsf_trunc_c']);
    const id = third.events[0]?.eventId as string;
    expect(id).toMatch(/^truncate:\/dsf_trunc_c@c[0-9a-f]{16}\/g3$/);
    expect(id).not.toContain(`@${coldStart}`);
    // Replayed after a crash before the checkpoint: the same eventIds, so recovery finds them.
    expect(replay.events.map((e) => e.eventId)).toEqual(third.events.map((e) => e.eventId));
  });

  it('publishes a document the copy reads several times once per revision, each a snapshot event', async () => {
    f.sim.knobs.dataSyncPageSizeLimit = 2;
    const { ids } = f.write(
      Array.from({ length: 6 }, (_, i) => ({
        op: 'insert' as const,
        table: 'dsf_churn',
        doc: { v: i },
      })),
    );
    const filter = only('dsf_churn');
    const first = await read(DATA_SYNC_START, filter);
    // Written while the copy runs: a document the copy already read changes twice.
    const copied = docs(first)[0]?.id as string;
    expect(ids).toContain(copied);
    f.write([{ op: 'patch', id: copied, fields: { v: encodeInt64(100n) } }]);
    f.write([{ op: 'patch', id: copied, fields: { v: encodeInt64(101n) } }]);
    f.sim.knobs.dataSyncByIdFreshnessSeconds = 0; // the next page follows the log
    const log = await read(first.next, filter);
    f.sim.knobs.dataSyncByIdFreshnessSeconds = 30;
    const rest = await readUntilCaughtUp(log.next, filter);
    const all = [first, log, ...rest].flatMap(docs);
    const revisions = all.filter((e) => e.id === copied);
    expect(revisions).toHaveLength(3);
    expect(revisions.map((e) => e.op)).toEqual(revisions.map(() => 'snapshot'));
    const ts = revisions.map((e) => BigInt(e.ts));
    expect([...ts].sort((a, b) => (a < b ? -1 : 1))).toEqual(ts);
    expect(new Set(revisions.map((e) => e.eventId)).size).toBe(revisions.length);
    expect(revisions.map((e) => e.eventId)).toEqual(revisions.map((e) => `${e.id}@${e.ts}`));
    expect(revisions.at(-1)?.doc?.v).toBe('101');
  });

  it('keeps int64 exact: a decimal string in json, the bare number text in export_json', async () => {
    const big = 2n ** 62n + 7n;
    f.write([
      {
        op: 'insert',
        table: 'dsf_int64',
        doc: { n: encodeInt64(big), f: 2, nan: { $float: 'AAAAAAAA+H8=' }, b: { $bytes: 'AAE=' } },
      },
    ]);
    const [clean] = docs(await read(DATA_SYNC_START, only('dsf_int64')));
    expect(clean?.doc).toMatchObject({ n: big.toString(), nan: 'NaN', b: 'AAE=' });
    expect(String(clean?.doc?.f)).toBe('2.0');
    expect(clean?.ts).toMatch(/^[0-9]{19}$/);
    const [exported] = docs(
      await read(DATA_SYNC_START, only('dsf_int64'), { format: 'export_json' }),
    );
    const n = exported?.doc?.n;
    expect(isLosslessNumber(n) && n.value).toBe(big.toString());
    expect(exported?.doc?.b).toEqual({ $bytes: 'AAE=' });
    expect(Object.keys(exported?.doc ?? {})).not.toContain('_ts');
  });

  it('delivers a transaction of 17,000 writes in one page, above the 16,384-entry target', async () => {
    const filter = only('dsf_big');
    f.write([{ op: 'insert', table: 'dsf_big', doc: { seed: true } }]);
    const copied = await readUntilCaughtUp(DATA_SYNC_START, filter);
    const { ts } = f.write(
      Array.from({ length: 17_000 }, (_, i) => ({
        op: 'insert' as const,
        table: 'dsf_big',
        doc: { i, pad: 'p'.repeat(100) },
      })),
    );
    const started = Date.now();
    const big = await read((copied.at(-1) as FeedPage).next, filter);
    const ms = Date.now() - started;
    expect(docs(big)).toHaveLength(17_000);
    expect(new Set(docs(big).map((e) => e.ts))).toEqual(new Set([ts.toString()]));
    expect(docs(big).every((e) => e.op === 'upsert')).toBe(true);
    expect(big.caughtUp).toBe(true);
    // Not a benchmark (bench/data-sync-page-memory.ts is), only a guard against a quadratic parse.
    expect(ms).toBeLessThan(15_000);
  });

  it('answers a cursor out of retention with a resync, DataSyncCursorExpired', async () => {
    f.write([{ op: 'insert', table: 'dsf_expired', doc: {} }]);
    const copied = await readUntilCaughtUp(DATA_SYNC_START, only('dsf_expired'));
    f.sim.knobs.retentionSeconds = 3600;
    f.sim.deployment.advanceClock(3601 * 1000);
    const out = await feed().read((copied.at(-1) as FeedPage).next, {
      filter: only('dsf_expired'),
      signal: AbortSignal.timeout(5_000),
      generation: 1,
    });
    expect(out).toMatchObject({ kind: 'resync', code: 'DataSyncCursorExpired' });
    expect((out as FeedResync).message).toContain('retention window');
  });

  it('fails on a cursor Convex cannot read, saying to run convex-bridge resync, without retrying', async () => {
    const position: FeedPosition = { source: 'data-sync', phase: 'changes', cursor: 'AAAAbroken' };
    const error = await feed()
      .read(position, { signal: AbortSignal.timeout(5_000), generation: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FatalConvexError);
    expect((error as FatalConvexError).code).toBe('InvalidDataSyncCursor');
    expect((error as Error).message).toContain('run `convex-bridge resync`');
    expect(f.sim.stats.get('POST /api/v1/data/sync 400')).toBe(1);
  });

  it('fails on a selection Convex refuses, naming the table settings', async () => {
    const error = await feed()
      .read(DATA_SYNC_START, {
        filter: { includeTables: ['not-a-table-name'] },
        signal: AbortSignal.timeout(5_000),
        generation: 1,
      })
      .catch((e: unknown) => e);
    expect((error as FatalConvexError).code).toBe('InvalidDataSyncSelection');
    expect((error as Error).message).toMatch(
      /BRIDGE_INCLUDE_TABLES, BRIDGE_EXCLUDE_TABLES, BRIDGE_INCLUDE_COMPONENTS, BRIDGE_EXCLUDE_COMPONENTS/,
    );
  });

  it('lists the syncs this bridge keeps going', async () => {
    f.write([{ op: 'insert', table: 'dsf_active', doc: {} }]);
    const [p] = await readUntilCaughtUp(DATA_SYNC_START, only('dsf_active'));
    const active = await f.client().listActiveSyncs({ limit: 100 });
    expect(active.syncs.map((s) => s.syncId)).toContain(p?.sourceStatus?.syncId);
    expect(active.syncs.every((s) => Number.isSafeInteger(s.lastUpdated))).toBe(true);
  });

  it('tells a deployment without Data Sync by its 404', async () => {
    f.sim.knobs.dataSyncEnabled = false;
    const client = f.client();
    await expect(client.dataSyncServed()).resolves.toBe(false);
    const error = await feed()
      .read(DATA_SYNC_START, { signal: AbortSignal.timeout(5_000), generation: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataSyncNotServedError);
    expect((error as Error).message).toContain('BRIDGE_SOURCE=legacy or auto');
    f.sim.knobs.dataSyncEnabled = true;
    await expect(client.dataSyncServed()).resolves.toBe(true);
    // The probe starts no sync.
    const before = (await client.listActiveSyncs({ limit: 100 })).syncs.length;
    await client.dataSyncServed();
    expect((await client.listActiveSyncs({ limit: 100 })).syncs.length).toBe(before);
  });
});

describe('Data Sync client over a raw HTTP server', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });
  /** Serves each request with the next handler; the last one repeats. */
  const serve = async (...handlers: Array<(res: http.ServerResponse) => void>) => {
    let n = 0;
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () =>
        (handlers[Math.min(n++, handlers.length - 1)] as (r: http.ServerResponse) => void)(res),
      );
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const { ConvexClient } = await import('../../shared/convex/client.js');
    return {
      client: new ConvexClient({
        url: `http://127.0.0.1:${port}`,
        deployKey: DEPLOY_KEY,
        allowInsecureLoopback: true,
        retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
      }),
      requests: () => n,
    };
  };
  const body = (values: string) =>
    `{"status":{"type":"upToDate","snapshotTs":1718000001000000007},"truncates":[],"values":[${values}],"syncId":"s","pagination":{"hasMore":true,"nextCursor":"n"}}`;
  const row =
    '{"component":"","table":"t","ts":1718000001000000007,"deleted":false,"value":{"_id":"a","n":1}}';

  it('retries a body cut short and parses the full one', async () => {
    const full = body(row);
    const { client, requests } = await serve(
      (res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(full.length),
        });
        res.write(full.slice(0, 60));
        res.destroy();
      },
      (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(full);
      },
    );
    const page = await client.dataSync({});
    expect(page.values.map((v) => [v.id, v.ts])).toEqual([['a', '1718000001000000007']]);
    expect(page.status).toEqual({ type: 'upToDate', snapshotTs: '1718000001000000007' });
    expect(requests()).toBe(2);
  });

  it.each([
    [
      'a row without deleted',
      body('{"component":"","table":"t","ts":1,"value":{"_id":"a"}}'),
      /values\[0\]: deleted is missing/,
    ],
    [
      'a row whose value has no _id',
      body(`${row},{"component":"","table":"t","ts":1,"deleted":true,"value":{}}`),
      /values\[1\]: value._id/,
    ],
    ['a page without a cursor', body('').replace(',"nextCursor":"n"', ''), /pagination.nextCursor/],
    ['a body that is not JSON', `${body('')}garbage`, /not the JSON expected/],
  ])('refuses %s as malformed, without retrying', async (_name, text, message) => {
    const { client, requests } = await serve((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(text);
    });
    const error = await client.dataSync({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedResponseError);
    expect((error as Error).message).toMatch(message);
    expect(requests()).toBe(1);
  });

  it('hands the events of a page to the feed with the document as Convex sent it, minus nothing', async () => {
    const { client } = await serve((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body(row));
    });
    const out = page(
      await new ConvexDataSyncFeed(client, 'export_json').read(
        { source: 'data-sync', phase: 'changes', cursor: 'x' },
        { signal: AbortSignal.timeout(5_000), generation: 2 },
      ),
    );
    const [event] = out.events as ChangeEvent[];
    expect(event).toMatchObject({
      v: 1,
      op: 'upsert',
      generation: 2,
      component: '',
      table: 't',
      id: 'a',
      ts: '1718000001000000007',
      eventId: 'a@1718000001000000007',
    });
    expect(String(event?.doc?.n)).toBe('1');
  });
});
