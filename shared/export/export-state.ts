import type { DeltaCursor, SnapshotCursor, SnapshotTs } from '../values/int64.js';

/**
 * Where the export stands. The three cursor kinds are separate fields (never one reused as
 * another); every int64 is a decimal string.
 */
export type ExportPosition =
  /** Copying the snapshot. `snapshotTs` is absent until the first page pins it. */
  | {
      readonly phase: 'snapshot';
      readonly snapshotTs?: SnapshotTs;
      readonly snapshotCursor?: SnapshotCursor;
    }
  | { readonly phase: 'deltas'; readonly deltaCursor: DeltaCursor };

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

export interface ExportState {
  readonly position: ExportPosition;
  /** Increases on every resync, so operators can tell copies apart. */
  readonly generation: number;
  /** Set when Convex refused the cursor as too old; cleared only by `convex-bridge resync`. */
  readonly resyncNeeded?: ResyncNeeded;
  readonly lastError?: LastError;
  /** The snapshot this generation's copy was read at, once the snapshot phase finished. */
  readonly baseSnapshotTs?: string;
  /** Commit ts of the newest event published, for lag and status. */
  readonly newestEventTs?: string;
  readonly updatedAt: string;
}

export const initialExportState = (generation = 1, now = new Date()): ExportState => ({
  position: { phase: 'snapshot' },
  generation,
  updatedAt: now.toISOString(),
});

/** A held lease; `fence` increases on every acquisition, so a stale holder's writes are refused. */
export interface Lease {
  readonly owner: string;
  readonly fence: number;
  readonly expiresAt: number;
}

export interface StoredExport {
  readonly state: ExportState | undefined;
  readonly lease:
    | { readonly owner: string; readonly expiresAt: number; readonly fence: number }
    | undefined;
}

/** Cursor and lease persistence for one export. All writes are conditional on the lease. */
export interface ExportStateStore {
  /** Takes the lease if free, expired, or already ours; undefined when someone else holds it. */
  acquire(
    owner: string,
    ttlMs: number,
  ): Promise<{ lease: Lease; state: ExportState | undefined } | undefined>;
  /** Saves state and extends the lease; throws LeaseLostError if the lease is no longer ours. */
  checkpoint(lease: Lease, state: ExportState, ttlMs: number): Promise<Lease>;
  release(lease: Lease): Promise<void>;
  read(): Promise<StoredExport>;
}
