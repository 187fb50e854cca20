import type {
  ChangeFeed,
  FeedPage,
  FeedPosition,
  FeedReadOptions,
  FeedResync,
  TableFilter,
} from '../../shared/ports/change-feed.js';
import { legacyPosition } from './legacy-position.js';
import { CountWaiters, type Hold, HoldPoint } from './sync.js';

export interface FeedRead {
  readonly position: FeedPosition;
  readonly filter: TableFilter | undefined;
}

/** A stable text for a position, to key scripts and compare reads. */
export function positionKey(position: FeedPosition): string {
  const p = legacyPosition(position);
  return p.phase === 'snapshot'
    ? `snapshot|${p.snapshotTs ?? ''}|${p.snapshotCursor ?? ''}`
    : `deltas|${p.deltaCursor}`;
}

/**
 * What both fake feeds share: every read is recorded with its position; a read can be held until
 * the test releases it, or made to fail; a read honours its abort signal as a real fetch would.
 */
export abstract class RecordingFeed implements ChangeFeed {
  readonly reads: FeedRead[] = [];
  private readonly holds: {
    match: (p: FeedPosition) => boolean;
    point: HoldPoint<FeedPosition>;
  }[] = [];
  private readonly failures: { match: (p: FeedPosition) => boolean; error: unknown }[] = [];
  private readonly readCount = new CountWaiters(() => this.reads.length);

  abstract start(): FeedPosition;
  protected abstract respond(
    position: FeedPosition,
    filter: TableFilter | undefined,
    generation: number,
  ): FeedPage | FeedResync;

  /** Holds the next read that matches (any read by default) until released. */
  holdRead(match: (p: FeedPosition) => boolean = () => true): Hold<FeedPosition> {
    const point = new HoldPoint<FeedPosition>();
    this.holds.push({ match, point });
    return point;
  }

  /** The next read that matches throws `error` (once). */
  failRead(error: unknown, match: (p: FeedPosition) => boolean = () => true): void {
    this.failures.push({ match, error });
  }

  /** Drops every hold and failure not yet used. */
  clearFaults(): void {
    this.holds.length = 0;
    this.failures.length = 0;
  }

  /** Resolves once `n` reads have started. */
  readsReach(n: number): Promise<void> {
    return this.readCount.until(n);
  }

  async read(position: FeedPosition, options: FeedReadOptions): Promise<FeedPage | FeedResync> {
    options.signal.throwIfAborted();
    this.reads.push({ position, filter: options.filter });
    this.readCount.check();
    const hold = this.holds.findIndex((h) => h.match(position));
    if (hold >= 0) {
      const [held] = this.holds.splice(hold, 1);
      await held?.point.wait(position, options.signal);
    }
    // A real read resolves on a later tick, never in the caller's own turn.
    await Promise.resolve();
    options.signal.throwIfAborted();
    const failure = this.failures.findIndex((f) => f.match(position));
    if (failure >= 0) {
      const [failed] = this.failures.splice(failure, 1);
      throw failed?.error;
    }
    return this.respond(position, options.filter, options.generation);
  }
}
