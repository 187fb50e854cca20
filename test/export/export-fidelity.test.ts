import { describe, expect, it } from 'vitest';
import type { ConvexClient } from '../../shared/convex/client.js';
import { exportChanges } from '../../shared/export/export-changes.js';
import { MemoryMetrics } from '../../shared/ports/observability.js';
import { encodeInt64 } from '../../simulator/values.js';
import { legacyPosition } from '../fakes/legacy-position.js';
import { useExportRig } from './rig.js';
import { SOURCES, verifyExport } from './verify-stream.js';

type Write = Parameters<ReturnType<typeof useExportRig>['f']['write']>[0][number];
const inserts = (
  table: string,
  n: number,
  doc: (i: number) => Record<string, unknown> = (i) => ({ i }),
): Write[] => Array.from({ length: n }, (_, i) => ({ op: 'insert', table, doc: doc(i) }));

/** Where a checkpoint stands, in words a trace can compare across sources. */
const describePosition = (position: Parameters<typeof legacyPosition>[0]) =>
  position?.source === 'legacy'
    ? ((p) =>
        `${p.phase}${p.phase === 'snapshot' && p.snapshotCursor === undefined ? ' pin' : ''}`)(
        legacyPosition(position),
      )
    : (position?.phase ?? 'none');

describe.each(SOURCES)('export from the %s source: snapshot then changes, exactly', (api) => {
  // One simulator per source: the tests' tables keep their names and sizes on both.
  const rig = useExportRig();
  const { f } = rig;
  const verify = (options: Parameters<typeof verifyExport>[2]) => verifyExport(rig, api, options);

  it('copies tables of 0, 1, 1023, 1024 and 1025 documents, then every insert, patch and delete', async () => {
    const { stream, exportId } = await rig.fresh();
    const tables = ['fx_t0', 'fx_t1', 'fx_t1023', 'fx_t1024', 'fx_t1025'];
    const filter = { includeTables: tables };
    await f.call('/api/streaming_import/clear_tables', {
      method: 'PUT',
      body: { tableNames: ['fx_t0'] },
    });
    f.write(inserts('fx_t1', 1, () => ({ big: encodeInt64(9007199254740993n), f: 1.5, s: 'x' })));
    for (const n of [1023, 1024, 1025]) f.write(inserts(`fx_t${n}`, n));
    const first = await rig.run({ filter }, { stream, exportId, api });
    expect(first).toMatchObject({ status: 'caught-up' });

    const ids = f.sim.deployment.documents('fx_t1024').map((d) => d._id as string);
    f.write([{ op: 'insert', table: 'fx_t0', doc: { born: true } }]);
    f.write([{ op: 'patch', id: ids[0] as string, fields: { patched: 1 } }]);
    f.write([{ op: 'patch', id: ids[0] as string, fields: { patched: 2 } }]);
    f.write([
      { op: 'delete', id: ids[1] as string },
      { op: 'replace', id: ids[2] as string, doc: { replaced: true } },
    ]);
    f.write([{ op: 'insert', table: 'fx_other', doc: { filtered: 'out' } }]);
    const second = await rig.run({ filter }, { stream, exportId, api });
    expect(second).toMatchObject({ status: 'caught-up' });

    const result = await verify({ stream, exportId, filter });
    expect(result.unique).toBe(1 + 1023 + 1024 + 1025 + 5);
    const ops = result.records.map((r) => r.event.op);
    const copied = 1 + 1023 + 1024 + 1025;
    if (api === 'legacy') expect(ops.filter((o) => o === 'snapshot')).toHaveLength(copied);
    // Data Sync calls the values of a page that ends the copy (its last table) upserts.
    else expect(ops.filter((o) => o === 'snapshot' || o === 'upsert')).toHaveLength(copied + 4);
    expect(ops.filter((o) => o === 'delete')).toHaveLength(1);
    expect(result.records.some((r) => r.event.table === 'fx_other')).toBe(false);
    const bigDoc = result.records.find(
      (r) => r.event.table === 'fx_t1' && r.event.op !== 'truncate',
    );
    expect(bigDoc?.docText).toContain('"big":"9007199254740993"');
    expect(bigDoc?.docText).toContain('"f":1.5');
  });

  it('delivers a 300-write transaction in one page, complete', async () => {
    const { stream, exportId } = await rig.fresh();
    const filter = { includeTables: ['fx_tx'] };
    f.write(inserts('fx_tx', 1));
    await rig.run({ filter }, { stream, exportId, api });
    const { ts } = f.write(inserts('fx_tx', 300));
    const pageSizes: number[] = [];
    const deps = rig.deps({ stream, exportId, api });
    const publish = deps.publisher.publish.bind(deps.publisher);
    const recording = {
      ...deps,
      publisher: {
        publish: (events: Parameters<typeof publish>[0], signal?: AbortSignal) => {
          pageSizes.push(events.length);
          return publish(events, signal);
        },
      },
    };
    await exportChanges(recording, rig.baseOptions({ filter }));
    expect(pageSizes).toContain(300);
    const result = await verify({ stream, exportId, filter });
    expect(result.records.filter((r) => r.event.ts === ts.toString())).toHaveLength(300);
  });

  it('keeps the cursor moving through empty pages of unselected rows', async () => {
    const { stream, exportId } = await rig.fresh();
    const filter = { includeTables: ['fx_wanted'] };
    // Data Sync reads up to 32,768 log rows a page by default: 64 makes the 300 rows take pages.
    f.sim.knobs.dataSyncMaxRowsRead = 64;
    f.write(inserts('fx_wanted', 1));
    await rig.run({ filter }, { stream, exportId, api });
    for (let i = 0; i < 300; i++) f.write(inserts('fx_noise', 1));
    f.write([{ op: 'insert', table: 'fx_wanted', doc: { late: true } }]);
    const metrics = new MemoryMetrics();
    const outcome = await rig.run({ filter }, { stream, exportId, metrics, api });
    expect(outcome).toMatchObject({ status: 'caught-up', events: 1 });
    expect(metrics.totals.get('Pages')).toBeGreaterThanOrEqual(3);
    await verify({ stream, exportId, filter });
  });

  it('advances the cursor of an idle deployment while following', async () => {
    const { stream, exportId } = await rig.fresh();
    const filter = { includeTables: ['fx_idle'] };
    f.write(inserts('fx_idle', 1));
    await rig.run({ filter }, { stream, exportId, api });
    const deps = rig.deps({ stream, exportId, api });
    const cursors: bigint[] = [];
    const checkpoint = deps.store.checkpoint.bind(deps.store);
    deps.store.checkpoint = async (lease, state, ttl) => {
      // The legacy delta cursor is a timestamp; a Data Sync cursor is opaque, its time is cursorTs.
      const p = state.position;
      if (p.source === 'legacy' && p.phase === 'deltas') cursors.push(BigInt(p.deltaCursor));
      if (p.source === 'data-sync' && state.cursorTs !== undefined)
        cursors.push(BigInt(state.cursorTs));
      return checkpoint(lease, state, ttl);
    };
    const started = Date.now();
    const outcome = await exportChanges(
      deps,
      rig.baseOptions({
        filter,
        follow: true,
        pollIntervalMs: 100,
        remainingMs: () => 2_000 - (Date.now() - started),
        safetyMarginMs: 500,
      }),
    );
    expect(outcome.status).toBe('budget-spent');
    expect(cursors.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < cursors.length; i++)
      expect(cursors[i]).toBeGreaterThan(cursors[i - 1] as bigint);
  });

  it('sends a 1 MiB document through S3 with a docRef a consumer can resolve', async () => {
    const { stream, exportId } = await rig.fresh();
    const filter = { includeTables: ['fx_huge'] };
    f.write([{ op: 'insert', table: 'fx_huge', doc: { blob: 'x'.repeat(1_048_400), n: 1 } }]);
    f.write([{ op: 'insert', table: 'fx_huge', doc: { small: true } }]);
    const metrics = new MemoryMetrics();
    await rig.run({ filter }, { stream, exportId, metrics, api });
    expect(metrics.totals.get('ClaimChecks')).toBe(1);
    const { records } = await verify({ stream, exportId, filter });
    const raw = records.map(
      (r) => JSON.parse(Buffer.from(r.record.data).toString()) as Record<string, unknown>,
    );
    const ref = raw.find((e) => 'docRef' in e);
    expect(ref).toMatchObject({
      v: 1,
      op: api === 'legacy' ? 'snapshot' : expect.stringMatching(/^(snapshot|upsert)$/),
      table: 'fx_huge',
      docRef: {
        bucket: rig.names.bucket,
        key: expect.stringMatching(/^events\/_root\/fx_huge\//),
        bytes: expect.any(Number),
      },
    });
    expect(ref).not.toHaveProperty('doc');
    expect(
      Buffer.from(
        records.find((r) => r.event.docRef === undefined && r.docText?.includes('blob'))?.record
          .data ?? [],
      ).length,
    ).toBeLessThan(1024 * 1024);
  });

  it('fetches page N+1 while page N is being published, and still checkpoints in page order', async () => {
    const { stream, exportId } = await rig.fresh();
    const filter = { includeTables: ['fx_overlap'] };
    f.sim.knobs.dataSyncPageSizeLimit = 1_024; // 3,000 documents in pages of 1,024, as listed
    f.write(inserts('fx_overlap', 3_000));
    const trace: string[] = [];
    const source = rig.convex();
    let fetches = 0;
    let publishes = 0;
    const traced = <A extends unknown[], R>(read: (...args: A) => Promise<R>) => {
      return (...args: A) => {
        const n = ++fetches;
        trace.push(`fetch-start ${n}`);
        return read(...args);
      };
    };
    const deps = rig.deps({
      stream,
      exportId,
      api,
      source: {
        listSnapshot: traced(source.listSnapshot.bind(source)),
        documentDeltas: source.documentDeltas.bind(source),
        dataSync: traced(source.dataSync.bind(source)) as ConvexClient['dataSync'],
      },
    });
    const { publisher, store } = deps;
    const tracing = {
      ...deps,
      publisher: {
        publish: async (...args: Parameters<typeof publisher.publish>) => {
          const n = ++publishes;
          trace.push(`publish-start ${n}`);
          await new Promise((r) => setTimeout(r, 30));
          const out = await publisher.publish(...args);
          trace.push(`publish-end ${n}`);
          return out;
        },
      },
      store: Object.assign(Object.create(store) as typeof store, {
        checkpoint: async (...args: Parameters<typeof store.checkpoint>) => {
          trace.push(`checkpoint ${describePosition(args[1].position)}`);
          return store.checkpoint(...args);
        },
      }),
    };
    await exportChanges(tracing, rig.baseOptions({ filter }));
    // Page 2's fetch starts before page 1's publish ends.
    expect(trace.indexOf('fetch-start 2')).toBeLessThan(trace.indexOf('publish-end 1'));
    // Each publish ends before the next checkpoint, and checkpoints never overtake publishes.
    let order = trace.filter((t) => t.startsWith('publish-end') || t.startsWith('checkpoint'));
    if (api === 'legacy') {
      // First the snapshot timestamp is pinned, before anything is published (Data Sync has no pin).
      expect(order[0]).toBe('checkpoint snapshot pin');
      expect(trace.indexOf('checkpoint snapshot pin')).toBeLessThan(
        trace.indexOf('publish-start 1'),
      );
      order = order.slice(1);
    }
    expect(order.length).toBeGreaterThanOrEqual(4);
    for (let i = 0; i < order.length; i += 2) {
      expect(order[i]).toMatch(/^publish-end/);
      expect(order[i + 1]).toMatch(/^checkpoint/);
    }
    await verify({ stream, exportId, filter });
  });

  it('filters tables locally even when the server ignores the selection', async () => {
    const { stream, exportId } = await rig.fresh();
    const filter = { includeTables: ['fx_keep'] };
    f.write([...inserts('fx_keep', 3), ...inserts('fx_drop', 3)]);
    // An old backend (or a malformed selection) exports everything: simulate by filtering nothing server-side.
    const source = rig.convex();
    const ignoring = rig.deps({
      stream,
      exportId,
      api,
      source: {
        listSnapshot: (
          args: Parameters<typeof source.listSnapshot>[0] = {},
          call?: Parameters<typeof source.listSnapshot>[1],
        ) => {
          const { selection: _ignored, ...rest } = args;
          return source.listSnapshot(rest, call);
        },
        documentDeltas: (
          args: Parameters<typeof source.documentDeltas>[0],
          call?: Parameters<typeof source.documentDeltas>[1],
        ) => {
          const { selection: _ignored, ...rest } = args;
          return source.documentDeltas(rest, call);
        },
        dataSync: (
          args: Parameters<typeof source.dataSync>[0] = {},
          call?: Parameters<typeof source.dataSync>[1],
        ) => {
          const { selection: _ignored, ...rest } = args;
          return source.dataSync(rest, call);
        },
      },
    });
    await exportChanges(ignoring, rig.baseOptions({ filter }));
    const { records } = await verify({ stream, exportId, filter });
    // Document events and control events about a table: only the selected one.
    const tables = records.map((r) => r.event.table).filter((t) => t !== undefined);
    expect(new Set(tables)).toEqual(new Set(['fx_keep']));
    expect(records.filter((r) => ['snapshot', 'upsert'].includes(r.event.op))).toHaveLength(3);
  });
});
