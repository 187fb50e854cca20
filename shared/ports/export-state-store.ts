import { BridgeError } from '../errors.js';
import type { ExportState } from '../export/export-state.js';

/** A held lease; `fence` increases on every acquisition, so a stale holder's writes are refused. */
export interface Lease {
  readonly owner: string;
  readonly fence: number;
  readonly expiresAt: number;
}

export interface StoredExport {
  readonly state: ExportState | undefined;
  readonly lease: Lease | undefined;
}

/** Another run took the lease; this run must stop without writing. */
export class LeaseLostError extends BridgeError {
  constructor(message: string) {
    super(message);
    this.name = 'LeaseLostError';
  }
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
