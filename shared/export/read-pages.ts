import type {
  ChangeFeed,
  FeedPage,
  FeedPosition,
  FeedResync,
  TableFilter,
} from '../ports/change-feed.js';
import type { ReadAhead } from './read-ahead.js';
import { tablePredicate } from './table-filter.js';

/** How far fetching may run ahead of publishing. */
export const READ_AHEAD_LIMITS = { pages: 16, events: 10_000 } as const;

/** The feed said only a fresh snapshot can continue; queued in page order like any failure. */
export class FeedResyncSignal extends Error {
  constructor(readonly resync: FeedResync) {
    super(`resync required: ${resync.code}`);
    this.name = 'FeedResyncSignal';
  }
}

export interface PageReaderOptions {
  readonly filter?: TableFilter;
  readonly follow: boolean;
  readonly pollIntervalMs: number;
  /** False once the run must stop fetching (budget spent, Ctrl-C). */
  readonly budgetLeft: () => boolean;
  /** How long the next idle wait may be, at most (what is left of the budget). */
  readonly maxWaitMs: () => number;
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly signal: AbortSignal;
  readonly generation: number;
}

/**
 * Reads pages from `from` on into `ahead` until caught up (or, following, until the budget is
 * spent), pausing a poll interval whenever the feed has nothing newer. A failure or a resync
 * signal takes its place in the queue, after every page read before it. Resolves when done.
 */
export async function readPagesAhead(
  feed: ChangeFeed,
  from: FeedPosition,
  ahead: ReadAhead<FeedPage>,
  options: PageReaderOptions,
): Promise<void> {
  const include = tablePredicate(options.filter ?? {});
  let position = from;
  try {
    while (options.budgetLeft()) {
      const read = await feed.read(position, {
        signal: options.signal,
        generation: options.generation,
        ...(options.filter ? { filter: options.filter } : {}),
      });
      if (read.kind === 'resync') {
        ahead.fail(new FeedResyncSignal(read));
        return;
      }
      // Control events about a table follow its filter; export-wide ones always pass.
      const page = {
        ...read,
        events: read.events.filter((e) => !('table' in e) || include(e.component, e.table)),
      };
      if (!(await ahead.push(page))) return;
      position = page.next;
      if (page.caughtUp) {
        if (!options.follow) return;
        await options.sleep(Math.min(options.pollIntervalMs, options.maxWaitMs()), options.signal);
      }
    }
  } catch (error) {
    if (!options.signal.aborted) ahead.fail(error);
  } finally {
    ahead.close();
  }
}
