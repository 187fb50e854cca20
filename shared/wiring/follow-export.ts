import { setTimeout as sleepFor } from 'node:timers/promises';
import { DeployKeyUnavailableError } from '../adapters/secrets-manager-deploy-key.js';
import { isTransientAwsError } from '../aws/errors.js';
import { ConvexApiError, RetryableConvexError } from '../convex/errors.js';
import { BridgeError } from '../errors.js';
import {
  type ExportDeps,
  type ExportOptions,
  type ExportOutcome,
  exportChanges,
} from '../export/export-changes.js';
import { PublishError } from '../ports/event-publisher.js';
import type { ExportStateStore, Lease } from '../ports/export-state-store.js';
import { exponentialCeilingMs } from '../retry.js';

/** How a follower waits between tries while a service is down: exponential, capped. */
export interface FollowRetry {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_FOLLOW_RETRY: FollowRetry = { baseMs: 1_000, maxMs: 30_000 };

export interface FollowWaiting {
  /** The failure, in the words of the error (service, operation, setting, endpoint). */
  readonly reason: string;
  /** Tries that failed since the service went away. */
  readonly attempt: number;
  readonly downForMs: number;
  readonly retryInMs: number;
  /** Whether this follower still holds the export lease while it waits. */
  readonly leaseKept: boolean;
}

/** What a follower ends with: the last run's outcome, or a stop that came while it was waiting. */
export type FollowOutcome =
  | ExportOutcome
  | { readonly status: 'stopped-while-waiting'; readonly reason: string };

export interface FollowEvents {
  waiting?(info: FollowWaiting): void;
  resumed?(info: { readonly downForMs: number }): void;
  leaseHeld?(info: { readonly holder: string | undefined; readonly retryInMs: number }): void;
}

/**
 * A failure that waiting can clear: Convex or AWS unreachable, timing out, overloaded or
 * throttling, or the deploy key secret unreadable for one of those reasons. Everything else (a
 * refused key, a missing table, a resync, bad settings) ends a follower as it ends a one-shot run.
 */
export function isOutage(error: unknown): boolean {
  if (error instanceof RetryableConvexError || error instanceof DeployKeyUnavailableError)
    return true;
  if (error instanceof ConvexApiError) return false;
  if (error instanceof PublishError)
    // Without a cause, the publisher gave up on records that kept failing (throttling, 5xx).
    return error.cause === undefined || isOutage(error.cause);
  // Our own errors (settings, resync, lease) are decisions, not outages.
  if (error instanceof BridgeError) return false;
  return isTransientAwsError(error);
}

/**
 * Runs the export in follow mode until `options.signal` fires, riding out outages: a failure that
 * waiting can clear is retried with capped exponential backoff (reported through `events`), and
 * the export lease is kept (renewed while the state table is reachable) so the follower resumes
 * where it was; it is released when the follower stops. Other failures end the follower.
 */
export async function followExport(
  deps: ExportDeps,
  options: Omit<ExportOptions, 'follow'>,
  follow: {
    readonly retry?: FollowRetry;
    readonly events?: FollowEvents;
    readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  } = {},
): Promise<FollowOutcome> {
  const retry = follow.retry ?? DEFAULT_FOLLOW_RETRY;
  const events = follow.events ?? {};
  const sleep = follow.sleep ?? abortableSleep;
  const now = deps.now ?? Date.now;
  let down: { since: number; attempt: number } | undefined;
  // Back only once a batch was published and then checkpointed: a failed run's own checkpoint
  // (recording its error) proves only that the state table answers.
  let publishedSinceFailure = false;
  const store = new KeptLease(deps.store, () => {
    if (!down || !publishedSinceFailure) return;
    const downForMs = now() - down.since;
    down = undefined;
    events.resumed?.({ downForMs });
  });
  const publisher: ExportDeps['publisher'] = {
    publish: async (batch, signal, options) => {
      const result = await deps.publisher.publish(batch, signal, options);
      publishedSinceFailure = true;
      return result;
    },
  };
  const run = { ...deps, store, publisher };
  try {
    for (;;) {
      let outcome: ExportOutcome;
      try {
        outcome = await exportChanges(run, { ...options, follow: true });
      } catch (error) {
        publishedSinceFailure = false;
        const reason = error instanceof Error ? error.message : String(error);
        if (options.signal?.aborted) return { status: 'stopped-while-waiting', reason };
        if (!isOutage(error)) throw error;
        down ??= { since: now(), attempt: 0 };
        down.attempt++;
        const retryInMs = backoffMs(retry, down.attempt);
        events.waiting?.({
          reason,
          attempt: down.attempt,
          downForMs: now() - down.since,
          retryInMs,
          leaseKept: store.held,
        });
        await store.keepAlive(options.owner, options.leaseTtlMs, retryInMs, sleep, options.signal);
        if (options.signal?.aborted) return { status: 'stopped-while-waiting', reason };
        continue;
      }
      if (outcome.status === 'lease-held') {
        const retryInMs = Math.min(options.leaseTtlMs / 4, 5_000);
        events.leaseHeld?.({ holder: outcome.holder, retryInMs });
        await sleep(retryInMs, options.signal).catch(() => {});
        if (options.signal?.aborted) return outcome;
        continue;
      }
      return outcome;
    }
  } finally {
    await store.releaseKept();
  }
}

function backoffMs(retry: FollowRetry, attempt: number): number {
  const ceiling = exponentialCeilingMs(retry.baseMs, retry.maxMs, attempt);
  // A little jitter, so several followers do not retry in step.
  return Math.round(ceiling * (0.8 + Math.random() * 0.2));
}

const abortableSleep = async (ms: number, signal?: AbortSignal) => {
  await sleepFor(ms, undefined, signal ? { signal } : undefined).catch(() => {});
};

/**
 * The store as a follower sees it: a run's release keeps the lease (the follower will run again
 * at once), the lease is renewed while waiting, and released for real when the follower ends.
 * Every successful checkpoint is a sign the whole path works again.
 */
class KeptLease implements ExportStateStore {
  private lease: Lease | undefined;

  constructor(
    private readonly inner: ExportStateStore,
    private readonly onCheckpoint: () => void,
  ) {}

  get held(): boolean {
    return this.lease !== undefined && this.lease.expiresAt > Date.now();
  }

  async acquire(owner: string, ttlMs: number) {
    const acquired = await this.inner.acquire(owner, ttlMs);
    if (acquired) this.lease = acquired.lease;
    return acquired;
  }

  async checkpoint(
    lease: Lease,
    state: Parameters<ExportStateStore['checkpoint']>[1],
    ttlMs: number,
  ) {
    const next = await this.inner.checkpoint(lease, state, ttlMs);
    this.lease = next;
    this.onCheckpoint();
    return next;
  }

  async release(lease: Lease): Promise<void> {
    this.lease = lease;
  }

  read() {
    return this.inner.read();
  }

  /** Sleeps `ms`, renewing the lease every third of its lifetime while the table answers. */
  async keepAlive(
    owner: string,
    ttlMs: number,
    ms: number,
    sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const left = until - Date.now();
      if (left <= 0 || signal?.aborted) return;
      await sleep(Math.min(left, Math.max(1_000, ttlMs / 3)), signal);
      if (this.lease === undefined || signal?.aborted || until - Date.now() <= 0) continue;
      try {
        const renewed = await this.inner.acquire(owner, ttlMs);
        this.lease = renewed?.lease;
      } catch {
        // The table is down too: the lease lasts until it expires; the next run takes it again.
      }
    }
  }

  async releaseKept(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await this.inner.release(lease).catch(() => {});
  }
}
