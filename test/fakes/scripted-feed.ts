import type { ChangeEvent, ChangeOp } from '../../shared/events/change-event.js';
import type {
  FeedPage,
  FeedPhase,
  FeedPosition,
  FeedResync,
  TableFilter,
} from '../../shared/ports/change-feed.js';
import { toDeltaCursor, toSnapshotCursor, toSnapshotTs } from '../../shared/values/int64.js';
import { positionKey, RecordingFeed } from './recording-feed.js';

/** What a read at a position answers: a page, the resync condition, or an error it throws. */
export type FeedReply = FeedPage | FeedResync | Error;

export const snapshotStart = (): FeedPosition => ({ source: 'legacy', phase: 'snapshot' });

export const snapshotAt = (ts: string, cursor?: string): FeedPosition => ({
  source: 'legacy',
  phase: 'snapshot',
  snapshotTs: toSnapshotTs(ts),
  ...(cursor !== undefined ? { snapshotCursor: toSnapshotCursor(cursor) } : {}),
});

export const deltasAt = (cursor: string): FeedPosition => ({
  source: 'legacy',
  phase: 'deltas',
  deltaCursor: toDeltaCursor(cursor),
});

/** A change event as the legacy feed builds it (docs/events.md). */
export function changeEvent(
  op: ChangeOp,
  table: string,
  id: string,
  ts: string,
  component = '',
): ChangeEvent {
  return {
    v: 1,
    generation: 1,
    op,
    component,
    table,
    id,
    ts,
    eventId: `${id}@${ts}`,
    doc: op === 'delete' ? null : { _id: id, table },
  };
}

export interface PageSpec {
  readonly phase: FeedPhase;
  readonly events: readonly ChangeEvent[];
  readonly caughtUp?: boolean;
  readonly cursorTs?: string;
  readonly snapshotCompletedAt?: string;
  /** Pin the snapshot with this page (what list_snapshot's first page does). */
  readonly pin?: boolean;
}

export const resyncReply = (
  code = 'InvalidWindowToReadDocuments',
  message = 'cursor is too old',
): FeedResync => ({ kind: 'resync', code, message });

const SNAPSHOT_TS = '1718000000000000000';

/**
 * A feed that answers from a script keyed by position. `on(position, ...replies)` answers the
 * replies in turn, the last one for every later read; a read at an unscripted position throws.
 * It ignores the table filter, as an old backend would.
 */
export class ScriptedFeed extends RecordingFeed {
  private readonly script = new Map<string, FeedReply[]>();

  constructor(private readonly startAt: FeedPosition = snapshotStart()) {
    super();
  }

  /**
   * A feed whose pages follow one another: `positions[i]` is where page i is read, and
   * `positions[i + 1]` is the `next` that page hands back (what a checkpoint after it saves).
   * Snapshot pages are read at snapshot positions, change pages at delta cursors; the first
   * snapshot page pins the snapshot unless `pin: false`.
   */
  static chain(
    specs: readonly PageSpec[],
    start?: FeedPosition,
  ): { feed: ScriptedFeed; positions: FeedPosition[]; pages: FeedPage[] } {
    const positionFor = (i: number): FeedPosition => {
      if (i === 0 && start) return start;
      const spec = specs[i];
      if (i === 0 && spec?.phase !== 'changes') return snapshotStart();
      if (spec?.phase === 'snapshot') return snapshotAt(SNAPSHOT_TS, `cursor-${i}`);
      return deltasAt(String(BigInt(SNAPSHOT_TS) + BigInt(i)));
    };
    const positions = specs.map((_, i) => positionFor(i));
    positions.push(positionFor(specs.length));
    const feed = new ScriptedFeed(positions[0]);
    const pages = specs.map((spec, i): FeedPage => {
      const isFirstSnapshot =
        spec.phase === 'snapshot' &&
        positionKey(positions[i] as FeedPosition) === positionKey(snapshotStart());
      return {
        kind: 'page',
        phase: spec.phase,
        events: [...spec.events],
        next: positions[i + 1] as FeedPosition,
        caughtUp: spec.caughtUp ?? false,
        ...((spec.pin ?? isFirstSnapshot) ? { pin: snapshotAt(SNAPSHOT_TS) } : {}),
        ...(spec.cursorTs !== undefined ? { cursorTs: spec.cursorTs } : {}),
        ...(spec.snapshotCompletedAt !== undefined
          ? { snapshotCompletedAt: spec.snapshotCompletedAt }
          : {}),
      };
    });
    pages.forEach((page, i) => {
      feed.on(positions[i] as FeedPosition, page);
    });
    return { feed, positions, pages };
  }

  /** Sets (replaces) what reads at `position` answer. */
  on(position: FeedPosition, ...replies: FeedReply[]): this {
    if (replies.length === 0) throw new Error('on() needs at least one reply');
    this.script.set(positionKey(position), [...replies]);
    return this;
  }

  start(): FeedPosition {
    return this.startAt;
  }

  protected respond(
    position: FeedPosition,
    _filter: TableFilter | undefined,
  ): FeedPage | FeedResync {
    const replies = this.script.get(positionKey(position));
    if (!replies) throw new Error(`scripted feed: nothing scripted at ${positionKey(position)}`);
    const reply = (replies.length > 1 ? replies.shift() : replies[0]) as FeedReply;
    if (reply instanceof Error) throw reply;
    return reply;
  }
}
