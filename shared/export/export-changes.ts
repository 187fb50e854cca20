import { setTimeout as sleepFor } from 'node:timers/promises';
import type { ChangeFeed, FeedPage, TableFilter } from '../ports/change-feed.js';
import type { EventPublisher, ShardPosition, StreamTail } from '../ports/event-publisher.js';
import type { ExportStateStore } from '../ports/export-state-store.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import { ExportRun, startState } from './export-run.js';
import type { ExportState } from './export-state.js';
import { type PageBatch, recordBatchMetrics, stateAfter, toBatch } from './page-batch.js';
import { ReadAhead } from './read-ahead.js';
import { FeedResyncSignal, READ_AHEAD_LIMITS, readPagesAhead } from './read-pages.js';
import { recoverLanded } from './recover-landed.js';
import { unlanded } from './skip-landed.js';
import { advanceMark, holdBack, passRecords } from './stream-mark.js';

export { ExportResyncRequiredError } from './export-run.js';
export { lagSeconds } from './page-batch.js';

export interface ExportDeps {
  readonly feed: ChangeFeed;
  readonly store: ExportStateStore;
  readonly publisher: EventPublisher;
  /**
   * Reads what already landed in the stream since the checkpoint, so a recovering run publishes
   * only the rest (effectively once). Without it every recovery is at-least-once.
   */
  readonly tail?: StreamTail;
  readonly metrics: MetricsSink;
  readonly log: LogSink;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface ExportOptions {
  /** Unique per run (e.g. the Lambda request id); names the lease holder. */
  readonly owner: string;
  /** Milliseconds this run may still use; Infinity outside Lambda. */
  readonly remainingMs: () => number;
  /** Stop fetching when less than this remains, to finish, checkpoint and return in time. */
  readonly safetyMarginMs: number;
  /** Keep polling after catching up until the budget is spent (or `signal` fires). */
  readonly follow: boolean;
  readonly pollIntervalMs: number;
  /** How long a lease lasts without a checkpoint; each checkpoint extends it. */
  readonly leaseTtlMs: number;
  readonly filter?: TableFilter;
  /** Stops the run as if the budget were spent (Ctrl-C in the CLI). */
  readonly signal?: AbortSignal;
}

export type ExportOutcome =
  | { readonly status: 'lease-held'; readonly holder: string | undefined }
  /** Another run took the lease over mid-run; this run stopped without writing further. */
  | { readonly status: 'lease-lost'; readonly pages: number; readonly events: number }
  | {
      readonly status: 'caught-up' | 'budget-spent' | 'stopped';
      readonly pages: number;
      readonly events: number;
      readonly state: ExportState;
    };

/** Pages queued while a publish was in flight go out together, up to this many events. */
export const MAX_BATCH_EVENTS = 5_000;

/**
 * Copies a snapshot, then follows the change log: lease → read ahead → publish → checkpoint.
 * Later pages are read while earlier ones are published; what queued up meanwhile goes out as one
 * batch with one checkpoint, always the position the feed handed back for the batch's last page.
 * Throws on failures it cannot retry, without advancing the cursor.
 */
export async function exportChanges(
  deps: ExportDeps,
  options: ExportOptions,
): Promise<ExportOutcome> {
  const now = deps.now ?? Date.now;
  const run = await ExportRun.open(
    { ...deps, now },
    options.owner,
    options.leaseTtlMs,
    startState(deps.feed.start(), now),
  );
  if (!(run instanceof ExportRun)) {
    deps.log.info('export lease is held by another run; nothing to do', { holder: run.heldBy });
    return { status: 'lease-held', holder: run.heldBy };
  }
  await run.refuseIfResyncNeeded();
  // Events a crashed or taken-over run already put in the stream after the checkpoint: skipped.
  const recovery = await recoverLanded(deps, run, now, MAX_BATCH_EVENTS);
  if (recovery === 'lease-lost') return { status: 'lease-lost', pages: 0, events: 0 };
  const landed: Map<string, ShardPosition> = recovery.landed;
  let mark = run.state.streamMark;
  let passedSinceRecovery = 0;

  // Cancels reads in flight when the run ends early (publish failure, Ctrl-C).
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([stop.signal, options.signal]) : stop.signal;
  const ahead = new ReadAhead<FeedPage>(READ_AHEAD_LIMITS);
  const reading = readPagesAhead(deps.feed, run.state.position, ahead, {
    ...(options.filter ? { filter: options.filter } : {}),
    follow: options.follow,
    generation: run.state.generation,
    pollIntervalMs: options.pollIntervalMs,
    budgetLeft: () => options.remainingMs() > options.safetyMarginMs && !options.signal?.aborted,
    maxWaitMs: () => Math.max(0, options.remainingMs() - options.safetyMarginMs),
    sleep: deps.sleep ?? ((ms, s) => sleepFor(ms, undefined, { signal: s })),
    signal,
  });

  let pages = 0;
  let events = 0;
  let status: 'caught-up' | 'budget-spent' | 'stopped' = 'budget-spent';
  try {
    for (;;) {
      const batch = await takeBatch(ahead, run, signal);
      if (batch === undefined) break;
      if (!(await pinSnapshot(run, batch))) return { status: 'lease-lost', pages, events };
      const skipped: ShardPosition[] = [];
      const fresh = landed.size === 0 ? batch.events : unlanded(batch.events, landed, skipped);
      // Ctrl-C lets the batch finish; only the Lambda deadline may cut a publish short (no checkpoint then).
      const published = await deps.publisher.publish(fresh, publishDeadline(options));
      passedSinceRecovery += batch.events.length;
      // Found events the replay did not reach within two batches are not ours to wait for.
      if (passedSinceRecovery >= 2 * MAX_BATCH_EVENTS) landed.clear();
      if (mark !== undefined)
        mark = holdBack(advanceMark(passRecords(mark, skipped), published.mark), landed.values());
      // If the lease was lost, the batch is in the stream but not checkpointed by us: the new
      // holder reads it back from the stream after our last checkpoint and skips it.
      if (!(await run.save(stateAfter(run.state, batch, run.timestamp(), mark))))
        return { status: 'lease-lost', pages, events };
      pages += batch.pages.length;
      events += batch.events.length;
      recordBatchMetrics(deps.metrics, batch, published, now(), batch.events.length - fresh.length);
      if (batch.pages.at(-1)?.caughtUp && !options.follow) status = 'caught-up';
    }
    if (options.signal?.aborted) status = 'stopped';
  } catch (error) {
    await run.recordFailure(error);
    throw error;
  } finally {
    stop.abort();
    ahead.close();
    await reading;
    await run.release();
  }
  const state = run.state;
  deps.log.info('export run finished', { status, pages, events, phase: state.position.phase });
  return { status, pages, events, state };
}

/**
 * The next batch: the pages queued at the front, of one phase, up to the event limit. A failure
 * next in line is thrown (a resync signal is recorded first); undefined once reading is done.
 */
async function takeBatch(
  ahead: ReadAhead<FeedPage>,
  run: ExportRun,
  signal: AbortSignal,
): Promise<PageBatch | undefined> {
  const next = await ahead.take((first, page) => page.phase === first.phase, MAX_BATCH_EVENTS);
  if (next === undefined) return undefined;
  if (!('error' in next)) return toBatch(next);
  if (signal.aborted) return undefined;
  if (next.error instanceof FeedResyncSignal) throw await run.recordResync(next.error.resync);
  throw next.error;
}

/**
 * The source picked the snapshot's timestamp with this batch's first page. Save it before
 * publishing anything, so a crash resumes this same snapshot (repeating identical events)
 * instead of starting a newer one, whose copy would miss deletes that happened in between.
 * False when the lease was lost.
 */
async function pinSnapshot(run: ExportRun, batch: PageBatch): Promise<boolean> {
  const pin = batch.pages[0]?.pin;
  if (pin === undefined) return true;
  return run.save({ ...run.state, position: pin, updatedAt: run.timestamp() });
}

/** Lambda's deadline, less half the safety margin: a publish must not outlive the invocation. */
function publishDeadline(options: ExportOptions): AbortSignal | undefined {
  const left = options.remainingMs();
  return Number.isFinite(left)
    ? AbortSignal.timeout(Math.max(1, left - options.safetyMarginMs / 2))
    : undefined;
}
