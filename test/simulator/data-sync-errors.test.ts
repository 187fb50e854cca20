import { describe, expect, it } from 'vitest';
import {
  DEPLOY_KEY,
  onlyTables,
  parseSyncPage,
  READ_ONLY_KEY,
  type SyncPage,
  useSimulator,
} from '../helpers/simulator.js';

const DAY_MS = 24 * 3600 * 1000;

// docs/convex-api.md §5: Data Sync's refusals, access checks, faults and its absence on old backends.
describe('simulator data sync refusals', () => {
  const f = useSimulator();
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    f.call('/api/v1/data/sync', {
      method: 'POST',
      body: typeof body === 'string' ? body : (body as object),
      headers: { 'content-type': 'application/json', ...headers },
    });
  const sync = async (body: object): Promise<SyncPage> => {
    const res = await post(body);
    expect(res.status, res.text).toBe(200);
    return parseSyncPage(res.text);
  };
  const sel = onlyTables('dse_t');

  it('refuses a tampered, truncated or made-up cursor with 400 InvalidDataSyncCursor', async () => {
    f.write([{ op: 'insert', table: 'dse_t', doc: {} }]);
    const cursor = (await sync({ selection: sel })).pagination.nextCursor;
    const flipped = `${cursor.slice(0, 30)}${cursor[30] === 'A' ? 'B' : 'A'}${cursor.slice(31)}`;
    for (const bad of [flipped, cursor.slice(0, -4), 'not a cursor', '', btoa('{"v":1}')]) {
      const res = await post({ cursor: bad, selection: sel });
      expect(res.status, bad).toBe(400);
      expect(res.json).toEqual({
        code: 'InvalidDataSyncCursor',
        message: 'Could not parse the data sync cursor',
      });
    }
  });

  it('refuses a cursor that is not a string with 400 BadJsonBody', async () => {
    const res = await post({ cursor: 5 });
    expect(res.status).toBe(400);
    expect((res.json as { code: string }).code).toBe('BadJsonBody');
  });

  it('refuses a cursor whose position left the retention window with 400 DataSyncCursorExpired, snapshotting or not', async () => {
    f.sim.knobs.dataSyncPageSizeLimit = 1;
    f.write([
      { op: 'insert', table: 'dse_exp', doc: {} },
      { op: 'insert', table: 'dse_exp', doc: {} },
    ]);
    const snapshotting = await sync({ selection: onlyTables('dse_exp') });
    expect(snapshotting.status.type).toBe('snapshotting');
    f.sim.knobs.dataSyncPageSizeLimit = 16_384;
    let synced = snapshotting;
    while (synced.status.type !== 'upToDate')
      synced = await sync({
        cursor: synced.pagination.nextCursor,
        selection: onlyTables('dse_exp'),
      });
    f.sim.knobs.retentionSeconds = 3600;
    f.sim.deployment.advanceClock(3601 * 1000);
    for (const page of [snapshotting, synced]) {
      const res = await post({
        cursor: page.pagination.nextCursor,
        selection: onlyTables('dse_exp'),
      });
      expect(res.status).toBe(400);
      const { code, message } = res.json as { code: string; message: string };
      expect(code).toBe('DataSyncCursorExpired');
      expect(message).toContain("outside the deployment's data retention window");
      expect(message).toContain(
        'Restart the sync from scratch by calling /data/sync without a cursor.',
      );
    }
    expect((await post({ selection: onlyTables('dse_exp') })).status).toBe(200);
  });

  it.each([
    ['no _other', { '': { _other: 'included' } }],
    ['a typo in an inclusion', { _other: 'include' }],
    [
      'a table that is neither excluded nor an object',
      { _other: 'excluded', '': { _other: 'excluded', t: 'included' } },
    ],
    ['a number', 5],
  ])(
    'answers a malformed selection (%s) with 400 BadJsonBody, not a fall-back',
    async (_, selection) => {
      const res = await post({ selection });
      expect(res.status).toBe(400);
      expect((res.json as { code: string }).code).toBe('BadJsonBody');
    },
  );

  it.each([
    [
      'excludes _id',
      {
        _other: 'excluded',
        '': { _other: 'excluded', t: { _other: 'included', _id: 'excluded' } },
      },
    ],
    [
      'names an invalid table',
      { _other: 'excluded', '': { _other: 'excluded', 'my-table': { _other: 'included' } } },
    ],
    ['names an invalid component', { _other: 'excluded', '-x': { _other: 'included' } }],
  ])('answers a selection that %s with 400 InvalidDataSyncSelection', async (_, selection) => {
    const res = await post({ selection });
    expect(res.status).toBe(400);
    const { code, message } = res.json as { code: string; message: string };
    expect(code).toBe('InvalidDataSyncSelection');
    expect(message).toMatch(/^Invalid selection: /);
  });

  it('checks access as the other export routes: key, plan, content type; a read-only key may sync', async () => {
    const body = JSON.stringify({ selection: sel });
    const anonymous = await f.raw('/api/v1/data/sync', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect([anonymous.status, (anonymous.json as { code: string }).code]).toEqual([
      403,
      'BadDeployKey',
    ]);
    const wrong = await post(body, { authorization: 'Convex prod:other|abc' });
    expect([wrong.status, (wrong.json as { code: string }).code]).toEqual([401, 'BadAdminKey']);
    const text = await post(body, { 'content-type': 'text/plain' });
    expect([text.status, (text.json as { code: string }).code]).toEqual([400, 'BadJsonBody']);
    expect((await post(body, { authorization: `Convex ${READ_ONLY_KEY}` })).status).toBe(200);
    f.sim.knobs.streamingExportEnabled = false;
    const plan = await post(body);
    expect([plan.status, (plan.json as { code: string }).code]).toEqual([
      403,
      'StreamingExportNotEnabled',
    ]);
    expect(DEPLOY_KEY).not.toBe(READ_ONLY_KEY);
  });

  it('injects faults on the route by its path, and the cursor from before still works', async () => {
    const first = await sync({ selection: sel });
    f.sim.faults.configure({
      script: [
        {
          path: 'v1/data/sync',
          action: { kind: 'status', status: 503, code: 'OptimisticConcurrencyControlFailure' },
        },
        { path: 'v1/data/sync', action: { kind: 'reset' } },
      ],
    });
    const body = { cursor: first.pagination.nextCursor, selection: sel };
    const failed = await post(body);
    expect([failed.status, (failed.json as { code: string }).code]).toEqual([
      503,
      'OptimisticConcurrencyControlFailure',
    ]);
    await expect(post(body)).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await post(body)).status).toBe(200);
    expect(f.sim.faults.pending).toBe(0);
    expect(f.sim.stats.get('POST /api/v1/data/sync 503')).toBe(1);
  });

  it('answers the three routes 404 with an empty body when dataSyncEnabled is off, as an older backend', async () => {
    f.sim.knobs.dataSyncEnabled = false;
    for (const [method, path] of [
      ['POST', '/api/v1/data/sync'],
      ['GET', '/api/v1/data/list_active_syncs'],
      ['POST', '/api/data_sync_cursor_from_deltas'],
      ['GET', '/api/v1/data/sync'],
    ] as const) {
      const res = await f.call(path, { method, ...(method === 'POST' ? { body: {} } : {}) });
      expect([res.status, res.text], `${method} ${path}`).toEqual([404, '']);
    }
    const knobs = await f.raw('/_sim/knobs', { method: 'POST', body: { dataSyncEnabled: true } });
    expect((knobs.json as { dataSyncEnabled: boolean }).dataSyncEnabled).toBe(true);
    expect((await post({ selection: sel })).status).toBe(200);
  });

  it.each([
    ['GET', '/api/v1/data/sync'],
    ['POST', '/api/v1/data/list_active_syncs'],
    ['GET', '/api/data_sync_cursor_from_deltas'],
  ])('answers %s %s with 405 and an empty body', async (method, path) => {
    const res = await f.call(path, { method });
    expect([res.status, res.text]).toEqual([405, '']);
  });

  it('keeps a cursor valid for its whole retention window, idle or not', async () => {
    const first = await sync({ selection: sel });
    f.sim.deployment.advanceClock(13 * DAY_MS);
    expect((await post({ cursor: first.pagination.nextCursor, selection: sel })).status).toBe(200);
  });
});
