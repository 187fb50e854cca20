// Regression: after a resync, a recovery scanned from the old generation's stream mark (notBefore
// applied only to shards the mark did not list), took the old generation's unsaved events for
// the new one's and skipped the new snapshot's events with the same eventIds; the consumer's
// sweep at snapshot-complete then removed those documents. A new generation's mark now starts
// empty at its own time.
import { expect, it } from 'vitest';
import { exportChanges } from '../../shared/export/export-changes.js';
import { consumeWholeStream, convexState } from './consume-stream.js';
import { useExportRig } from './rig.js';

const rig = useExportRig();

it('a crash at the start of generation 2 does not lose documents', async () => {
  const { f } = rig;
  const { stream, exportId } = await rig.fresh();
  const filter = { includeTables: ['repro'] };
  const options = { filter, onExpiredCursor: 'resync' as const };
  const deps = { stream, exportId, tail: true } as const;
  const ids = f.write(
    Array.from({ length: 20 }, (_, i) => ({ op: 'insert' as const, table: 'repro', doc: { i } })),
  ).ids;
  await rig.run(options, deps); // generation 1, caught up, checkpointed with a stream mark
  f.write(ids.slice(0, 10).map((id) => ({ op: 'patch' as const, id, fields: { p: 1 } })));
  await rig.runWithoutCheckpoints(options, deps); // the patches land, their checkpoint does not
  f.sim.knobs.retentionSeconds = 3_600;
  f.sim.deployment.advanceClock(2 * 3_600_000); // the cursor expires: the next run resyncs
  const crashing = rig.deps(deps);
  crashing.publisher.publish = async () => {
    throw new Error('killed before the first batch of generation 2');
  };
  await expect(exportChanges(crashing, rig.baseOptions(options))).rejects.toThrow();
  await rig.run(options, deps); // recovers in generation 2 and copies it
  const { state } = await consumeWholeStream(rig.kinesis(), rig.s3, stream);
  // Fails: the 10 patched documents are missing (their generation-2 snapshot events were skipped
  // as "already landed": the generation-1 patch events carry the same eventIds).
  expect(state.size).toBe(convexState(f.sim.deployment, (_c, t) => t === 'repro').size);
});
