import type { ExportState } from '../../shared/export/export-state.js';
import {
  type ExportStateStore,
  type Lease,
  LeaseLostError,
  type StoredExport,
} from '../../shared/ports/export-state-store.js';

export interface CheckpointAttempt {
  readonly lease: Lease;
  readonly state: ExportState;
  readonly accepted: boolean;
}

/** Runs before each checkpoint attempt (1-based count); may steal the lease; an Error it returns is thrown. */
export type CheckpointHook = (attempt: number, state: ExportState) => unknown;

/**
 * The DynamoDbExportStore's item in memory, with the same conditions:
 * - acquire succeeds when no one holds the lease, it expired (`expiresAt < now`), or the caller
 *   already holds it; every acquisition increments the fence;
 * - checkpoint and release are conditional on owner AND fence (not on expiry, as in DynamoDB);
 *   a refused checkpoint throws LeaseLostError, a refused release does nothing;
 * - a checkpoint replaces the whole state and extends the lease to now + ttl.
 * States are copied in and out, so nobody can change a stored state behind the store's back.
 */
export class MemoryExportStore implements ExportStateStore {
  private state: ExportState | undefined;
  private owner: string | undefined;
  private expiresAt: number | undefined;
  private fence = 0;
  private attempts = 0;
  private readonly failures: Error[] = [];
  private readonly releaseFailures: Error[] = [];
  readonly checkpoints: CheckpointAttempt[] = [];
  readonly acquisitions: { owner: string; granted: boolean }[] = [];
  beforeCheckpoint: CheckpointHook | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts from a stored state, as if an earlier run had saved it (no lease held). */
  seed(state: ExportState): this {
    this.state = structuredClone(state);
    return this;
  }

  /** Another run takes the lease over now, whoever holds it (fence + 1). */
  steal(owner = 'another-run', ttlMs = 60_000): Lease {
    this.fence++;
    this.owner = owner;
    this.expiresAt = this.now() + ttlMs;
    return { owner, fence: this.fence, expiresAt: this.expiresAt };
  }

  /** The next checkpoint attempt throws `error` (a store outage, not a lost lease). */
  failNextCheckpoint(error: Error = new Error('DynamoDB: service unavailable')): void {
    this.failures.push(error);
  }

  /** The next release throws `error` (the lease stays held until it expires). */
  failNextRelease(error: Error = new Error('DynamoDB: network error')): void {
    this.releaseFailures.push(error);
  }

  /** Checkpoint attempts so far (what `beforeCheckpoint` counts). */
  get attemptCount(): number {
    return this.attempts;
  }

  /** Accepted checkpoints' states, in order. */
  get saved(): ExportState[] {
    return this.checkpoints.filter((c) => c.accepted).map((c) => c.state);
  }

  async acquire(
    owner: string,
    ttlMs: number,
  ): Promise<{ lease: Lease; state: ExportState | undefined } | undefined> {
    await Promise.resolve();
    const now = this.now();
    const free = this.owner === undefined || (this.expiresAt ?? 0) < now || this.owner === owner;
    this.acquisitions.push({ owner, granted: free });
    if (!free) return undefined;
    this.fence++;
    this.owner = owner;
    this.expiresAt = now + ttlMs;
    return {
      lease: { owner, fence: this.fence, expiresAt: this.expiresAt },
      state: this.state === undefined ? undefined : structuredClone(this.state),
    };
  }

  async checkpoint(lease: Lease, state: ExportState, ttlMs: number): Promise<Lease> {
    await Promise.resolve();
    this.attempts++;
    const hooked = this.beforeCheckpoint?.(this.attempts, state);
    const failure = hooked instanceof Error ? hooked : this.failures.shift();
    if (failure) {
      this.checkpoints.push({ lease, state: structuredClone(state), accepted: false });
      throw failure;
    }
    const expiresAt = this.now() + ttlMs;
    const ours = this.owner === lease.owner && this.fence === lease.fence;
    this.checkpoints.push({ lease, state: structuredClone(state), accepted: ours });
    if (!ours) {
      throw new LeaseLostError(
        `lease ${lease.fence} held by ${lease.owner} was taken over; checkpoint refused`,
      );
    }
    this.state = structuredClone(state);
    this.expiresAt = expiresAt;
    return { ...lease, expiresAt };
  }

  async release(lease: Lease): Promise<void> {
    await Promise.resolve();
    const failure = this.releaseFailures.shift();
    if (failure) throw failure;
    if (this.owner !== lease.owner || this.fence !== lease.fence) return;
    this.owner = undefined;
    this.expiresAt = undefined;
  }

  async read(): Promise<StoredExport> {
    await Promise.resolve();
    return {
      state: this.state === undefined ? undefined : structuredClone(this.state),
      lease:
        this.owner === undefined
          ? undefined
          : { owner: this.owner, fence: this.fence, expiresAt: this.expiresAt ?? 0 },
    };
  }
}
