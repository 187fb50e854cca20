import { describe, expect, it } from 'vitest';
import { KinesisStreamTail } from '../../shared/adapters/kinesis-stream-reader.js';
import { MAX_BATCH_EVENTS } from '../../shared/export/export-changes.js';
import { MemoryMetrics } from '../../shared/ports/observability.js';
import { useExportRig } from './rig.js';

/**
 * What a recovery costs: a run dies after publishing a full batch (5,000 events, 2 shards) but
 * before its checkpoint; the next run reads them back and skips them. Prints the figures for the
 * README's Performance table (RECOVERY_COST line).
 */
describe('recovery cost', () => {
  const rig = useExportRig({ snapshotListLimit: 1_000, documentDeltasLimit: 1_000 });
  const { f } = rig;

  it('reads back one unsaved batch of 5,000 events: time, GetRecords calls and bytes, 0 republished', {
    timeout: 120_000,
  }, async () => {
    const { stream, exportId } = await rig.fresh(2);
    const table = 'cost_docs';
    const filter = { includeTables: [table] };
    f.write(Array.from({ length: 50 }, (_, i) => ({ op: 'insert' as const, table, doc: { i } })));
    expect((await rig.run({ filter }, { stream, exportId, tail: true })).status).toBe('caught-up');
    for (let n = 0; n < 10; n++)
      f.write(
        Array.from({ length: MAX_BATCH_EVENTS / 10 }, (_, i) => ({
          op: 'insert' as const,
          table,
          doc: { n, i, pad: 'x'.repeat(200) },
        })),
      );

    // The crash: every event is in the stream, no checkpoint after them landed.
    const { outcome: lost, store: real } = await rig.runWithoutCheckpoints(
      { filter },
      { stream, exportId, tail: true },
    );
    expect(lost.status).toBe('caught-up');

    const metrics = new MemoryMetrics();
    const started = Date.now();
    expect((await rig.run({ filter }, { stream, exportId, tail: true, metrics })).status).toBe(
      'caught-up',
    );
    const runMs = Date.now() - started;
    const result = await rig.verify({ stream, exportId, filter });
    expect(result.duplicates).toBe(0);
    const { state } = await real.read();
    const r = state?.lastRecovery;
    expect(r?.found).toBeGreaterThanOrEqual(MAX_BATCH_EVENTS);
    expect(metrics.totals.get('Duplicates')).toBe(r?.found);

    // The steady state: a run after a clean checkpoint reads nothing after the mark.
    const mark = state?.streamMark;
    if (!mark) throw new Error('no stream mark saved');
    const t0 = performance.now();
    const idle = await new KinesisStreamTail(rig.kinesis(), stream).landedSince(mark, {
      limitPerShard: MAX_BATCH_EVENTS,
    });
    const idleMs = performance.now() - t0;
    expect(idle.records).toBe(0);
    process.stdout.write(
      `RECOVERY_COST recovery of ${r?.found} events on 2 shards: scan ${r?.ms} ms, ${r?.calls} GetRecords calls, ${r?.bytes} bytes read (${r?.records} records), whole recovering run ${runMs} ms, 0 republished; idle check after a clean checkpoint: ${idle.calls} GetRecords calls, ${idleMs.toFixed(0)} ms\n`,
    );
  });
});
