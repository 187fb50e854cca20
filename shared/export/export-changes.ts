import { setTimeout as sleepFor } from 'node:timers/promises';
import { isChangeEvent, type StreamEvent } from '../events/change-event.js';
import { METRICS } from '../names.js';
import type { ChangeFeed, FeedPage, SourceMigration, TableFilter } from '../ports/change-feed.js';
import type {
  ControlCopy,
  EventPublisher,
  ShardPosition,
  StreamTail,
} from '../ports/event-publisher.js';
import type { ExportStateStore } from '../ports/export-state-store.js';
import type { SchemaSource, TableClearLog } from '../ports/lifecycle.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import { ExportRun, startState } from './export-run.js';
import type { ExportState } from './export-state.js';
import { nextGeneration } from './generation.js';
import { StreamLifecycle } from './lifecycle.js';
import { type PageBatch, recordBatchMetrics, stateAfter, toBatch } from './page-batch.js';
import { ReadAhead } from './read-ahead.js';
import { FeedResyncSignal, READ_AHEAD_LIMITS, readPagesAhead } from './read-pages.js';
import { recoverLanded } from './recover-landed.js';
import { DEFAULT_RETENTION_SECONDS, RetentionWatch } from './retention-watch.js';
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
  /** Clears recorded by `clear-tables`, published as `truncate` events; none without it. */
  readonly clears?: TableClearLog;
  /** Convex's table schemas, published as `schema` events when they change; none without it. */
  readonly schemas?: SchemaSource;
  /** Moves a legacy export onto Data Sync without a re-copy ... */
  readonly migration?: SourceMigration;
  /** ... once, automatically, when the export reaches its change log on the legacy source. */
  readonly autoMigrate?: boolean;
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
  /**
   * When Convex refuses the cursor as too old: `resync` starts the next generation from a fresh
   * snapshot in the same run; `stop` (the default here; the settings default to `resync`)
   * records the condition and waits for `convex-bridge resync`.
   */
  readonly onExpiredCursor?: 'resync' | 'stop';
  /** How often to compare Convex's table schemas with the published ones (ms). */
  readonly schemaCheckMs?: number;
  /** Convex's change-log retention, for the cursor-age warning. */
  readonly retentionSeconds?: number;
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
  const resync = options.onExpiredCursor === 'resync';
  const needed = run.state.resyncNeeded;
  if (needed !== undefined && resync) {
    if (!(await startGeneration(deps, run, needed)))
      return { status: 'lease-lost', pages: 0, events: 0 };
  } else await run.refuseIfResyncNeeded();
  // Events a crashed or taken-over run already put in the stream after the checkpoint: skipped.
  const recovery = await recoverLanded(deps, run, now, MAX_BATCH_EVENTS);
  if (recovery === 'lease-lost') return { status: 'lease-lost', pages: 0, events: 0 };
  if (!(await migrateOnce(deps, run, options)))
    return { status: 'lease-lost', pages: 0, events: 0 };
  const landed: Map<string, ShardPosition> = recovery.landed;
  const truncatedTables = new Set<string>();
  let mark = run.state.streamMark;
  let passedSinceRecovery = 0;
  const lifecycle = new StreamLifecycle(deps, {
    ...(options.filter ? { filter: options.filter } : {}),
    schemaCheckMs: options.schemaCheckMs ?? 3_600_000,
    now,
  });
  const watch = new RetentionWatch(deps, options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS);
  watch.check(run.state, now());

  let pages = 0;
  let events = 0;
  let status: 'caught-up' | 'budget-spent' | 'stopped' = 'budget-spent';
  try {
    // One pass per generation: an expired cursor (with `resync`) starts the next one in place.
    for (let again = true; again; ) {
      again = false;
      // Cancels reads in flight when the pass ends early (publish failure, Ctrl-C, resync).
      const stop = new AbortController();
      const signal = options.signal ? AbortSignal.any([stop.signal, options.signal]) : stop.signal;
      const ahead = new ReadAhead<FeedPage>(READ_AHEAD_LIMITS);
      const reading = readPagesAhead(deps.feed, run.state.position, ahead, {
        ...(options.filter ? { filter: options.filter } : {}),
        follow: options.follow,
        generation: run.state.generation,
        pollIntervalMs: options.pollIntervalMs,
        budgetLeft: () =>
          options.remainingMs() > options.safetyMarginMs && !options.signal?.aborted,
        maxWaitMs: () => Math.max(0, options.remainingMs() - options.safetyMarginMs),
        sleep: deps.sleep ?? ((ms, s) => sleepFor(ms, undefined, { signal: s })),
        signal,
      });
      try {
        for (;;) {
          const batch = await takeBatch(ahead, signal);
          if (batch === undefined) break;
          if (batch instanceof FeedResyncSignal) {
            if (!resync) throw await run.recordResync(batch.resync);
            if (!(await startGeneration(deps, run, batch.resync)))
              return { status: 'lease-lost', pages, events };
            // The old generation's found events can no longer come up; its mark floor moved.
            landed.clear();
            mark = run.state.streamMark;
            again = true;
            break;
          }
          if (!(await pinSnapshot(run, batch))) return { status: 'lease-lost', pages, events };
          const decorated = await lifecycle.decorate(batch, run.state, signal);
          const skipped: ShardPosition[] = [];
          // Control events found keep their place; their copies go to the publisher (only uncovered shards get one).
          const landedCopies = new Map<string, readonly ControlCopy[]>();
          const fresh =
            landed.size === 0
              ? decorated.events
              : unlanded(decorated.events, landed, skipped, landedCopies, truncatedTables);
          // Ctrl-C lets the batch finish; only the Lambda deadline may cut a publish short (no checkpoint then).
          const published = await deps.publisher.publish(fresh, publishDeadline(options), {
            landedCopies,
          });
          passedSinceRecovery += decorated.events.length;
          // Found events the replay did not reach within two batches are not ours to wait for.
          if (passedSinceRecovery >= 2 * MAX_BATCH_EVENTS) landed.clear();
          if (mark !== undefined)
            mark = holdBack(
              advanceMark(passRecords(mark, skipped), published.mark),
              landed.values(),
            );
          // If the lease was lost, the batch is in the stream but not checkpointed by us: the new
          // holder reads it back from the stream after our last checkpoint and skips it.
          const next = stateAfter(
            { ...run.state, ...decorated.state },
            batch,
            run.timestamp(),
            mark,
          );
          if (!(await run.save(next))) return { status: 'lease-lost', pages, events };
          pages += batch.pages.length;
          events += countDocuments(batch.events);
          recordBatchMetrics(
            deps.metrics,
            batch,
            published,
            now(),
            decorated.events.length - fresh.length,
          );
          watch.check(run.state, now());
          if (batch.pages.at(-1)?.caughtUp && !options.follow) status = 'caught-up';
        }
      } finally {
        stop.abort();
        ahead.close();
        await reading;
      }
    }
    if (options.signal?.aborted) status = 'stopped';
  } catch (error) {
    await run.recordFailure(error);
    throw error;
  } finally {
    await run.release();
  }
  const state = run.state;
  deps.log.info('export run finished', { status, pages, events, phase: state.position.phase });
  return { status, pages, events, state };
}

/** Document events (the outcome's count); control events are counted by their own metrics. */
function countDocuments(events: readonly StreamEvent[]): number {
  let n = 0;
  for (const e of events) if (isChangeEvent(e)) n++;
  return n;
}

/**
 * Convex refused the cursor as too old: the next generation starts from a fresh snapshot
 * (docs/events.md, "Generations"). The gap is recorded and alarmed (ResyncRequired); false when
 * the lease was lost.
 */
async function startGeneration(
  deps: ExportDeps,
  run: ExportRun,
  refusal: { readonly code: string; readonly message: string },
): Promise<boolean> {
  const next = nextGeneration(run.state, deps.feed.start(), refusal, run.timestamp());
  deps.metrics.add(METRICS.resyncRequired, 1, 'Count');
  deps.metrics.add(METRICS.resyncStarted, 1, 'Count');
  deps.log.error(
    'Convex refused the export cursor; starting a new generation from a fresh snapshot',
    {
      code: refusal.code,
      generation: next.generation,
      gapFrom: next.lastResync?.gapFrom,
    },
  );
  return run.save(next);
}

/**
 * A legacy export following its change log moves onto Data Sync once, without a re-copy: the
 * source turns the delta cursor into a Data Sync cursor. A refusal is recorded (and not tried
 * again automatically); a failure to ask is tried again next run. False when the lease was lost.
 */
async function migrateOnce(
  deps: ExportDeps,
  run: ExportRun,
  options: ExportOptions,
): Promise<boolean> {
  const state = run.state;
  const p = state.position;
  if (!deps.autoMigrate || deps.migration === undefined || state.migration !== undefined)
    return true;
  if (p.source !== 'legacy' || p.phase !== 'deltas') return true;
  let outcome: Awaited<ReturnType<SourceMigration['migrate']>>;
  try {
    outcome = await deps.migration.migrate(p, options.filter ? { filter: options.filter } : {});
  } catch (error) {
    deps.log.warn('could not ask Convex to move the export onto Data Sync; trying again next run', {
      error: String(error),
    });
    return true;
  }
  const at = run.timestamp();
  if ('refused' in outcome) {
    deps.log.warn('kept the legacy source: Convex refused to continue this export on Data Sync', {
      reason: outcome.refused,
    });
    return run.save({
      ...state,
      migration: { at, outcome: 'refused', reason: outcome.refused },
      updatedAt: at,
    });
  }
  deps.log.info('moved the export onto Data Sync without a re-copy', { from: p.deltaCursor });
  // The Data Sync cursor is opaque: its log time is the delta cursor's until a page says more.
  return run.save({
    ...state,
    position: outcome.position,
    cursorTs: p.deltaCursor,
    migration: { at, outcome: 'migrated' },
    updatedAt: at,
  });
}

/**
 * The next batch: the pages queued at the front, of one phase, up to the event limit. A failure
 * next in line is thrown, a resync signal returned; undefined once reading is done.
 */
async function takeBatch(
  ahead: ReadAhead<FeedPage>,
  signal: AbortSignal,
): Promise<PageBatch | FeedResyncSignal | undefined> {
  const next = await ahead.take((first, page) => page.phase === first.phase, MAX_BATCH_EVENTS);
  if (next === undefined) return undefined;
  if (!('error' in next)) return toBatch(next);
  if (signal.aborted) return undefined;
  if (next.error instanceof FeedResyncSignal) return next.error;
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
