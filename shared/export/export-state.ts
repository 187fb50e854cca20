import type { FeedPosition, SourceStatus } from '../ports/change-feed.js';
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

/** The latest automatic or operator resync: why, and which changes were never read. */
export interface ResyncRecord {
  /** The source's refusal code, or `operator` for `convex-bridge resync`. */
  readonly reason: string;
  readonly message: string;
  readonly at: string;
  /** The generation it started. */
  readonly generation: number;
  /** Log time (ns) the old generation had reached: changes after it until the new snapshot were never read. */
  readonly gapFrom?: string;
}

/** The one attempt (automatic or `migrate-source`) to move a legacy export onto Data Sync. */
export interface MigrationRecord {
  readonly at: string;
  readonly outcome: 'migrated' | 'refused';
  readonly reason?: string;
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
  readonly lastResync?: ResyncRecord;
  /** The generation whose start (`resync-start`) is in the stream; below `generation` it is still due. */
  readonly announcedGeneration?: number;
  /** How many of the recorded table clears (bridge `clear-tables`) this export has dealt with. */
  readonly clearsHandled?: number;
  /** Digest of each table's JSON schema last published (`component/table` → digest). */
  readonly schemaDigests?: Readonly<Record<string, string>>;
  /** When Convex's schemas were last compared with `schemaDigests` (ISO). */
  readonly schemaCheckedAt?: string;
  readonly migration?: MigrationRecord;
  /** What the source last said about itself (Data Sync status and sync id). */
  readonly sourceStatus?: SourceStatus;
  readonly updatedAt: string;
}

/** Where a legacy export starts: a snapshot whose timestamp the server picks on the first page. */
export const LEGACY_START: FeedPosition = { source: 'legacy', phase: 'snapshot' };

export const initialExportState = (
  generation = 1,
  now = new Date(),
  position: FeedPosition = LEGACY_START,
): ExportState => ({ position, generation, updatedAt: now.toISOString() });
