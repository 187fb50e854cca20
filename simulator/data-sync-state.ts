import { randomBytes } from 'node:crypto';

/** A sync's progress as list_active_syncs reports it; `status` is written as JSON as it stands. */
export interface SyncProgressRow {
  readonly syncId: string;
  readonly lastUpdatedMs: number;
  /** The status object's JSON text (it carries an exact int64 `snapshotTs`). */
  readonly statusJson: string;
}

/** A sync stays listed for this long after its last page (the backend's active window). */
export const ACTIVE_SYNC_WINDOW_MS = 3 * 24 * 3600 * 1000;

/**
 * What a deployment keeps for Data Sync besides its documents: the key its cursors are encrypted
 * with (one per simulator, so a cursor from another deployment is refused) and one progress row
 * per sync, as the backend's `_data_sync_progress` table.
 */
export class DataSyncState {
  readonly cursorKey = randomBytes(32);
  private readonly progress = new Map<string, SyncProgressRow>();

  record(row: SyncProgressRow): void {
    this.progress.set(row.syncId, row);
  }

  /** Syncs updated within the active window, most recently updated first. */
  active(nowMs: number): SyncProgressRow[] {
    return [...this.progress.values()]
      .filter((row) => nowMs - row.lastUpdatedMs <= ACTIVE_SYNC_WINDOW_MS)
      .sort((a, b) => b.lastUpdatedMs - a.lastUpdatedMs || (a.syncId < b.syncId ? -1 : 1));
  }
}
