import { describe, expect, it } from 'vitest';
import { MemoryMetrics } from '../../shared/ports/observability.js';
import { encodeInt64 } from '../../simulator/values.js';
import { legacyPosition } from '../fakes/legacy-position.js';
import { useExportRig } from './rig.js';

type Write = Parameters<ReturnType<typeof useExportRig>['f']['write']>[0][number];
const inserts = (
  table: string,
  n: number,
  doc: (i: number) => Record<string, unknown> = (i) => ({ i }),
): Write[] => Array.from({ length: n }, (_, i) => ({ op: 'insert', table, doc: doc(i) }));

describe('export: snapshot then changes, exactly', () => {
  const rig = useExportRig();
  const { f } = rig;

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
    const first = await rig.run({ filter }, { stream, exportId });
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
    const second = await rig.run({ filter }, { stream, exportId });
    expect(second).toMatchObject({ status: 'caught-up' });

    const result = await rig.verify({ stream, exportId, filter });
    expect(result.unique).toBe(1 + 1023 + 1024 + 1025 + 5);
    const ops = result.records.map((r) => r.event.op);
    expect(ops.filter((o) => o === 'snapshot')).toHaveLength(1 + 1023 + 1024 + 1025);
    expect(ops.filter((o) => o === 'delete')).toHaveLength(1);
    expect(result.records.some((r) => r.event.table === 'fx_other')).toBe(false);
    const bigDoc = result.records.find((r) => r.event.table === 'fx_t1');
    expect(bigDoc?.docText).toContain('"big":"9007199254740993"');
    expect(bigDoc?.docText).toContain('"f":1.5');
  });

  it('delivers a 300-write transaction in one page, complete', async () => {
    const { stream, exportId } = await rig.fresh();
    const filter = { includeTables: ['fx_tx'] };
    f.write(inserts('fx_tx', 1));
    await rig.run({ filter }, { stream, exportId });
    const { ts } = f.write(inserts('fx_tx', 300));
    const pageSizes: number[] = [];
    const deps = rig.deps({ stream, exportId });
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
    const { exportChanges } = await import('../../shared/export/export-changes.js');
    await exportChanges(recording, rig.baseOptions({ filter }));
    expect(pageSizes).toContain(300);
    const result = await rig.verify({ stream, exportId, filter });
    expect(result.records.filter((r) => r.event.ts === ts.toString())).toHaveLength(300);
  });

  it('keeps the cursor moving through empty pages of unselected rows', async () => {
    const { stream, exportId } = await rig.fresh();
    const filter = { includeTables: ['fx_wanted'] };
    f.write(inserts('fx_wanted', 1));
    await rig.run({ filter }, { stream, exportId });
    for (let i = 0; i < 300; i++) f.write(inserts('fx_noise', 1));
    f.write([{ op: 'insert', table: 'fx_wanted', doc: { late: true } }]);
    const metrics = new MemoryMetrics();
    const outcome = await rig.run({ filter }, { stream, exportId, metrics });
    expect(outcome).toMatchObject({ status: 'caught-up', events: 1 });
    expect(metrics.totals.get('Pages')).toBeGreaterThanOrEqual(3);
    await rig.verify({ stream, exportId, filter });
  });

  it('advances the cursor of an idle deployment while following', async () => {
    const { stream, exportId } = await rig.fresh();
    const filter = { includeTables: ['fx_idle'] };
    f.write(inserts('fx_idle', 1));
    await rig.run({ filter }, { stream, exportId });
    const deps = rig.deps({ stream, exportId });
    const cursors: bigint[] = [];
    const checkpoint = deps.store.checkpoint.bind(deps.store);
    deps.store.checkpoint = async (lease, state, ttl) => {
      if (state.position.phase === 'deltas') cursors.push(BigInt(state.position.deltaCursor));
      return checkpoint(lease, state, ttl);
    };
    const started = Date.now();
    const { exportChanges } = await import('../../shared/export/export-changes.js');
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
    await rig.run({ filter }, { stream, exportId, metrics });
    expect(metrics.totals.get('ClaimChecks')).toBe(1);
    const { records } = await rig.verify({ stream, exportId, filter });
    const raw = records.map(
      (r) => JSON.parse(Buffer.from(r.record.data).toString()) as Record<string, unknown>,
    );
    const ref = raw.find((e) => 'docRef' in e);
    expect(ref).toMatchObject({
      v: 1,
      op: 'snapshot',
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
    f.write(inserts('fx_overlap', 3_000));
    const trace: string[] = [];
    const source = rig.convex();
    let fetches = 0;
    let publishes = 0;
    const deps = rig.deps({
      stream,
      exportId,
      source: {
        listSnapshot: async (...args: Parameters<typeof source.listSnapshot>) => {
          const n = ++fetches;
          trace.push(`fetch-start ${n}`);
          return source.listSnapshot(...args);
        },
        documentDeltas: source.documentDeltas.bind(source),
      },
    });
    const { publisher, store } = deps;
    const traced = {
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
          const p = legacyPosition(args[1].position);
          trace.push(
            `checkpoint ${p.phase}${p.phase === 'snapshot' && p.snapshotCursor === undefined ? ' pin' : ''}`,
          );
          return store.checkpoint(...args);
        },
      }),
    };
    const { exportChanges } = await import('../../shared/export/export-changes.js');
    await exportChanges(traced, rig.baseOptions({ filter }));
    // Page 2's fetch starts before page 1's publish ends.
    expect(trace.indexOf('fetch-start 2')).toBeLessThan(trace.indexOf('publish-end 1'));
    // Each publish ends before the next checkpoint, and checkpoints never overtake publishes.
    // First the snapshot timestamp is pinned, before anything is published; then publish, checkpoint, …
    const [pin, ...order] = trace.filter(
      (t) => t.startsWith('publish-end') || t.startsWith('checkpoint'),
    );
    expect(pin).toBe('checkpoint snapshot pin');
    expect(trace.indexOf('checkpoint snapshot pin')).toBeLessThan(trace.indexOf('publish-start 1'));
    for (let i = 0; i < order.length; i += 2) {
      expect(order[i]).toMatch(/^publish-end/);
      expect(order[i + 1]).toMatch(/^checkpoint/);
    }
    await rig.verify({ stream, exportId, filter });
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
      },
    });
    const { exportChanges } = await import('../../shared/export/export-changes.js');
    await exportChanges(ignoring, rig.baseOptions({ filter }));
    const { records } = await rig.verify({ stream, exportId, filter });
    expect(new Set(records.map((r) => r.event.table))).toEqual(new Set(['fx_keep']));
  });
});
