import { setTimeout as sleepFor } from 'node:timers/promises';
import { LeaseLostError } from '../adapters/dynamodb-export-store.js';
import type { EventPublisher } from '../adapters/kinesis-publisher.js';
import type { ConvexClient, ExportSelection, ValueFormat } from '../convex/client.js';
import { ResyncRequiredError } from '../convex/errors.js';
import { BridgeError } from '../errors.js';
import { type ChangeEvent, toChangeEvent } from '../events/change-event.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import { deltaCursorAfterSnapshot, type SnapshotTs } from '../values/int64.js';
import type { ExportState, ExportStateStore, Lease } from './export-state.js';
import { initialExportState } from './export-state.js';
import { ReadAhead } from './read-ahead.js';
import { serverSelection, type TableFilter, tablePredicate } from './table-filter.js';

/** Convex told us the cursor is gone; only `convex-bridge resync` can continue. */
export class ExportResyncRequiredError extends BridgeError {
  constructor(
    readonly code: string,
    serverMessage: string,
  ) {
    super(
      `Convex refused the export cursor (${code}): ${serverMessage} The export is stopped so no gap goes unnoticed; run \`npx convex-bridge resync\` to restart from a fresh snapshot.`,
    );
    this.name = 'ExportResyncRequiredError';
  }
}

export interface ExportDeps {
  readonly source: Pick<ConvexClient, 'listSnapshot' | 'documentDeltas'>;
  readonly store: ExportStateStore;
  readonly publisher: EventPublisher;
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
  readonly format?: ValueFormat;
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

interface FetchedPage {
  /** The phase it was read in; a batch holds pages of one phase only. */
  readonly from: ExportState['position']['phase'];
  /** Set on a snapshot's first page: the timestamp the server chose, to persist before publishing. */
  readonly pinSnapshot?: SnapshotTs;
  readonly events: ChangeEvent[];
  readonly next: ExportState['position'];
  /** The change log is exhausted: polling again now would find nothing new. */
  readonly caughtUp: boolean;
}

const NS_PER_MS = 1_000_000n;
/** How far fetching may run ahead of publishing. */
const READ_AHEAD = { pages: 16, events: 10_000 };
/** Pages queued while a publish was in flight go out together, up to this many events. */
const MAX_BATCH_EVENTS = 5_000;

/**
 * Copies a snapshot, then follows the change log, publishing each page before checkpointing the
 * cursor the server returned for it. Later pages are fetched while earlier ones are published
 * (pages that queue up meanwhile are published and checkpointed together); checkpoints stay in
 * page order. Throws on failures it cannot retry, without advancing the cursor.
 */
export async function exportChanges(
  deps: ExportDeps,
  options: ExportOptions,
): Promise<ExportOutcome> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms, signal) => sleepFor(ms, undefined, { signal }));
  const acquired = await deps.store.acquire(options.owner, options.leaseTtlMs);
  if (!acquired) {
    const holder = (await deps.store.read()).lease?.owner;
    deps.log.info('export lease is held by another run; nothing to do', { holder });
    return { status: 'lease-held', holder };
  }
  let lease: Lease = acquired.lease;
  let state = acquired.state ?? initialExportState();
  if (state.resyncNeeded) {
    deps.metrics.add('ResyncRequired', 1, 'Count');
    await deps.store.release(lease);
    throw new ExportResyncRequiredError(state.resyncNeeded.code, state.resyncNeeded.message);
  }

  const include = tablePredicate(options.filter ?? {});
  const selection: ExportSelection | undefined = serverSelection(options.filter ?? {});
  const format = options.format ?? 'json';
  const budgetLeft = () =>
    options.remainingMs() > options.safetyMarginMs && !options.signal?.aborted;
  // Cancels fetches in flight when the run ends early (publish failure, Ctrl-C).
  const stop = new AbortController();
  const fetchSignal = options.signal ? AbortSignal.any([stop.signal, options.signal]) : stop.signal;

  const fetchPage = async (position: ExportState['position']): Promise<FetchedPage> => {
    const call = { signal: fetchSignal };
    if (position.phase === 'snapshot') {
      const page = await deps.source.listSnapshot(
        {
          ...(position.snapshotTs !== undefined ? { snapshot: position.snapshotTs } : {}),
          ...(position.snapshotCursor !== undefined ? { cursor: position.snapshotCursor } : {}),
          ...(selection ? { selection } : {}),
          format,
        },
        call,
      );
      if (page.hasMore && page.cursor === null)
        throw new BridgeError('list_snapshot said hasMore with a null cursor');
      const events = page.values
        .filter((d) => include(d.component, d.table))
        .map((d) => toChangeEvent(d, true));
      const next: ExportState['position'] =
        page.hasMore && page.cursor !== null
          ? { phase: 'snapshot', snapshotTs: page.snapshot, snapshotCursor: page.cursor }
          : { phase: 'deltas', deltaCursor: deltaCursorAfterSnapshot(page.snapshot) };
      const pinSnapshot = position.snapshotTs === undefined ? page.snapshot : undefined;
      return {
        from: 'snapshot',
        events,
        next,
        caughtUp: false,
        ...(pinSnapshot !== undefined ? { pinSnapshot } : {}),
      };
    }
    const page = await deps.source.documentDeltas(
      { cursor: position.deltaCursor, ...(selection ? { selection } : {}), format },
      call,
    );
    const events = page.values
      .filter((d) => include(d.component, d.table))
      .map((d) => toChangeEvent(d, false));
    return {
      from: 'deltas',
      events,
      next: { phase: 'deltas', deltaCursor: page.cursor },
      caughtUp: !page.hasMore,
    };
  };

  const publishDeadline = (): AbortSignal | undefined => {
    const left = options.remainingMs();
    return Number.isFinite(left)
      ? AbortSignal.timeout(Math.max(1, left - options.safetyMarginMs / 2))
      : undefined;
  };

  let pages = 0;
  let events = 0;
  let status: 'caught-up' | 'budget-spent' | 'stopped' = 'budget-spent';
  // Fetching runs ahead of publishing. Whatever has queued up while a publish was in flight goes
  // out as one batch with one checkpoint, so a fast source is not held to one page per round trip.
  const ahead = new ReadAhead<FetchedPage>(READ_AHEAD);
  const fetcher = (async () => {
    let position = state.position;
    try {
      while (budgetLeft()) {
        const page = await fetchPage(position);
        if (!(await ahead.push(page))) return;
        position = page.next;
        if (page.caughtUp) {
          if (!options.follow) return;
          const wait = Math.min(
            options.pollIntervalMs,
            Math.max(0, options.remainingMs() - options.safetyMarginMs),
          );
          await sleep(wait, fetchSignal);
        }
      }
    } catch (error) {
      if (!fetchSignal.aborted) ahead.fail(error);
    } finally {
      ahead.close();
    }
  })();
  try {
    for (;;) {
      const next = await ahead.take((first, page) => page.from === first.from, MAX_BATCH_EVENTS);
      if (next === undefined) break;
      if ('error' in next) {
        if (fetchSignal.aborted) break;
        throw next.error instanceof ResyncRequiredError
          ? await recordResync(next.error)
          : next.error;
      }
      const first = next[0] as FetchedPage;
      const last = next.at(-1) as FetchedPage;
      if (first.pinSnapshot !== undefined) {
        // The server picked the snapshot timestamp. Persist it before publishing anything, so a
        // crash resumes this same snapshot (repeating identical events) instead of starting a
        // newer one, whose copy would miss deletes that happened in between.
        state = {
          ...state,
          position: { phase: 'snapshot', snapshotTs: first.pinSnapshot },
          updatedAt: new Date(now()).toISOString(),
        };
        const pinned = await checkpointOrStop(state);
        if (!pinned) return { status: 'lease-lost', pages, events };
      }
      const batch = next.length === 1 ? first.events : next.flatMap((p) => p.events);
      // Ctrl-C lets the batch finish; only the Lambda deadline may cut a publish short (no checkpoint then).
      const published = await deps.publisher.publish(batch, publishDeadline());
      const newest = batch.at(-1)?.ts ?? state.newestEventTs;
      // Batches never mix phases, so only a batch's last page can end the snapshot.
      const base =
        state.position.phase === 'snapshot' && last.next.phase === 'deltas'
          ? last.next.deltaCursor
          : state.baseSnapshotTs;
      state = {
        position: last.next,
        generation: state.generation,
        updatedAt: new Date(now()).toISOString(),
        ...(newest !== undefined ? { newestEventTs: newest } : {}),
        ...(base !== undefined ? { baseSnapshotTs: base } : {}),
      };
      // If the lease was lost, the batch is in the stream but not checkpointed by us: the new
      // holder re-publishes it (same eventIds), which at-least-once delivery allows.
      if (!(await checkpointOrStop(state))) return { status: 'lease-lost', pages, events };
      pages += next.length;
      events += batch.length;
      recordBatchMetrics(next.length, last, batch, published);
      if (last.caughtUp && !options.follow) status = 'caught-up';
    }
    if (options.signal?.aborted) status = 'stopped';
  } catch (error) {
    if (!(error instanceof ExportResyncRequiredError)) await recordFailure(error);
    throw error;
  } finally {
    stop.abort();
    ahead.close();
    await fetcher;
    await deps.store
      .release(lease)
      .catch((error: unknown) => deps.log.warn('lease release failed', { error: String(error) }));
  }
  deps.log.info('export run finished', { status, pages, events, phase: state.position.phase });
  return { status, pages, events, state };

  /** Saves state; false when another run took the lease over (this run must stop writing). */
  async function checkpointOrStop(next: ExportState): Promise<boolean> {
    try {
      lease = await deps.store.checkpoint(lease, next, options.leaseTtlMs);
      return true;
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      deps.metrics.add('LeaseLost', 1, 'Count');
      deps.log.warn('export lease was taken over; stopping', { owner: options.owner, pages });
      return false;
    }
  }

  /** Leaves the failure in the state for `status` and alarms; the error itself is rethrown. */
  async function recordFailure(error: unknown): Promise<void> {
    if (error instanceof LeaseLostError) return;
    const at = new Date(now()).toISOString();
    const message = (error instanceof Error ? error.message : String(error)).slice(0, 1_000);
    try {
      await deps.store.checkpoint(
        lease,
        { ...state, lastError: { message, at } },
        options.leaseTtlMs,
      );
    } catch (saveError) {
      deps.log.warn('could not record the failure in the export state', {
        error: String(saveError),
      });
    }
  }

  /** Saves the condition so later runs refuse at once, and returns the error to throw. */
  async function recordResync(error: ResyncRequiredError): Promise<ExportResyncRequiredError> {
    const resyncNeeded = {
      code: error.code ?? `HTTP ${error.status}`,
      message: error.serverMessage ?? error.message,
      at: new Date(now()).toISOString(),
    };
    state = { ...state, resyncNeeded, updatedAt: resyncNeeded.at };
    await deps.store.checkpoint(lease, state, options.leaseTtlMs);
    deps.metrics.add('ResyncRequired', 1, 'Count');
    deps.log.error('Convex requires a resync; export stopped', { code: resyncNeeded.code });
    return new ExportResyncRequiredError(resyncNeeded.code, resyncNeeded.message);
  }

  function recordBatchMetrics(
    pageCount: number,
    last: FetchedPage,
    batch: readonly ChangeEvent[],
    published: Awaited<ReturnType<EventPublisher['publish']>>,
  ): void {
    const m = deps.metrics;
    m.add('Pages', pageCount, 'Count');
    m.add('SnapshotEvents', published.byOp.snapshot, 'Count');
    m.add('UpsertEvents', published.byOp.upsert, 'Count');
    m.add('DeleteEvents', published.byOp.delete, 'Count');
    m.add('BytesPublished', published.bytes, 'Bytes');
    m.add('PublishRetries', published.retriedRecords, 'Count');
    m.add('Throttles', published.throttledRecords, 'Count');
    m.add('ClaimChecks', published.claimChecks, 'Count');
    const newest = batch.at(-1)?.ts;
    if (newest !== undefined) m.add('LagSeconds', lagSeconds(now(), newest), 'Seconds');
    if (last.caughtUp && last.next.phase === 'deltas') {
      m.add('CursorAgeSeconds', lagSeconds(now(), last.next.deltaCursor), 'Seconds');
    }
  }
}

/** Seconds between a wall-clock time (ms) and a Convex nanosecond timestamp. */
export function lagSeconds(nowMs: number, tsNanos: string): number {
  return Number(BigInt(Math.round(nowMs)) * NS_PER_MS - BigInt(tsNanos)) / 1e9;
}
