import type { StreamEvent } from '../events/change-event.js';
import type { DeltaCursor, SnapshotCursor, SnapshotTs } from '../values/int64.js';

/**
 * Where an export stands in its source, tagged by `source` so another kind of source adds a
 * member here without the use case changing. The use case never looks inside: it stores the
 * position a page hands back and asks for the page after it.
 */
export type FeedPosition = LegacyFeedPosition | DataSyncFeedPosition;

/** Which kind of source a position belongs to (`BRIDGE_SOURCE`). */
export type FeedSource = FeedPosition['source'];

/**
 * `list_snapshot` then `document_deltas` (docs/convex-api.md §4). The three cursor kinds are
 * separate fields, never one reused as another; every int64 is a decimal string.
 */
export type LegacyFeedPosition =
  /** Copying the snapshot. `snapshotTs` is absent until the first page pins it. */
  | {
      readonly source: 'legacy';
      readonly phase: 'snapshot';
      readonly snapshotTs?: SnapshotTs;
      readonly snapshotCursor?: SnapshotCursor;
    }
  | { readonly source: 'legacy'; readonly phase: 'deltas'; readonly deltaCursor: DeltaCursor };

/**
 * Data Sync (`POST /api/v1/data/sync`, docs/convex-api.md §5): one opaque cursor. `phase`
 * follows the last page's status: `snapshot` while Convex says `snapshotting`, then `changes`.
 * No cursor: a new sync (the source's cold start, with truncates for every table).
 */
export interface DataSyncFeedPosition {
  readonly source: 'data-sync';
  readonly phase: 'snapshot' | 'changes';
  readonly cursor?: string;
}

/** What a Data Sync page said about itself, for status and metrics. */
export interface SourceStatus {
  readonly status: 'snapshotting' | 'stale' | 'upToDate';
  readonly syncId: string;
  /** The timestamp (ns) the sync is consistent at, once it is (`stale`/`upToDate`). */
  readonly snapshotTs?: string;
}

/** `snapshot` pages copy the initial state; `changes` pages follow the change log. */
export type FeedPhase = 'snapshot' | 'changes';

export interface FeedPage {
  readonly kind: 'page';
  /** A publish batch holds pages of one phase only. */
  readonly phase: FeedPhase;
  /** Document changes, and control events (Data Sync truncates) where they apply. */
  readonly events: StreamEvent[];
  /** Ask for the page after this one from here. */
  readonly next: FeedPosition;
  /**
   * Save this position before publishing the page: the server chose the snapshot's timestamp
   * with it, and a restart must resume that same snapshot rather than start a newer one (whose
   * copy would miss deletes that happened in between).
   */
  readonly pin?: FeedPosition;
  /** The source has nothing newer right now: polling again at once would find nothing. */
  readonly caughtUp: boolean;
  /** Set on the page that completes the snapshot: the nanosecond timestamp it was read at. */
  readonly snapshotCompletedAt?: string;
  /** Commit time (ns) that `next` stands at in the change log, when the source knows it. */
  readonly cursorTs?: string;
  /** Sources that report their own progress (Data Sync) say it here. */
  readonly sourceStatus?: SourceStatus;
}

/**
 * The source can no longer continue from the position: only a fresh snapshot can (a new
 * generation). `InvalidWindowToReadDocuments`, `SnapshotTooOld`, `DataSyncCursorExpired`.
 */
export interface FeedResync {
  readonly kind: 'resync';
  /** The source's own name for the condition, e.g. `InvalidWindowToReadDocuments`. */
  readonly code: string;
  readonly message: string;
}

/** Which tables to read; entries are `table` (root component) or `component/path/table`. */
export interface TableFilter {
  readonly includeTables?: readonly string[];
  readonly excludeTables?: readonly string[];
  readonly includeComponents?: readonly string[];
  readonly excludeComponents?: readonly string[];
}

export interface FeedReadOptions {
  /** Sources that can select tables server-side should; the use case filters again locally. */
  readonly filter?: TableFilter;
  readonly signal: AbortSignal;
  /** Stamped on every event the page holds. */
  readonly generation: number;
}

/**
 * A source of change events, read one page at a time. Transient failures are the adapter's to
 * retry; anything it throws ends the run without moving the cursor.
 */
export interface ChangeFeed {
  /** Where a new export (or a new generation) starts. */
  start(): FeedPosition;
  /** The page after `position`, or the signal that only a fresh snapshot can continue. */
  read(position: FeedPosition, options: FeedReadOptions): Promise<FeedPage | FeedResync>;
}

/**
 * Turns a position of one source into the equivalent position of another without a re-copy
 * (`POST /api/data_sync_cursor_from_deltas`, docs/convex-api.md §5).
 */
export interface SourceMigration {
  /** The position to continue from, or why the source refused (the export keeps its source). */
  migrate(
    from: FeedPosition,
    options: { readonly filter?: TableFilter; readonly signal?: AbortSignal },
  ): Promise<{ readonly position: FeedPosition } | { readonly refused: string }>;
}
