import { describe, expect, it } from 'vitest';
import { exportChanges } from '../../shared/export/export-changes.js';
import { ReadAhead } from '../../shared/export/read-ahead.js';
import { MemoryMetrics } from '../../shared/ports/observability.js';
import { useExportRig } from './rig.js';

type Page = { readonly id: number; readonly events: readonly number[]; readonly kind: string };
const page = (id: number, events: number, kind = 'a'): Page => ({
  id,
  events: Array.from({ length: events }, (_, i) => i),
  kind,
});
const sameKind = (first: Page, next: Page) => first.kind === next.kind;
const ids = (taken: Page[] | { error: unknown } | undefined) =>
  Array.isArray(taken) ? taken.map((p) => p.id) : taken;

describe('ReadAhead', () => {
  it('hands over everything queued, in order, up to the event cap and never across kinds', async () => {
    const ahead = new ReadAhead<Page>({ pages: 10, events: 1_000 });
    for (const p of [page(1, 10), page(2, 10), page(3, 500), page(4, 10, 'b'), page(5, 10, 'b')])
      await ahead.push(p);
    expect(ids(await ahead.take(sameKind, 20))).toEqual([1, 2]);
    expect(ids(await ahead.take(sameKind, 20))).toEqual([3]); // one page even above the cap
    expect(ids(await ahead.take(sameKind, 20))).toEqual([4, 5]);
  });

  it('keeps a fetch error in its place: the pages before it come first', async () => {
    const ahead = new ReadAhead<Page>({ pages: 10, events: 1_000 });
    await ahead.push(page(1, 1));
    ahead.fail(new Error('boom'));
    await ahead.push(page(2, 1));
    expect(ids(await ahead.take(sameKind, 100))).toEqual([1]);
    expect(await ahead.take(sameKind, 100)).toEqual({ error: new Error('boom') });
    expect(ids(await ahead.take(sameKind, 100))).toEqual([2]);
  });

  it('makes the producer wait while full, and lets it go when the consumer takes', async () => {
    const ahead = new ReadAhead<Page>({ pages: 2, events: 1_000 });
    await ahead.push(page(1, 1));
    await ahead.push(page(2, 1));
    let third = false;
    const pushing = ahead.push(page(3, 1)).then((ok) => {
      third = ok;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false);
    expect(ids(await ahead.take(sameKind, 100))).toEqual([1, 2]);
    await pushing;
    expect(third).toBe(true);
  });

  it('counts events toward fullness, but always admits one page into an empty buffer', async () => {
    const ahead = new ReadAhead<Page>({ pages: 10, events: 5 });
    expect(await ahead.push(page(1, 50))).toBe(true);
    const blocked = ahead.push(page(2, 1));
    ahead.close();
    expect(await blocked).toBe(false);
    expect(ids(await ahead.take(sameKind, 100))).toEqual([1]);
    expect(await ahead.take(sameKind, 100)).toBeUndefined();
  });

  it('wakes a waiting consumer when closed', async () => {
    const ahead = new ReadAhead<Page>({ pages: 10, events: 100 });
    const waiting = ahead.take(sameKind, 100);
    ahead.close();
    expect(await waiting).toBeUndefined();
  });
});

describe('export with a slow sink', () => {
  const rig = useExportRig({ documentDeltasLimit: 8, snapshotListLimit: 20 });

  it('publishes the pages that queued up together, one checkpoint per batch, nothing lost', async () => {
    const { stream, exportId } = await rig.fresh();
    const filter = { includeTables: ['ra_docs'] };
    rig.f.write(
      Array.from({ length: 100 }, (_, i) => ({
        op: 'insert' as const,
        table: 'ra_docs',
        doc: { i },
      })),
    );
    await rig.run({ filter }, { stream, exportId });
    for (let t = 0; t < 60; t++) rig.f.write([{ op: 'insert', table: 'ra_docs', doc: { t } }]);
    const deps = rig.deps({ stream, exportId });
    const publish = deps.publisher.publish.bind(deps.publisher);
    const batches: number[] = [];
    deps.publisher.publish = async (events, signal) => {
      batches.push(events.length);
      await new Promise((r) => setTimeout(r, 100)); // a sink slower than the source
      return publish(events, signal);
    };
    const metrics = new MemoryMetrics();
    const outcome = await exportChanges({ ...deps, metrics }, rig.baseOptions({ filter }));
    expect(outcome).toMatchObject({ status: 'caught-up', events: 60 });
    // 60 one-write transactions at 8 rows a page are 8 pages; fewer publishes means batching.
    expect(metrics.totals.get('Pages')).toBe(outcome.status === 'caught-up' ? outcome.pages : -1);
    expect(batches.length).toBeLessThan(outcome.status === 'caught-up' ? outcome.pages : 0);
    expect(Math.max(...batches)).toBeGreaterThan(8);
    await rig.verify({ stream, exportId, filter });
  });
});
