import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import { createDynamoDbClient } from '../../shared/aws/clients.js';
import type { ExportState } from '../../shared/export/export-state.js';
import type { FeedPosition } from '../../shared/ports/change-feed.js';
import { ensureStateTable } from '../../shared/setup/ensure-resources.js';
import { toDeltaCursor } from '../../shared/values/int64.js';
import { runCli } from '../helpers/run-cli.js';
import { DEPLOY_KEY, useSimulator } from '../helpers/simulator.js';

describe('convex-bridge migrate-source', () => {
  const f = useSimulator();
  const table = `state-mig-${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    await ensureStateTable(createDynamoDbClient(), table);
  });

  /** A fresh export id whose state is `position`, and the env to run the CLI on it. */
  const exportAt = async (position?: FeedPosition, extra: Partial<ExportState> = {}) => {
    const exportId = `m-${randomUUID().slice(0, 8)}`;
    const store = new DynamoDbExportStore(createDynamoDbClient(), table, exportId);
    if (position) {
      const held = await store.acquire('setup', 10_000);
      if (!held) throw new Error('lease unavailable');
      await store.checkpoint(
        held.lease,
        { position, generation: 1, updatedAt: 'then', ...extra },
        10_000,
      );
      await store.release(held.lease);
    }
    const env = {
      CONVEX_URL: f.sim.url,
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      BRIDGE_STREAM_NAME: 'unused',
      BRIDGE_STATE_TABLE: table,
      BRIDGE_OVERSIZE_BUCKET: 'unused',
      BRIDGE_EXPORT_ID: exportId,
      BRIDGE_INCLUDE_TABLES: 'cli_mig',
    };
    return { store, env };
  };
  /** A delta cursor at the deployment's current time, as a caught-up legacy export holds. */
  const deltasNow = (): FeedPosition => {
    f.write([{ op: 'insert', table: 'cli_mig', doc: {} }]);
    return {
      source: 'legacy',
      phase: 'deltas',
      deltaCursor: toDeltaCursor(f.sim.deployment.readTs().toString()),
    };
  };

  it('moves a following legacy export onto Data Sync under its lease, and says from where', async () => {
    const from = deltasNow();
    const { store, env } = await exportAt(from);
    const out = await runCli(['migrate-source'], env);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const cursor = (from as { deltaCursor: string }).deltaCursor;
    expect(out.stdout).toMatch(
      new RegExp(
        `^moved export '${env.BRIDGE_EXPORT_ID}' onto Data Sync: it continues after legacy delta cursor ${cursor} \\(\\d{4}-\\d\\d-\\d\\dT.*Z\\), copying nothing again\\n$`,
      ),
    );
    const { state, lease } = await store.read();
    expect(lease).toBeUndefined();
    expect(state).toMatchObject({
      position: { source: 'data-sync', phase: 'changes', cursor: expect.any(String) },
      cursorTs: cursor,
      migration: { outcome: 'migrated' },
    });
    // The moved cursor reads on from there: the next change and nothing before it.
    const next = f.write([{ op: 'insert', table: 'cli_mig', doc: { after: true } }]);
    const page = await f.client().dataSync({
      cursor: (state?.position as { cursor?: string } | undefined)?.cursor ?? '',
      selection: {
        _other: 'excluded',
        '': { _other: 'excluded', cli_mig: { _other: 'included' } },
      },
    });
    expect(page.values.map((v) => v.ts)).toEqual([next.ts.toString()]);
    expect(page.truncates).toEqual([]);

    const again = await runCli(['migrate-source'], env);
    expect([again.code, again.stdout]).toEqual([
      0,
      `export '${env.BRIDGE_EXPORT_ID}' already reads Data Sync\n`,
    ]);
  });

  it('--dry-run asks Convex and changes nothing', async () => {
    const from = deltasNow();
    const { store, env } = await exportAt(from);
    const out = await runCli(['migrate-source', '--dry-run'], env);
    expect([out.code, out.stdout]).toEqual([
      0,
      expect.stringMatching(
        /^would move export 'm-[0-9a-f]{8}' onto Data Sync \(legacy delta cursor \d{19} /,
      ),
    ]);
    expect((await store.read()).state?.position).toEqual(from);
  });

  it.each([
    [
      'a backend without Data Sync',
      () => {
        f.sim.knobs.dataSyncEnabled = false;
        return deltasNow();
      },
      /^kept the legacy source: this deployment does not serve Data Sync \(404/,
    ],
    [
      'a cursor Convex refuses',
      (): FeedPosition => ({
        source: 'legacy',
        phase: 'deltas',
        deltaCursor: toDeltaCursor('9000000000000000000'),
      }),
      /^kept the legacy source: Convex refused the legacy cursor 9000000000000000000 \(InvalidDataSyncCursor/,
    ],
    [
      'a snapshot still being copied',
      (): FeedPosition => ({ source: 'legacy', phase: 'snapshot' }),
      /^kept the legacy source: the legacy export is still copying its snapshot/,
    ],
  ])(
    'keeps the legacy source on %s: exit 1, the reason, the state untouched',
    async (_name, position, message) => {
      const from = position();
      const { store, env } = await exportAt(from);
      const out = await runCli(['migrate-source'], env);
      expect(out.code).toBe(1);
      expect(out.stdout).toMatch(message);
      const { state, lease } = await store.read();
      expect(state?.position).toEqual(from);
      expect(state?.migration).toBeUndefined();
      expect(lease).toBeUndefined();
    },
  );

  it('says who holds the lease and exits 3 while an exporter runs', async () => {
    const from = deltasNow();
    const { store, env } = await exportAt(from);
    await store.acquire('lambda:req-123', 60_000);
    const out = await runCli(['migrate-source'], env);
    expect([out.code, out.stdout]).toEqual([
      3,
      'the export lease is held by lambda:req-123; stop the exporter (or wait for its run to end) and try again\n',
    ]);
    expect((await store.read()).state?.position).toEqual(from);
  });

  it('says there is nothing to move for an export without state', async () => {
    const { env } = await exportAt();
    const out = await runCli(['migrate-source'], env);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(
      /has no state yet: a new export starts on the source BRIDGE_SOURCE chooses/,
    );
  });

  it('is listed in --help', async () => {
    const out = await runCli(['--help'], {});
    expect(out.stdout).toContain('migrate-source [--dry-run]');
    const own = await runCli(['migrate-source', '--help'], {});
    expect(own.stdout).toContain('without copying anything again');
  });
});
