import { describe, expect, it } from 'vitest';
import { exportChanges } from '../../shared/export/export-changes.js';
import { ReadAhead } from '../../shared/export/read-ahead.js';
import type { ChangeFeed, FeedPage } from '../../shared/ports/change-feed.js';
import type { EventPublisher } from '../../shared/ports/event-publisher.js';
import type { ExportStateStore } from '../../shared/ports/export-state-store.js';
import { MemoryMetrics } from '../../shared/ports/observability.js';
import { afterPendingCallbacks, deferred, within } from '../helpers/sync.js';
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
    await afterPendingCallbacks(); // the push has gone as far as it can without a take
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

    // The feed reports each page it hands to the reader; the reader queues a page as soon as its
    // read resolves (promise reactions only), so after the last page's read and one round of
    // pending callbacks, every page is queued.
    const read: FeedPage[] = [];
    const lastPageRead = deferred();
    const feed: ChangeFeed = {
      start: () => deps.feed.start(),
      read: async (position, options) => {
        const page = await deps.feed.read(position, options);
        if (page.kind === 'page') {
          read.push(page);
          if (page.caughtUp) lastPageRead.resolve();
        }
        return page;
      },
    };
    // A sink slower than the source: the first publish is held until the reader has queued
    // everything behind it. The time limit only makes an exporter that does not read ahead fail
    // in seconds instead of hanging.
    let stalledAfter: number | undefined; // pages read when the reader stopped short
    const batches: number[] = [];
    const publisher: EventPublisher = {
      publish: async (events, signal) => {
        batches.push(events.length);
        if (batches.length === 1) {
          await within(lastPageRead.promise, 5_000, () => {
            stalledAfter = read.length;
          });
          await afterPendingCallbacks();
        }
        return deps.publisher.publish(events, signal);
      },
    };
    // Which publishes each checkpoint came after.
    const checkpoints: number[] = [];
    const store: ExportStateStore = {
      acquire: (owner, ttlMs) => deps.store.acquire(owner, ttlMs),
      checkpoint: (lease, state, ttlMs) => {
        checkpoints.push(batches.length);
        return deps.store.checkpoint(lease, state, ttlMs);
      },
      release: (lease) => deps.store.release(lease),
      read: () => deps.store.read(),
    };
    const metrics = new MemoryMetrics();
    const outcome = await exportChanges(
      { ...deps, feed, publisher, store, metrics },
      rig.baseOptions({ filter }),
    );
    expect(
      stalledAfter,
      `the reader stopped after ${stalledAfter} pages while the first publish was in flight`,
    ).toBeUndefined();
    expect(outcome).toMatchObject({ status: 'caught-up', events: 60 });
    const pages = outcome.status === 'caught-up' ? outcome.pages : -1;
    // 60 one-write transactions at 8 rows a page are 8 pages: the first goes out alone, the seven
    // that queued up behind it go out as one batch with one checkpoint.
    expect(read.map((p) => p.events.length)).toEqual([8, 8, 8, 8, 8, 8, 8, 4]);
    expect(pages).toBe(read.length);
    expect(metrics.totals.get('Pages')).toBe(pages);
    expect(batches).toEqual([8, 52]);
    expect(checkpoints).toEqual([1, 2]);
    await rig.verify({ stream, exportId, filter });
  });
});
