import type { ChangeEvent } from '../../shared/events/change-event.js';
import { tablePredicate } from '../../shared/export/table-filter.js';
import type {
  FeedPage,
  FeedPosition,
  FeedResync,
  TableFilter,
} from '../../shared/ports/change-feed.js';
import { compareInt64 } from '../../shared/values/int64.js';
import { legacyPosition } from './legacy-position.js';
import { RecordingFeed } from './recording-feed.js';
import { deltasAt, snapshotAt, snapshotStart } from './scripted-feed.js';

/** One document write; `doc: null` deletes it. */
export interface Write {
  readonly component?: string;
  readonly table: string;
  readonly id: string;
  readonly doc: Record<string, unknown> | null;
}

export interface Transaction {
  readonly ts: string;
  readonly writes: readonly Write[];
}

const docKey = (w: { component?: string; table: string; id: string }) =>
  `${w.component ?? ''}/${w.table}/${w.id}`;

/**
 * A deployment's history: transactions with increasing nanosecond timestamps, each writing one
 * or more documents (all writes of a transaction share its `ts`, as in Convex).
 */
export class ChangeLog {
  readonly transactions: Transaction[] = [];
  private ts: bigint;

  constructor(firstTs = 1_718_000_000_000_000_000n) {
    this.ts = firstTs;
  }

  /** Commits the writes as one transaction; returns its ts. */
  commit(...writes: Write[]): string {
    if (writes.length === 0) throw new Error('a transaction writes at least one document');
    this.ts += 1_000_000n + BigInt(this.transactions.length % 7); // uneven gaps, still increasing
    const ts = this.ts.toString();
    this.transactions.push({ ts, writes });
    return ts;
  }

  /** The newest commit ts (the ts before the first commit when empty). */
  head(): string {
    return this.transactions.at(-1)?.ts ?? this.ts.toString();
  }

  /** Live documents at `ts`, each with the ts of its latest write, sorted by key. */
  liveAt(ts: string): { write: Write; ts: string }[] {
    const live = new Map<string, { write: Write; ts: string }>();
    for (const t of this.transactions) {
      if (compareInt64(t.ts, ts) > 0) break;
      for (const w of t.writes) {
        if (w.doc === null) live.delete(docKey(w));
        else live.set(docKey(w), { write: w, ts: t.ts });
      }
    }
    return [...live.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
  }

  /** Transactions committed strictly after `ts`. */
  after(ts: string): Transaction[] {
    return this.transactions.filter((t) => compareInt64(t.ts, ts) > 0);
  }

  /**
   * Every event an export pinned at `snapshotTs` must publish: the snapshot of that moment, then
   * every later write.
   */
  expectedEvents(snapshotTs: string, generation = 1): ChangeEvent[] {
    return [
      ...this.liveAt(snapshotTs).map(({ write, ts }) => toEvent(write, ts, true, generation)),
      ...this.after(snapshotTs).flatMap((t) =>
        t.writes.map((w) => toEvent(w, t.ts, false, generation)),
      ),
    ];
  }
}

function toEvent(write: Write, ts: string, fromSnapshot: boolean, generation = 1): ChangeEvent {
  return {
    v: 1,
    generation,
    op: fromSnapshot ? 'snapshot' : write.doc === null ? 'delete' : 'upsert',
    component: write.component ?? '',
    table: write.table,
    id: write.id,
    ts,
    eventId: `${write.id}@${ts}`,
    doc: write.doc === null ? null : { _id: write.id, ...write.doc },
  };
}

export interface ChangeLogFeedOptions {
  readonly snapshotPageSize?: number;
  readonly deltaPageSize?: number;
  /** Select tables server-side like a current backend; default: ignore the filter, like an old one. */
  readonly honourFilter?: boolean;
}

/**
 * A feed generated from a ChangeLog the way list_snapshot + document_deltas serve it: the first
 * snapshot page pins the snapshot at the log's head, pages of the live documents at that ts
 * follow, then pages of later transactions (never split), caught up at the head.
 */
export class ChangeLogFeed extends RecordingFeed {
  private readonly snapshotPageSize: number;
  private readonly deltaPageSize: number;
  /**
   * The oldest delta cursor the feed still serves, like Convex's retention window: an older one
   * gets a resync reply (`InvalidWindowToReadDocuments`). Unset: no retention.
   */
  retainedFrom: string | undefined;

  constructor(
    readonly log: ChangeLog,
    private readonly options: ChangeLogFeedOptions = {},
  ) {
    super();
    this.snapshotPageSize = options.snapshotPageSize ?? 3;
    this.deltaPageSize = options.deltaPageSize ?? 3;
  }

  start(): FeedPosition {
    return snapshotStart();
  }

  protected respond(
    position: FeedPosition,
    filter: TableFilter | undefined,
    generation: number,
  ): FeedPage | FeedResync {
    const include =
      this.options.honourFilter && filter
        ? tablePredicate(filter)
        : (_component: string, _table: string) => true;
    const keep = (e: ChangeEvent) => include(e.component, e.table);
    const legacy = legacyPosition(position);
    if (legacy.phase === 'snapshot') {
      const pinned = legacy.snapshotTs === undefined;
      const ts = legacy.snapshotTs ?? this.log.head();
      const from = Number(legacy.snapshotCursor ?? '0');
      const live = this.log.liveAt(ts);
      const slice = live.slice(from, from + this.snapshotPageSize);
      const done = from + slice.length >= live.length;
      return {
        kind: 'page',
        phase: 'snapshot',
        events: slice.map(({ write, ts: at }) => toEvent(write, at, true, generation)).filter(keep),
        next: done ? deltasAt(ts) : snapshotAt(ts, String(from + slice.length)),
        caughtUp: false,
        ...(pinned ? { pin: snapshotAt(ts) } : {}),
        ...(done ? { snapshotCompletedAt: ts } : {}),
      };
    }
    if (this.retainedFrom !== undefined && compareInt64(legacy.deltaCursor, this.retainedFrom) < 0)
      return {
        kind: 'resync',
        code: 'InvalidWindowToReadDocuments',
        message: `cursor ${legacy.deltaCursor} is older than the retention window`,
      };
    const events: ChangeEvent[] = [];
    let cursor: string = legacy.deltaCursor;
    const pending = this.log.after(cursor);
    let taken = 0;
    for (const t of pending) {
      if (events.length >= this.deltaPageSize) break;
      events.push(...t.writes.map((w) => toEvent(w, t.ts, false, generation)));
      cursor = t.ts;
      taken++;
    }
    return {
      kind: 'page',
      phase: 'changes',
      events: events.filter(keep),
      next: deltasAt(cursor),
      caughtUp: taken === pending.length,
      cursorTs: cursor,
    };
  }
}
