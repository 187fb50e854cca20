/**
 * Synchronisation on events for tests, instead of sleeping and hoping the other side got there.
 */

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/** A promise with its settle functions, settling once (later calls are ignored). */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  let settled = false;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    promise,
    resolve(value: T) {
      if (settled) return;
      settled = true;
      resolve(value);
    },
    reject(reason: unknown) {
      if (settled) return;
      settled = true;
      reject(reason);
    },
  };
}

/**
 * Resolves once every callback already queued has run: all pending promise reactions (microtasks)
 * and the current round of the event loop. Code that only chains promises, with no I/O or timer,
 * has then gone as far as it can; whatever is still pending is waiting for something else.
 */
export function afterPendingCallbacks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * `promise`, or `onTimeout()`'s value once `ms` have passed without it settling. The time limit
 * only bounds how long a broken run takes to fail; it is not what the caller waits for.
 */
export async function within<T, U>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => U,
): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<U>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
