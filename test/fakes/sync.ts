import { deferred } from '../helpers/sync.js';

/**
 * A call a fake has stopped in: `reached` resolves when the call arrives, and the call goes on
 * only when the test says so (`release`) or fails as the test says (`fail`).
 */
export interface Hold<T = void> {
  /** Resolves with what the held call was asked for, as soon as it is waiting. */
  readonly reached: Promise<T>;
  release(): void;
  fail(error: unknown): void;
}

export class HoldPoint<T> implements Hold<T> {
  private readonly arrived = deferred<T>();
  private readonly gate = deferred<void>();
  private used = false;
  readonly reached = this.arrived.promise;

  release(): void {
    this.gate.resolve();
  }

  fail(error: unknown): void {
    this.gate.reject(error);
  }

  /** Called by the fake: parks the call until released, failed, or `signal` aborts. */
  async wait(arg: T, signal?: AbortSignal): Promise<void> {
    if (this.used) throw new Error('a HoldPoint holds one call only');
    this.used = true;
    this.arrived.resolve(arg);
    if (!signal) return this.gate.promise;
    signal.throwIfAborted();
    const aborted = deferred<void>();
    const onAbort = () => aborted.reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([this.gate.promise, aborted.promise]);
    } finally {
      signal.removeEventListener('abort', onAbort);
      aborted.promise.catch(() => {});
    }
  }
}

/** A promise that resolves when `count()` reaches `n`; `check()` must be called on every change. */
export class CountWaiters {
  private readonly waiting: { n: number; done: () => void }[] = [];

  constructor(private readonly count: () => number) {}

  until(n: number): Promise<void> {
    if (this.count() >= n) return Promise.resolve();
    const d = deferred<void>();
    this.waiting.push({ n, done: d.resolve });
    return d.promise;
  }

  check(): void {
    const c = this.count();
    for (const w of [...this.waiting]) {
      if (c >= w.n) {
        this.waiting.splice(this.waiting.indexOf(w), 1);
        w.done();
      }
    }
  }
}
