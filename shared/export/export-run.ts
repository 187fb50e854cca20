import { BridgeError } from '../errors.js';
import { METRICS } from '../names.js';
import type { FeedResync } from '../ports/change-feed.js';
import { type ExportStateStore, type Lease, LeaseLostError } from '../ports/export-state-store.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import { type ExportState, initialExportState } from './export-state.js';

/** The source refused the export's position; only `convex-bridge resync` can continue. */
export class ExportResyncRequiredError extends BridgeError {
  constructor(
    readonly code: string,
    serverMessage: string,
  ) {
    super(
      `Convex refused the export cursor (${code}): ${serverMessage} The export is stopped so no gap goes unnoticed; run \`npx convex-bridge resync\` to restart from a fresh snapshot.`,
    );
    this.name = 'ExportResyncRequiredError';
  }
}

export interface RunDeps {
  readonly store: ExportStateStore;
  readonly metrics: MetricsSink;
  readonly log: LogSink;
  readonly now: () => number;
}

/**
 * One run's hold on the export: the lease and the state it has saved. Every write is
 * conditional on the lease, so a run that was taken over can never move the cursor.
 */
export class ExportRun {
  private constructor(
    private readonly deps: RunDeps,
    private readonly owner: string,
    private readonly leaseTtlMs: number,
    private lease: Lease,
    private current: ExportState,
  ) {}

  /** Takes the lease; the holder's name when another run has it. */
  static async open(
    deps: RunDeps,
    owner: string,
    leaseTtlMs: number,
    start: () => ExportState,
  ): Promise<ExportRun | { readonly heldBy: string | undefined }> {
    const acquired = await deps.store.acquire(owner, leaseTtlMs);
    if (!acquired) return { heldBy: (await deps.store.read()).lease?.owner };
    return new ExportRun(deps, owner, leaseTtlMs, acquired.lease, acquired.state ?? start());
  }

  get state(): ExportState {
    return this.current;
  }

  /** Saves `next` and extends the lease; false when another run took the lease over. */
  async save(next: ExportState): Promise<boolean> {
    try {
      this.lease = await this.deps.store.checkpoint(this.lease, next, this.leaseTtlMs);
      this.current = next;
      return true;
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      this.deps.metrics.add(METRICS.leaseLost, 1, 'Count');
      this.deps.log.warn('export lease was taken over; stopping', { owner: this.owner });
      return false;
    }
  }

  /** Throws at once when an earlier run found that only a resync can continue. */
  async refuseIfResyncNeeded(): Promise<void> {
    const needed = this.current.resyncNeeded;
    if (!needed) return;
    this.deps.metrics.add(METRICS.resyncRequired, 1, 'Count');
    await this.release();
    throw new ExportResyncRequiredError(needed.code, needed.message);
  }

  /** Saves the condition so later runs refuse at once, and returns the error to throw. */
  async recordResync(signal: FeedResync): Promise<ExportResyncRequiredError> {
    const at = this.timestamp();
    const resyncNeeded = { code: signal.code, message: signal.message, at };
    await this.save({ ...this.current, resyncNeeded, updatedAt: at });
    this.deps.metrics.add(METRICS.resyncRequired, 1, 'Count');
    this.deps.log.error('Convex requires a resync; export stopped', { code: signal.code });
    return new ExportResyncRequiredError(signal.code, signal.message);
  }

  /** Leaves the failure in the state for `status` and alarms; never throws over it. */
  async recordFailure(error: unknown): Promise<void> {
    if (error instanceof LeaseLostError || error instanceof ExportResyncRequiredError) return;
    const message = (error instanceof Error ? error.message : String(error)).slice(0, 1_000);
    try {
      await this.deps.store.checkpoint(
        this.lease,
        { ...this.current, lastError: { message, at: this.timestamp() } },
        this.leaseTtlMs,
      );
    } catch (saveError) {
      this.deps.log.warn('could not record the failure in the export state', {
        error: String(saveError),
      });
    }
  }

  async release(): Promise<void> {
    await this.deps.store
      .release(this.lease)
      .catch((error: unknown) =>
        this.deps.log.warn('lease release failed', { error: String(error) }),
      );
  }

  timestamp(): string {
    return new Date(this.deps.now()).toISOString();
  }
}

/** A fresh state for an export that has none, starting where the feed starts. */
export const startState = (start: ExportState['position'], now: () => number) => (): ExportState =>
  initialExportState(1, new Date(now()), start);
