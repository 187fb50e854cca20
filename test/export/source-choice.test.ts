import { describe, expect, it } from 'vitest';
import { ConvexLegacyFeed } from '../../shared/adapters/convex-legacy-feed.js';
import { ConvexSourceMigration } from '../../shared/adapters/convex-source-migration.js';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import { createDynamoDbClient } from '../../shared/aws/clients.js';
import { loadExportConfig } from '../../shared/export/config.js';
import { exportChanges } from '../../shared/export/export-changes.js';
import type { FeedPage, FeedPosition, TableFilter } from '../../shared/ports/change-feed.js';
import { type LogSink, MemoryMetrics, silentLog } from '../../shared/ports/observability.js';
import { toDeltaCursor } from '../../shared/values/int64.js';
import { buildExportDeps, chooseSource } from '../../shared/wiring/export.js';
import { encodeInt64 } from '../../simulator/values.js';
import { DEPLOY_KEY, requestsTo } from '../helpers/simulator.js';
import { useExportRig } from './rig.js';

const only = (...tables: string[]): TableFilter => ({ includeTables: tables });

function recordingLog(): LogSink & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m, fields) => lines.push(`info ${m} ${JSON.stringify(fields ?? {})}`),
    warn: (m, fields) => lines.push(`warn ${m} ${JSON.stringify(fields ?? {})}`),
    error: (m, fields) => lines.push(`error ${m} ${JSON.stringify(fields ?? {})}`),
  };
}

describe('choosing the source', () => {
  const rig = useExportRig();
  const { f } = rig;
  const dataSyncRequests = () => requestsTo(f.sim, '/api/v1/data/sync');

  it.each([
    ['auto', true, 'data-sync', true],
    ['auto', false, 'legacy', false],
    ['data-sync', true, 'data-sync', true],
    ['data-sync', false, 'data-sync', false],
    ['legacy', true, 'legacy', false],
  ] as const)(
    'BRIDGE_SOURCE=%s with Data Sync served=%s: new exports start on %s, autoMigrate %s',
    async (source, served, start, autoMigrate) => {
      f.sim.knobs.dataSyncEnabled = served;
      const log = recordingLog();
      const chosen = await chooseSource(f.client(), { source, valueFormat: 'json' }, log);
      expect(chosen.feed.start().source).toBe(start);
      expect(chosen.autoMigrate).toBe(autoMigrate);
      // One probe, answered 400 (served) or 404; none at all when the setting is legacy.
      const probes = Object.entries(dataSyncRequests());
      expect(probes).toEqual(
        source === 'legacy' ? [] : [[`POST /api/v1/data/sync ${served ? 400 : 404}`, 1]],
      );
      expect(log.lines.some((l) => l.startsWith('warn'))).toBe(source === 'data-sync' && !served);
    },
  );

  it('reads each position with the source it belongs to, whatever new exports start on', async () => {
    f.write([{ op: 'insert', table: 'sc_dispatch', doc: { x: 1 } }]);
    const metrics = new MemoryMetrics();
    const { feed } = await chooseSource(
      f.client(),
      { source: 'auto', valueFormat: 'json' },
      silentLog,
      metrics,
    );
    expect(feed.start()).toEqual({ source: 'data-sync', phase: 'snapshot' });
    const read = (position: FeedPosition) =>
      feed.read(position, {
        filter: only('sc_dispatch'),
        signal: AbortSignal.timeout(5_000),
        generation: 1,
      });
    const legacy = (await read({ source: 'legacy', phase: 'snapshot' })) as FeedPage;
    expect(legacy.next.source).toBe('legacy');
    expect(requestsTo(f.sim, '/api/list_snapshot')).toEqual({ 'POST /api/list_snapshot 200': 1 });
    expect(metrics.totals.size).toBe(0);
    const dataSync = (await read(feed.start())) as FeedPage;
    expect(dataSync.next.source).toBe('data-sync');
    expect(dataSync.sourceStatus?.syncId).toBeTruthy();
    // The source's own status, for the dashboard: one value per Data Sync page.
    const status = dataSync.sourceStatus?.status;
    expect(Object.fromEntries(metrics.last)).toEqual({
      SourceSnapshotting: status === 'snapshotting' ? 1 : 0,
      SourceUpToDate: status === 'upToDate' ? 1 : 0,
    });
  });

  it('the export wiring builds the choice, the migration and autoMigrate from the environment', async () => {
    const env = (source: string) => ({
      CONVEX_URL: f.sim.url,
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      BRIDGE_STREAM_NAME: rig.names.stream,
      BRIDGE_STATE_TABLE: rig.names.table,
      BRIDGE_OVERSIZE_BUCKET: rig.names.bucket,
      BRIDGE_SOURCE: source,
    });
    const sinks = { metrics: new MemoryMetrics(), log: silentLog };
    const auto = await buildExportDeps(loadExportConfig(env('auto')), sinks);
    expect(auto.feed.start().source).toBe('data-sync');
    expect(auto.autoMigrate).toBe(true);
    expect(auto.migration).toBeInstanceOf(ConvexSourceMigration);
    f.sim.knobs.dataSyncEnabled = false;
    const old = await buildExportDeps(loadExportConfig(env('auto')), sinks);
    expect(old.feed.start().source).toBe('legacy');
    expect(old.autoMigrate).toBe(false);
  });
});

describe('moving a legacy export onto Data Sync', () => {
  const rig = useExportRig();
  const { f } = rig;

  /** A legacy position in the deltas phase, caught up with everything written so far. */
  const caughtUpLegacy = async (filter: TableFilter): Promise<FeedPosition> => {
    const legacy = new ConvexLegacyFeed(f.client());
    let position: FeedPosition = legacy.start();
    for (;;) {
      const p = (await legacy.read(position, {
        filter,
        signal: AbortSignal.timeout(5_000),
        generation: 1,
      })) as FeedPage;
      position = p.next;
      if (p.caughtUp) return position;
    }
  };

  it('continues right after the legacy cursor: what was written since, and nothing before', async () => {
    const filter = only('mig_a', 'mig_b');
    const before = f.write([
      { op: 'insert', table: 'mig_a', doc: { n: 1 } },
      { op: 'insert', table: 'mig_b', doc: { n: 2 } },
    ]);
    const from = await caughtUpLegacy(filter);
    const after = f.write([
      { op: 'patch', id: before.ids[0] as string, fields: { n: 10 } },
      { op: 'insert', table: 'mig_b', doc: { n: 3 } },
      { op: 'insert', table: 'mig_other', doc: { n: 4 } },
    ]);
    const moved = await new ConvexSourceMigration(f.client()).migrate(from, { filter });
    if (!('position' in moved)) throw new Error(`refused: ${moved.refused}`);
    expect(moved.position).toMatchObject({ source: 'data-sync', phase: 'changes' });
    const { feed } = await chooseSource(
      f.client(),
      { source: 'auto', valueFormat: 'json' },
      silentLog,
    );
    const page = (await feed.read(moved.position, {
      filter,
      signal: AbortSignal.timeout(5_000),
      generation: 1,
    })) as FeedPage;
    // The patch and the mig_b insert of that transaction (ids[] names inserts only); mig_other
    // is not selected; nothing written before the legacy cursor comes again.
    const inserted = f.sim.deployment.log.filter(
      (row) => row.ts === after.ts && row.record.tablet.name === 'mig_b',
    );
    expect(inserted).toHaveLength(1);
    expect(page.events.map((e) => `${e.op} ${e.eventId}`).sort()).toEqual(
      [
        `upsert ${before.ids[0]}@${after.ts}`,
        `upsert ${inserted[0]?.record.id}@${after.ts}`,
      ].sort(),
    );
    expect(page.caughtUp).toBe(true);
  });

  it.each([
    [
      'a snapshot still being copied',
      async () => ({ source: 'legacy', phase: 'snapshot' }) as FeedPosition,
      /still copying its snapshot/,
    ],
    [
      'a cursor ahead of the deployment',
      async () =>
        ({
          source: 'legacy',
          phase: 'deltas',
          deltaCursor: toDeltaCursor('9000000000000000000'),
        }) as FeedPosition,
      /refused the legacy cursor 9000000000000000000 \(InvalidDataSyncCursor/,
    ],
    [
      'a position already on Data Sync',
      async () => ({ source: 'data-sync', phase: 'changes', cursor: 'x' }) as FeedPosition,
      /already reads data-sync/,
    ],
  ])('refuses %s', async (_name, position, reason) => {
    const out = await new ConvexSourceMigration(f.client()).migrate(await position());
    expect(out).toEqual({ refused: expect.stringMatching(reason) });
  });

  it('refuses on a backend without Data Sync, and a cursor out of retention', async () => {
    f.write([{ op: 'insert', table: 'mig_refuse', doc: {} }]);
    const from = await caughtUpLegacy(only('mig_refuse'));
    const migration = new ConvexSourceMigration(f.client());
    f.sim.knobs.dataSyncEnabled = false;
    expect(await migration.migrate(from)).toEqual({
      refused: expect.stringMatching(/does not serve Data Sync \(404/),
    });
    f.sim.knobs.dataSyncEnabled = true;
    f.sim.knobs.retentionSeconds = 3600;
    f.sim.deployment.advanceClock(3601 * 1000);
    expect(await migration.migrate(from)).toEqual({
      refused: expect.stringMatching(
        /no longer holds the changes after the legacy cursor \d{19} \(DataSyncCursorExpired/,
      ),
    });
  });

  it('an exporter with BRIDGE_SOURCE=auto moves a following legacy export once, under writes, losing and repeating nothing', async () => {
    const { stream, exportId } = await rig.fresh();
    const env = (source: string) =>
      loadExportConfig({
        CONVEX_URL: f.sim.url,
        CONVEX_DEPLOY_KEY: DEPLOY_KEY,
        BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
        BRIDGE_STREAM_NAME: stream,
        BRIDGE_STATE_TABLE: rig.names.table,
        BRIDGE_OVERSIZE_BUCKET: rig.names.bucket,
        BRIDGE_EXPORT_ID: exportId,
        BRIDGE_INCLUDE_TABLES: 'mig_e2e',
        BRIDGE_SOURCE: source,
      });
    const run = async (source: string) => {
      const config = env(source);
      const deps = await buildExportDeps(config, { metrics: new MemoryMetrics(), log: silentLog });
      return exportChanges(deps, rig.baseOptions({ filter: config.filter }));
    };
    const { ids } = f.write(
      Array.from({ length: 30 }, (_, i) => ({
        op: 'insert' as const,
        table: 'mig_e2e',
        doc: { i, big: encodeInt64(2n ** 60n + BigInt(i)), b: { $bytes: 'AAE=' } },
      })),
    );
    const legacy = await run('legacy');
    expect(legacy).toMatchObject({
      status: 'caught-up',
      state: { position: { source: 'legacy', phase: 'deltas' } },
    });
    // Changes the legacy source never read, then more while the next run works.
    f.write([
      {
        op: 'patch',
        id: ids[0] as string,
        fields: { big: encodeInt64(-(2n ** 62n)), f: { $float: 'AAAAAAAA8H8=' } },
      },
    ]);
    f.write([{ op: 'delete', id: ids[1] as string }]);
    const writer = setInterval(
      () => f.write([{ op: 'insert', table: 'mig_e2e', doc: { late: encodeInt64(1n) } }]),
      5,
    );
    const moved = await run('auto').finally(() => clearInterval(writer));
    expect(moved).toMatchObject({
      status: 'caught-up',
      state: {
        position: { source: 'data-sync', phase: 'changes' },
        migration: { outcome: 'migrated' },
      },
    });
    f.write([{ op: 'patch', id: ids[2] as string, fields: { i: 200 } }]);
    await run('auto');
    const store = new DynamoDbExportStore(createDynamoDbClient(), rig.names.table, exportId);
    expect((await store.read()).state?.position.source).toBe('data-sync');
    // Every revision since the snapshot exactly once, in order per document, and each document
    // as the legacy source would have written it (int64, bytes, infinity in BRIDGE_VALUE_FORMAT=json).
    const verified = await rig.verify({ exportId, stream, filter: only('mig_e2e') });
    expect(verified.duplicates).toBe(0);
    expect([...verified.controls.keys()].some((id) => id.startsWith('truncate'))).toBe(false);
  });
});
