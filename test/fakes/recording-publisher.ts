import {
  type ChangeEvent,
  type ChangeOp,
  type ControlEvent,
  type ControlOp,
  isChangeEvent,
  isControlEvent,
  type StreamEvent,
  serializeEvent,
} from '../../shared/events/change-event.js';
import {
  type EventPublisher,
  PublishError,
  type PublishOptions,
  type PublishResult,
} from '../../shared/ports/event-publisher.js';
import { CountWaiters, type Hold, HoldPoint } from './sync.js';

/** The one shard of the in-memory stream, and its hash key range (all of them). */
export const FAKE_SHARD = 'shard-0';
export const FAKE_RANGE = { start: '0', end: (2n ** 128n - 1n).toString() };

export interface PublishCall {
  readonly events: readonly StreamEvent[];
  /** What the caller said was already in the stream (control events' copies). */
  readonly options?: PublishOptions;
  outcome: 'pending' | 'published' | 'failed';
}

type Plan =
  | { readonly kind: 'fail'; readonly partial: number; readonly message: string }
  | { readonly kind: 'hang' }
  | { readonly kind: 'hold'; readonly point: HoldPoint<readonly StreamEvent[]> };

/**
 * A stream in memory: `published` holds every event that reached it, in order, across calls
 * (repeats included, as Kinesis would keep them). Calls are numbered from 1; a call can be made
 * to fail (optionally after a prefix of its events landed), hang until its signal aborts, or be
 * held until the test releases it.
 */
export class RecordingPublisher implements EventPublisher {
  readonly published: StreamEvent[] = [];
  /** When each event in `published` landed (ms, from `now`); its sequence number is index + 1. */
  readonly landedAt: number[] = [];
  /** The clock stamping `landedAt` and each result's mark. */
  now: () => number = Date.now;
  readonly calls: PublishCall[] = [];
  /** Called as each publish starts, with its 1-based number (to change the world mid-run). */
  onPublish: ((events: readonly StreamEvent[], call: number) => void) | undefined;
  private readonly plans = new Map<number, Plan>();
  private readonly callCount = new CountWaiters(() => this.calls.length);

  /** Call `n` (default: the next one) throws PublishError after `partial` of its events landed. */
  fail(options: { call?: number; partial?: number; message?: string } = {}): void {
    this.plans.set(options.call ?? this.calls.length + 1, {
      kind: 'fail',
      partial: options.partial ?? 0,
      message: options.message ?? 'Kinesis: InternalFailure for 1 of the records',
    });
  }

  /** Call `n` (default: the next) never completes until its signal aborts, then throws PublishError. */
  hang(call = this.calls.length + 1): void {
    this.plans.set(call, { kind: 'hang' });
  }

  /** Call `n` (default: the next) waits for the test: `release()` publishes it, `fail(e)` throws e. */
  hold(call = this.calls.length + 1): Hold<readonly StreamEvent[]> {
    const point = new HoldPoint<readonly StreamEvent[]>();
    this.plans.set(call, { kind: 'hold', point });
    return point;
  }

  /** Drops every planned failure, hang and hold not yet used. */
  clearPlans(): void {
    this.plans.clear();
  }

  /** Resolves once `n` publish calls have started. */
  callsReach(n: number): Promise<void> {
    return this.callCount.until(n);
  }

  /** The document events in `published` (control events left out), in stream order. */
  get documents(): ChangeEvent[] {
    return this.published.filter(isChangeEvent);
  }

  /** The control events in `published`, in stream order. */
  get controls(): ControlEvent[] {
    return this.published.filter(isControlEvent);
  }

  /** Successful calls' document events, one array per call. */
  get batches(): ChangeEvent[][] {
    return this.calls
      .filter((c) => c.outcome === 'published')
      .map((c) => c.events.filter(isChangeEvent));
  }

  /**
   * A control event goes to the one shard, once, unless `options.landedCopies` has a copy of it
   * there already (then, as the Kinesis publisher would, nothing is written for it).
   */
  async publish(
    events: readonly StreamEvent[],
    signal?: AbortSignal,
    options?: PublishOptions,
  ): Promise<PublishResult> {
    const covered = (e: StreamEvent) =>
      isControlEvent(e) &&
      (options?.landedCopies?.get(e.eventId) ?? []).some((c) => c.shard === FAKE_SHARD);
    const call: PublishCall = {
      events: [...events],
      ...(options !== undefined ? { options } : {}),
      outcome: 'pending',
    };
    this.calls.push(call);
    const n = this.calls.length;
    this.callCount.check();
    this.onPublish?.(events, n);
    const plan = this.plans.get(n);
    this.plans.delete(n);
    try {
      await Promise.resolve();
      if (plan?.kind === 'hold') await plan.point.wait(events);
      if (plan?.kind === 'hang') await hangUntil(signal);
      if (plan?.kind === 'fail') {
        this.land(events.slice(0, plan.partial).filter((e) => !covered(e)));
        throw new PublishError(plan.message);
      }
    } catch (error) {
      call.outcome = 'failed';
      throw error instanceof PublishError
        ? error
        : new PublishError(`publish failed: ${String(error)}`, { cause: error });
    }
    this.land(events.filter((e) => !covered(e)));
    call.outcome = 'published';
    return {
      ...result(events),
      mark: {
        shards:
          this.published.length > 0 ? { [FAKE_SHARD]: { seq: String(this.published.length) } } : {},
        at: new Date(this.now()).toISOString(),
      },
    };
  }

  /** Puts events in the stream, as a stalled writer's late PutRecords would. */
  land(events: readonly StreamEvent[]): void {
    for (const e of events) {
      this.published.push(e);
      this.landedAt.push(this.now());
    }
  }
}

function hangUntil(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return; // hangs for good: a Lambda killed mid-call
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function result(events: readonly StreamEvent[]): PublishResult {
  const byOp: Record<ChangeOp, number> = { snapshot: 0, upsert: 0, delete: 0 };
  const controls: Partial<Record<ControlOp, number>> = {};
  let bytes = 0;
  for (const e of events) {
    if (isControlEvent(e)) controls[e.op] = (controls[e.op] ?? 0) + 1;
    else byOp[e.op]++;
    bytes += Buffer.byteLength(serializeEvent(e));
  }
  return {
    records: events.length,
    bytes,
    calls: events.length > 0 ? 1 : 0,
    retriedRecords: 0,
    throttledRecords: 0,
    claimChecks: 0,
    byOp,
    ...(Object.keys(controls).length > 0 ? { controls } : {}),
  };
}
