import { describe, expect, it } from 'vitest';
import { isControlEvent } from '../../shared/events/change-event.js';
import type { ExportOptions } from '../../shared/export/export-changes.js';
import { ExportResyncRequiredError } from '../../shared/export/export-changes.js';
import { parseLossless } from '../../shared/values/lossless-json.js';
import { replaceTable } from '../../simulator/admin-routes.js';
import { consumeWholeStream, convexState } from './consume-stream.js';
import { useExportRig } from './rig.js';

const rig = useExportRig();
const { f } = rig;
const HOUR_MS = 3_600_000;

/** Convex's latest timestamp, as `clear-tables` reads it before clearing. */
async function convexNow(): Promise<string> {
  const page = await rig
    .convex()
    .listSnapshot({ selection: { selection: { _other: 'excluded' } } });
  return page.snapshot;
}

const parse = (data: Uint8Array) =>
  parseLossless(Buffer.from(data).toString('utf8')) as {
    op: string;
    eventId: string;
    table?: string;
  };

describe.each(['legacy', 'data-sync'] as const)('the %s source', (api) => {
  const prefix = api === 'legacy' ? 'lg' : 'ds';
  const t = (name: string) => `${prefix}_${name}`;
  const ours = (_component: string, table: string) => table.startsWith(`${prefix}_`);

  it('an expired cursor under writes, deletes and cleared tables: with resync a consumer of the stream ends equal to Convex, no operator action', async () => {
    const { stream, exportId } = await rig.fresh(4);
    const users = f.write(
      Array.from({ length: 30 }, (_, i) => ({
        op: 'insert' as const,
        table: t('users'),
        doc: { n: i },
      })),
    ).ids;
    f.write(
      Array.from({ length: 8 }, (_, i) => ({
        op: 'insert' as const,
        table: t('orders'),
        doc: { i },
      })),
    );
    f.write(
      Array.from({ length: 5 }, (_, i) => ({
        op: 'insert' as const,
        table: t('tags'),
        doc: { i },
      })),
    );
    const options: Partial<ExportOptions> = {
      onExpiredCursor: 'resync',
      // Other tests' tables share the simulator; the filter also exercises the selection.
      filter: { includeTables: [t('users'), t('orders'), t('tags')] },
    };
    const deps = { stream, exportId, tail: true, lifecycle: true, api } as const;
    await rig.run(options, deps);

    // Generation 1 follows: changes, deletes, and a clear through the bridge (recorded first).
    f.write(users.slice(0, 5).map((id) => ({ op: 'patch' as const, id, fields: { n: -1 } })));
    f.write(users.slice(5, 8).map((id) => ({ op: 'delete' as const, id })));
    await rig.clearLog(exportId).record({
      component: '',
      table: t('orders'),
      before: await convexNow(),
      recordedAt: new Date().toISOString(),
    });
    await rig.convex().clearTables([t('orders')]);
    f.write([{ op: 'insert', table: t('orders'), doc: { after: 'clear' } }]);
    await rig.run(options, deps);
    // Before any resync, the truncate alone brings consumers to Convex's state.
    const beforeGap = await consumeWholeStream(rig.kinesis(), rig.s3, stream);
    expect(beforeGap.state).toEqual(convexState(f.sim.deployment, ours));

    // The exporter pauses past Convex's retention while the deployment keeps changing: deletes,
    // updates, a replaced table (no event of its own on the legacy source).
    f.sim.knobs.retentionSeconds = 3_600;
    f.sim.deployment.advanceClock(2 * HOUR_MS);
    f.write(users.slice(8, 12).map((id) => ({ op: 'delete' as const, id })));
    f.write(users.slice(12, 15).map((id) => ({ op: 'patch' as const, id, fields: { n: 99 } })));
    replaceTable(f.sim.deployment, t('tags'), [{ replaced: true }]);

    const outcome = await rig.run(options, deps);

    expect(outcome.status).toBe('caught-up');
    if (outcome.status !== 'caught-up') return;
    expect(outcome.state).toMatchObject({ generation: 2, announcedGeneration: 2 });
    expect(outcome.state.lastResync?.reason).toBe(
      api === 'legacy' ? 'InvalidWindowToReadDocuments' : 'DataSyncCursorExpired',
    );
    const consumed = await consumeWholeStream(rig.kinesis(), rig.s3, stream);
    const expected = convexState(f.sim.deployment, ours);
    expect(consumed.state.size).toBe(expected.size);
    expect(consumed.state).toEqual(expected);
    // The generation's start and end reached every shard exactly once.
    const shards = new Set(consumed.records.map((r) => r.shardId));
    for (const eventId of ['resync-start/g2', 'snapshot-complete/g2']) {
      const copies = consumed.records.filter((r) => parse(r.data).eventId === eventId);
      expect(copies.map((r) => r.shardId).sort()).toEqual([...shards].sort());
    }
    // The bridge's clear (legacy) or Convex's own truncate (Data Sync) told consumers about it.
    const truncates = consumed.records
      .map((r) => parse(r.data))
      .filter((e) => e.op === 'truncate' && e.table === t('orders'));
    expect(truncates.length).toBeGreaterThanOrEqual(shards.size);
  });

  it('with stop: the export stops with the resync condition and publishes nothing more', async () => {
    const { stream, exportId } = await rig.fresh(2);
    f.sim.knobs.retentionSeconds = 14 * 24 * 3600;
    f.write([{ op: 'insert', table: t('stop'), doc: { n: 1 } }]);
    const deps = { stream, exportId, tail: true, lifecycle: true, api } as const;
    const filter = { includeTables: [t('stop')] };
    await rig.run({ onExpiredCursor: 'stop', filter }, deps);
    f.sim.knobs.retentionSeconds = 3_600;
    f.sim.deployment.advanceClock(2 * HOUR_MS);
    f.write([{ op: 'insert', table: t('stop'), doc: { n: 2 } }]);
    const before = (await consumeWholeStream(rig.kinesis(), rig.s3, stream)).records.length;

    const run = rig.run({ onExpiredCursor: 'stop', filter }, deps);

    await expect(run).rejects.toBeInstanceOf(ExportResyncRequiredError);
    await expect(run).rejects.toThrow(/convex-bridge resync/);
    const after = await consumeWholeStream(rig.kinesis(), rig.s3, stream);
    expect(after.records.length).toBe(before);
    f.sim.knobs.retentionSeconds = 14 * 24 * 3600;
  });
});

describe('schema events', () => {
  it('one per change (a new table, a field changing type), in order on every shard before the documents it describes', async () => {
    const { stream, exportId } = await rig.fresh(4);
    const table = 'sc_items';
    const ids = f.write(
      Array.from({ length: 12 }, (_, i) => ({ op: 'insert' as const, table, doc: { n: i } })),
    ).ids;
    const deps = { stream, exportId, tail: true, lifecycle: true } as const;
    // Compare schemas on every batch: only a change may produce an event.
    const options: Partial<ExportOptions> = {
      schemaCheckMs: 0,
      filter: { includeTables: [table] },
    };
    await rig.run(options, deps);
    await rig.run(options, deps);
    f.write(ids.map((id) => ({ op: 'patch' as const, id, fields: { n: `text ${id}` } })));
    await rig.run(options, deps);
    await rig.run(options, deps);

    const { records } = await consumeWholeStream(rig.kinesis(), rig.s3, stream);
    const events = records.map((r) => ({ shard: r.shardId, event: parse(r.data) }));
    const schemaIds = [
      ...new Set(
        events
          .filter((e) => e.event.op === 'schema' && e.event.table === table)
          .map((e) => e.event.eventId),
      ),
    ];
    expect(schemaIds).toHaveLength(2);
    const shards = [...new Set(events.map((e) => e.shard))];
    for (const shard of shards) {
      const onShard = events.filter((e) => e.shard === shard).map((e) => e.event);
      const first = onShard.findIndex((e) => e.eventId === schemaIds[0]);
      const second = onShard.findIndex((e) => e.eventId === schemaIds[1]);
      expect(first).toBeGreaterThanOrEqual(0);
      expect(second).toBeGreaterThan(first);
      expect(onShard.filter((e) => e.op === 'schema' && e.table === table)).toHaveLength(2);
      const docs = onShard
        .map((e, i) => ({
          e: e as unknown as { op: string; table?: string; doc?: { n?: unknown } },
          i,
        }))
        .filter(({ e }) => !isControlEvent(e as never) && e.table === table);
      // Every document of the table on this shard comes after the first schema event, and every
      // document holding the new type after the second.
      for (const { e, i } of docs) {
        expect(i).toBeGreaterThan(first);
        if (typeof e.doc?.n === 'string') expect(i).toBeGreaterThan(second);
      }
    }
  });
});

describe('a cleared and a replaced table, no resync', () => {
  it('on Data Sync: consumers replaying the stream end with exactly Convex’s final state', async () => {
    const { stream, exportId } = await rig.fresh(4);
    const tables = ['cr_ds_kept', 'cr_ds_cleared', 'cr_ds_replaced'];
    for (const table of tables)
      f.write(Array.from({ length: 20 }, (_, i) => ({ op: 'insert' as const, table, doc: { i } })));
    const options: Partial<ExportOptions> = { filter: { includeTables: tables } };
    const deps = { stream, exportId, tail: true, lifecycle: true, api: 'data-sync' } as const;
    await rig.run(options, deps);

    await rig.convex().clearTables(['cr_ds_cleared']);
    f.write([{ op: 'insert', table: 'cr_ds_cleared', doc: { after: 1 } }]);
    replaceTable(f.sim.deployment, 'cr_ds_replaced', [{ fresh: 1 }, { fresh: 2 }]);
    f.write([{ op: 'insert', table: 'cr_ds_kept', doc: { late: true } }]);
    await rig.run(options, deps);

    const consumed = await consumeWholeStream(rig.kinesis(), rig.s3, stream);
    const ours = (_c: string, table: string) => tables.includes(table);
    expect(consumed.state).toEqual(convexState(f.sim.deployment, ours));
    expect([...consumed.state.keys()].filter((k) => k.includes('/cr_ds_replaced/'))).toHaveLength(
      2,
    );
  });

  it('on the legacy source: a replace by another tool is not signalled (documented); the bridge’s own clear-tables is', async () => {
    const { stream, exportId } = await rig.fresh(2);
    const tables = ['cr_lg_cleared', 'cr_lg_replaced'];
    for (const table of tables)
      f.write(Array.from({ length: 10 }, (_, i) => ({ op: 'insert' as const, table, doc: { i } })));
    const options: Partial<ExportOptions> = { filter: { includeTables: tables } };
    const deps = { stream, exportId, tail: true, lifecycle: true, api: 'legacy' } as const;
    await rig.run(options, deps);

    await rig.clearLog(exportId).record({
      component: '',
      table: 'cr_lg_cleared',
      before: await convexNow(),
      recordedAt: new Date().toISOString(),
    });
    await rig.convex().clearTables(['cr_lg_cleared']);
    replaceTable(f.sim.deployment, 'cr_lg_replaced', [{ fresh: 1 }]);
    await rig.run(options, deps);

    const consumed = await consumeWholeStream(rig.kinesis(), rig.s3, stream);
    const inTable = (table: string) =>
      [...consumed.state.keys()].filter((k) => k.includes(`/${table}/`)).length;
    // The clear through the bridge reached consumers as a truncate...
    expect(inTable('cr_lg_cleared')).toBe(0);
    // ...the replace did not: the 10 old rows stay beside the new one (docs/events.md, "Not
    // signalled"); Data Sync or a resync is the remedy.
    expect(inTable('cr_lg_replaced')).toBe(11);
  });
});
