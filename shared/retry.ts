import { setTimeout as sleepFor } from 'node:timers/promises';

/** Capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
export interface RetryPolicy {
  /** Total tries including the first; 1 disables retries. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface RetryHooks {
  readonly isRetryable: (error: unknown) => boolean;
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Injected so tests need not wait; defaults to a real, abortable timer. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random?: () => number;
  readonly signal?: AbortSignal;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
};

/** base × 2^(attempt − 1), at most `maxMs`: how far each retry's wait may grow. */
export function exponentialCeilingMs(baseMs: number, maxMs: number, attempt: number): number {
  return Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}

export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  return Math.floor(
    random() * exponentialCeilingMs(policy.baseDelayMs, policy.maxDelayMs, attempt),
  );
}

const realSleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
  await sleepFor(ms, undefined, signal ? { signal } : undefined);
};

/** Runs `attempt` until it succeeds, fails with a non-retryable error, or tries run out. */
export async function withRetry<T>(
  policy: RetryPolicy,
  hooks: RetryHooks,
  attempt: (attemptNumber: number) => Promise<T>,
): Promise<T> {
  const sleep = hooks.sleep ?? realSleep;
  const random = hooks.random ?? Math.random;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (n >= policy.maxAttempts || !hooks.isRetryable(error) || hooks.signal?.aborted)
        throw error;
      const delay = backoffDelayMs(policy, n, random);
      hooks.onRetry?.(error, n, delay);
      await sleep(delay, hooks.signal);
    }
  }
}
