import { isChangeEvent, type StreamEvent } from '../events/change-event.js';
import { METRICS } from '../names.js';
import type { FeedPage } from '../ports/change-feed.js';
import type { PublishResult, StreamMark } from '../ports/event-publisher.js';
import type { MetricsSink } from '../ports/observability.js';
import { compareInt64 } from '../values/int64.js';
import type { ExportState } from './export-state.js';

const NS_PER_MS = 1_000_000n;

/** Pages published together: consecutive, of one phase, checkpointed once. */
export interface PageBatch {
  readonly pages: readonly FeedPage[];
  readonly events: readonly StreamEvent[];
}

export function toBatch(pages: readonly FeedPage[]): PageBatch {
  const events =
    pages.length === 1 ? (pages[0] as FeedPage).events : pages.flatMap((p) => p.events);
  return { pages, events };
}

const lastPage = (batch: PageBatch): FeedPage => batch.pages.at(-1) as FeedPage;

/**
 * The newest commit time among the events and `since`. Snapshot events come in document order,
 * not time order, so the last event of a batch is not necessarily the newest.
 */
export function newestTs(events: readonly StreamEvent[], since?: string): string | undefined {
  let newest = since;
  for (const event of events) {
    if (!isChangeEvent(event)) continue;
    if (newest === undefined || compareInt64(event.ts, newest) > 0) newest = event.ts;
  }
  return newest;
}

/**
 * The state after a batch is in the stream: the position its last page handed back. A failure
 * recorded earlier is cleared (a page went through); everything else carries over.
 */
export function stateAfter(
  state: ExportState,
  batch: PageBatch,
  at: string,
  streamMark?: StreamMark,
): ExportState {
  const last = lastPage(batch);
  const newest = newestTs(batch.events, state.newestEventTs);
  // Any page of the batch may complete the copy (on Data Sync often not the last one).
  const base =
    batch.pages.findLast((p) => p.snapshotCompletedAt !== undefined)?.snapshotCompletedAt ??
    state.baseSnapshotTs;
  const { lastError: _cleared, resyncNeeded: _gone, ...kept } = state;
  const cursorTs = last.cursorTs ?? last.sourceStatus?.snapshotTs ?? state.cursorTs;
  return {
    ...kept,
    position: last.next,
    updatedAt: at,
    ...(newest !== undefined ? { newestEventTs: newest } : {}),
    ...(base !== undefined ? { baseSnapshotTs: base } : {}),
    ...(streamMark !== undefined ? { streamMark } : {}),
    ...(cursorTs !== undefined ? { cursorTs } : {}),
    ...(last.sourceStatus !== undefined ? { sourceStatus: last.sourceStatus } : {}),
  };
}

export function recordBatchMetrics(
  metrics: MetricsSink,
  batch: PageBatch,
  published: PublishResult,
  nowMs: number,
  skipped = 0,
): void {
  const m = metrics;
  m.add(METRICS.pages, batch.pages.length, 'Count');
  m.add(METRICS.snapshotEvents, published.byOp.snapshot, 'Count');
  m.add(METRICS.upsertEvents, published.byOp.upsert, 'Count');
  m.add(METRICS.deleteEvents, published.byOp.delete, 'Count');
  m.add(METRICS.bytesPublished, published.bytes, 'Bytes');
  m.add(METRICS.publishRetries, published.retriedRecords, 'Count');
  m.add(METRICS.throttles, published.throttledRecords, 'Count');
  m.add(METRICS.claimChecks, published.claimChecks, 'Count');
  m.add(METRICS.duplicates, skipped + (published.alreadyLanded ?? 0), 'Count');
  const newest = newestTs(batch.events);
  if (newest !== undefined) m.add(METRICS.lagSeconds, lagSeconds(nowMs, newest), 'Seconds');
  const last = lastPage(batch);
  if (last.caughtUp && last.cursorTs !== undefined) {
    m.add(METRICS.cursorAgeSeconds, lagSeconds(nowMs, last.cursorTs), 'Seconds');
  }
}

/** Seconds between a wall-clock time (ms) and a Convex nanosecond timestamp. */
export function lagSeconds(nowMs: number, tsNanos: string): number {
  return Number(BigInt(Math.round(nowMs)) * NS_PER_MS - BigInt(tsNanos)) / 1e9;
}
