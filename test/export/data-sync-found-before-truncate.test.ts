// Regression: on Data Sync, a document a crashed first sync published before the truncate of
// the new sync that replaced it was taken for "already landed" by a later run (the stream mark
// was held back to it, and to the crashed sync's truncate that never came up again) and
// skipped: the truncate removed it in consumers, and nothing brought it back. A truncate still
// to publish now drops the finds of its table (documents and control events).
import { expect, it } from 'vitest';
import { exportChanges } from '../../shared/export/export-changes.js';
import { consumeWholeStream, convexState } from './consume-stream.js';
import { useExportRig } from './rig.js';

const rig = useExportRig({ dataSyncPageSizeLimit: 10, dataSyncMaxRowsRead: 10 });

it('a document of the crashed first sync is published again after the new sync truncates it', async () => {
  const { f } = rig;
  const { stream, exportId } = await rig.fresh(1);
  const filter = { includeTables: ['repro'] };
  const deps = { stream, exportId, api: 'data-sync', tail: true } as const;
  const insert = (n: number) =>
    f.write(
      Array.from({ length: n }, (_, i) => ({ op: 'insert' as const, table: 'repro', doc: { i } })),
    );
  insert(60);
  // Run 1: the first sync's first page (truncate + 10 documents) lands, then the process dies.
  const first = rig.deps(deps);
  const publish1 = first.publisher.publish.bind(first.publisher);
  first.publisher.publish = async (events, signal, options) => {
    await publish1(events, signal, options);
    throw new Error('killed before the first checkpoint');
  };
  await expect(exportChanges(first, rig.baseOptions({ filter }))).rejects.toThrow();
  // New documents shift the walk: some of run 1's documents now come on the new sync's 2nd page.
  insert(40);
  // Run 2: a new sync; its first page (new truncate, documents) lands and is checkpointed, then
  // it dies before publishing the next batch.
  const second = rig.deps(deps);
  const read = second.feed.read.bind(second.feed);
  second.feed.read = async (position, options) => {
    await new Promise((r) => setTimeout(r, 50)); // one page per batch
    return read(position, options);
  };
  const publish2 = second.publisher.publish.bind(second.publisher);
  let calls = 0;
  second.publisher.publish = async (events, signal, options) => {
    if (++calls === 2) throw new Error('killed before the second batch');
    return publish2(events, signal, options);
  };
  await expect(exportChanges(second, rig.baseOptions({ filter }))).rejects.toThrow();
  // Run 3 recovers and catches up.
  await rig.run({ filter }, deps);
  const { state } = await consumeWholeStream(rig.kinesis(), rig.s3, stream);
  // Fails: documents of run 1's page that the new sync sent on a later page are missing.
  expect(state.size).toBe(convexState(f.sim.deployment, (_c, t) => t === 'repro').size);
});
