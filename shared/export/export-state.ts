import type { FeedPosition } from '../ports/change-feed.js';
import type { StreamMark } from '../ports/event-publisher.js';

export interface ResyncNeeded {
  readonly code: string;
  readonly message: string;
  /** ISO time the condition was first seen. */
  readonly at: string;
}

/** The failure that ended the latest run; cleared by the next page that goes through. */
export interface LastError {
  readonly message: string;
  readonly at: string;
}

/** What the latest recovery found in the stream after the checkpoint (for `status`). */
export interface RecoveryReport {
  readonly at: string;
  /** Records read after the checkpoint's mark. */
  readonly records: number;
  /** Events found already in the stream, skipped instead of published again. */
  readonly found: number;
  readonly calls: number;
  readonly bytes: number;
  readonly ms: number;
  /** False when a shard could not be read to its tip (limit, trim, error): some may repeat. */
  readonly complete: boolean;
}

/** Where the export stands and what operators need to know about it; one record per export. */
export interface ExportState {
  readonly position: FeedPosition;
  /** Increases on every resync, so operators can tell copies apart. */
  readonly generation: number;
  /** Set when the source refused the cursor as too old; cleared only by `convex-bridge resync`. */
  readonly resyncNeeded?: ResyncNeeded;
  readonly lastError?: LastError;
  /** The snapshot this generation's copy was read at, once the snapshot phase finished. */
  readonly baseSnapshotTs?: string;
  /**
   * The log time (ns) the position stands at, for sources whose position does not say it
   * (Data Sync's cursor is opaque): its latest page's `snapshotTs`.
   */
  readonly cursorTs?: string;
  /** Commit ts of the newest event published, for lag and status. */
  readonly newestEventTs?: string;
  /**
   * Where this export's writes stand in the stream at this checkpoint; absent in states written
   * before effectively-once publication (the next recovery is then at-least-once).
   */
  readonly streamMark?: StreamMark;
  readonly lastRecovery?: RecoveryReport;
  readonly updatedAt: string;
}

/** Where a legacy export starts: a snapshot whose timestamp the server picks on the first page. */
export const LEGACY_START: FeedPosition = { source: 'legacy', phase: 'snapshot' };

export const initialExportState = (
  generation = 1,
  now = new Date(),
  position: FeedPosition = LEGACY_START,
): ExportState => ({ position, generation, updatedAt: now.toISOString() });
