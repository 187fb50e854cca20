import { describe, expect, it } from 'vitest';
import { backoffDelayMs, withRetry } from '../../shared/retry.js';

const policy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 250 };

describe('backoffDelayMs', () => {
  it('grows exponentially, is capped, and jitters across the whole range', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(policy, n, () => 0.999))).toEqual([
      99, 199, 249, 249,
    ]);
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(0);
  });
});

describe('withRetry', () => {
  const sleeps: number[] = [];
  const hooks = (isRetryable: (e: unknown) => boolean) => ({
    isRetryable,
    random: () => 0.5,
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
  });

  it('retries retryable failures until one succeeds', async () => {
    sleeps.length = 0;
    let calls = 0;
    const result = await withRetry(
      policy,
      hooks(() => true),
      async () => {
        calls++;
        if (calls < 3) throw new Error('transient');
        return 'ok';
      },
    );
    expect(result).toBe('ok');
    expect(sleeps).toEqual([50, 100]);
  });

  it('rethrows a non-retryable failure at once', async () => {
    let calls = 0;
    await expect(
      withRetry(
        policy,
        hooks(() => false),
        async () => {
          calls++;
          throw new Error('fatal');
        },
      ),
    ).rejects.toThrow('fatal');
    expect(calls).toBe(1);
  });

  it('gives up after maxAttempts with the last error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        policy,
        hooks(() => true),
        async () => {
          calls++;
          throw new Error(`failure ${calls}`);
        },
      ),
    ).rejects.toThrow('failure 4');
  });

  it('does not retry once the caller aborted', async () => {
    const controller = new AbortController();
    let calls = 0;
    await expect(
      withRetry(policy, { ...hooks(() => true), signal: controller.signal }, async () => {
        calls++;
        controller.abort();
        throw new Error('aborted');
      }),
    ).rejects.toThrow('aborted');
    expect(calls).toBe(1);
  });
});
