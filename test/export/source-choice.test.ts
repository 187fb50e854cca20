import { describe, expect, it } from 'vitest';
import { ConvexLegacyFeed } from '../../shared/adapters/convex-legacy-feed.js';
import { ConvexSourceMigration } from '../../shared/adapters/convex-source-migration.js';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import type { SourceChoosingFeed } from '../../shared/adapters/source-choosing-feed.js';
import { createDynamoDbClient } from '../../shared/aws/clients.js';
import { DataSyncNotServedError } from '../../shared/convex/errors.js';
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

  const readStart = (feed: { read: SourceChoosingFeed['read'] }, position: FeedPosition) =>
    feed.read(position, {
      filter: only('sc_choice'),
      signal: AbortSignal.timeout(5_000),
      generation: 1,
    });

  it.each([
    ['auto', true, 'data-sync', true],
    ['auto', false, 'legacy', true],
    ['data-sync', true, 'data-sync', true],
    ['legacy', true, 'legacy', false],
  ] as const)(
    'BRIDGE_SOURCE=%s with Data Sync served=%s: a new export reads %s (autoMigrate %s), asking Convex only by reading',
    async (source, served, reads, autoMigrate) => {
      f.sim.knobs.dataSyncEnabled = served;
      f.write([{ op: 'insert', table: 'sc_choice', doc: {} }]);
      const log = recordingLog();
      const chosen = chooseSource(f.client(), { source, valueFormat: 'json' }, { log });
      expect(chosen.autoMigrate).toBe(autoMigrate);
      // Building the feed asks Convex nothing: an unreachable Convex fails a run, which the state records.
      expect(f.sim.stats.size).toBe(0);
      const first = (await readStart(chosen.feed, chosen.feed.start())) as FeedPage;
      expect(first.next.source).toBe(reads);
      expect(chosen.feed.start().source).toBe(reads);
      // Later starts (a resync's new generation) go straight to the answer: no second 404.
      await readStart(chosen.feed, chosen.feed.start());
      expect(Object.entries(requestsTo(f.sim, '/api/v1/data/sync'))).toEqual(
        source === 'legacy'
          ? []
          : served
            ? [['POST /api/v1/data/sync 200', 2]]
            : [['POST /api/v1/data/sync 404', 1]],
      );
      expect(log.lines.some((l) => l.includes('does not serve Data Sync'))).toBe(!served);
    },
  );

  it('BRIDGE_SOURCE=data-sync on a deployment without it fails, saying which setting to change', async () => {
    f.sim.knobs.dataSyncEnabled = false;
    const { feed } = chooseSource(f.client(), { source: 'data-sync', valueFormat: 'json' });
    expect(feed.start().source).toBe('data-sync');
    const error = await readStart(feed, feed.start()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataSyncNotServedError);
    expect((error as Error).message).toContain('set BRIDGE_SOURCE=legacy or auto');
  });

  it('reads each position with the source it belongs to, whatever new exports start on', async () => {
    f.write([{ op: 'insert', table: 'sc_dispatch', doc: { x: 1 } }]);
    const metrics = new MemoryMetrics();
    const { feed } = chooseSource(f.client(), { source: 'auto', valueFormat: 'json' }, { metrics });
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
    const legacy = await buildExportDeps(loadExportConfig(env('legacy')), sinks);
    expect(legacy.feed.start().source).toBe('legacy');
    expect(legacy.autoMigrate).toBe(false);
  });

  it('the export wiring builds without Convex: a run records why it could not read', async () => {
    const config = loadExportConfig({
      CONVEX_URL: 'http://127.0.0.1:9',
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      BRIDGE_CONVEX_TIMEOUT_MS: '1000',
      BRIDGE_STREAM_NAME: rig.names.stream,
      BRIDGE_STATE_TABLE: rig.names.table,
      BRIDGE_OVERSIZE_BUCKET: rig.names.bucket,
      BRIDGE_EXPORT_ID: 'unreachable',
    });
    const deps = await buildExportDeps(config, { metrics: new MemoryMetrics(), log: silentLog });
    await expect(exportChanges(deps, rig.baseOptions())).rejects.toThrow(/ECONNREFUSED/);
    const { state } = await new DynamoDbExportStore(
      createDynamoDbClient(),
      rig.names.table,
      'unreachable',
    ).read();
    expect(state?.lastError?.message).toMatch(
      /api\/v1\/data\/sync failed before a complete response/,
    );
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
    const { feed } = chooseSource(f.client(), { source: 'auto', valueFormat: 'json' });
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

  /** Runs the exporter as wired from the environment on a fresh stream and export id. */
  const wiredExport = async (table: string) => {
    const { stream, exportId } = await rig.fresh();
    const run = async (source: string) => {
      const config = loadExportConfig({
        CONVEX_URL: f.sim.url,
        CONVEX_DEPLOY_KEY: DEPLOY_KEY,
        BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
        BRIDGE_STREAM_NAME: stream,
        BRIDGE_STATE_TABLE: rig.names.table,
        BRIDGE_OVERSIZE_BUCKET: rig.names.bucket,
        BRIDGE_EXPORT_ID: exportId,
        BRIDGE_INCLUDE_TABLES: table,
        BRIDGE_SOURCE: source,
      });
      const deps = await buildExportDeps(config, { metrics: new MemoryMetrics(), log: silentLog });
      return exportChanges(deps, rig.baseOptions({ filter: config.filter }));
    };
    return { stream, exportId, run };
  };

  it('an exporter with BRIDGE_SOURCE=auto on a backend without Data Sync records the refusal once and stays legacy', async () => {
    const { run } = await wiredExport('mig_old');
    f.write([{ op: 'insert', table: 'mig_old', doc: {} }]);
    expect(await run('legacy')).toMatchObject({ status: 'caught-up' });
    f.sim.knobs.dataSyncEnabled = false;
    f.write([{ op: 'insert', table: 'mig_old', doc: {} }]);
    const kept = await run('auto');
    expect(kept).toMatchObject({
      status: 'caught-up',
      events: 1,
      state: {
        position: { source: 'legacy', phase: 'deltas' },
        migration: {
          outcome: 'refused',
          reason: expect.stringMatching(/does not serve Data Sync/),
        },
      },
    });
    await run('auto');
    expect(requestsTo(f.sim, '/api/data_sync_cursor_from_deltas')).toEqual({
      'POST /api/data_sync_cursor_from_deltas 404': 1,
    });
  });

  it('an exporter with BRIDGE_SOURCE=auto moves a following legacy export once, under writes, losing and repeating nothing', async () => {
    const { stream, exportId, run } = await wiredExport('mig_e2e');
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
