import { setTimeout as sleepFor } from 'node:timers/promises';
import { RecordsRejectedError, TargetRefusedError } from '../ports/import-target.js';
import {
  type MessageQueue,
  QueueUnavailableError,
  type ReceivedMessage,
} from '../ports/message-queue.js';
import { type BackoffPolicy, backOff } from './backoff.js';
import {
  type ImportDeps,
  type ImportHalt,
  type ImportOptions,
  type ImportResult,
  importBatch,
} from './import-batch.js';

export interface ImportTotals {
  readonly imported: number;
  readonly quarantined: number;
  /** Messages handed back to the queue for redelivery (transient failures, or a halt). */
  readonly retried: number;
  /** Set when the target refused everything (a wrong key): the run stopped, its batch backed off. */
  readonly halt?: ImportHalt;
}

/** What a follower is waiting for: the queue (SQS) or the target (Convex). */
export type Dependency = 'queue' | 'target';

export interface DrainQueueOptions {
  readonly import: ImportOptions;
  /** Keep long-polling after the queue is empty, and ride out outages, until `signal` fires. */
  readonly follow: boolean;
  readonly signal: AbortSignal;
  readonly onBatch?: (result: ImportResult) => void;
  /** A follower is waiting `delayMs` before trying `what` again, because of `reason`. */
  readonly onWait?: (what: Dependency, reason: string, delayMs: number) => void;
  /** A follower that waited for `what` got through to it again. */
  readonly onResume?: (what: Dependency) => void;
  /** How long a halted batch's messages stay invisible, by receive count (default HALT_BACKOFF). */
  readonly haltBackoff?: BackoffPolicy;
  /** A follower's waits while a dependency is down: doubling from `baseMs` up to `maxMs`. */
  readonly outageWait?: { readonly baseMs: number; readonly maxMs: number };
}

/** Up to this many messages are gathered so one import request can carry many of them. */
const GATHER = 500;
const OUTAGE_WAIT = { baseMs: 1_000, maxMs: 15_000 };
/** Messages a follower holds through an outage stay invisible this much longer than its wait. */
const HOLD_MARGIN_S = 120;
const MAX_HOLD_MS = 11 * 3600 * 1000;

/**
 * The importer outside Lambda: receive, import, acknowledge what was imported or quarantined.
 * Failed messages are left for the queue to redeliver after their visibility timeout, as in Lambda;
 * a halted batch (the target refuses everything) is backed off and ends the run, follow or not.
 *
 * A one-shot run fails fast: a queue error is thrown, and the first batch with failures ends it.
 * A follower rides out outages instead: while the queue cannot be reached, or every request of a
 * batch fails for a reason worth retrying, it waits (doubling, capped) and says why through
 * `onWait`; it keeps the failed messages in hand (invisible in the queue) and tries them again,
 * so an outage does not use up their receives toward the queue's maxReceiveCount.
 */
export async function drainQueue(
  queue: MessageQueue,
  deps: ImportDeps,
  options: DrainQueueOptions,
): Promise<ImportTotals> {
  const { signal } = options;
  const waits = new Waits(options);
  const watched = watchTransientFailures(deps);
  let imported = 0;
  let quarantined = 0;
  let retried = 0;
  let halt: ImportHalt | undefined;
  while (!signal.aborted) {
    let received: ReceivedMessage[];
    try {
      received = await gather(queue, options);
    } catch (error) {
      if (!options.follow || !(error instanceof QueueUnavailableError)) throw error;
      await waits.wait('queue', error.message);
      continue;
    }
    waits.resumed('queue');
    if (received.length === 0) {
      if (options.follow) continue;
      break;
    }
    let batch = received;
    const receivedAt = Date.now();
    for (;;) {
      watched.last = undefined;
      const result = await importBatch(watched.deps, batch, options.import);
      const failed = new Set(result.failedIds);
      const done = batch.filter((m) => !failed.has(m.id));
      await settle(() => queue.acknowledge(done), options, waits);
      imported += result.imported;
      quarantined += result.quarantined;
      options.onBatch?.(result);
      const again = batch.filter((m) => failed.has(m.id));
      if (result.halt) {
        halt = result.halt;
        retried += again.length;
        await backOff(queue, again, result.failedIds, deps.log, options.haltBackoff);
        break;
      }
      if (failed.size === 0 || result.imported > 0) waits.resumed('target');
      const targetDown = result.imported === 0 && watched.last !== undefined;
      if (failed.size === 0 || !options.follow || !targetDown) {
        retried += again.length; // they come back after the visibility timeout
        break;
      }
      // Nothing got through: the target is down. Keep the messages (no new receive, so the
      // queue does not count one more toward its maxReceiveCount) and try them again after a wait.
      const hold = (seconds: number) =>
        queue.postpone(again.map((message) => ({ message, seconds }))).catch((): string[] => []);
      if (!signal.aborted) {
        const delayMs = waits.next('target');
        await hold(Math.ceil(delayMs / 1000) + HOLD_MARGIN_S);
        await waits.wait('target', watched.last ?? '', delayMs);
      }
      // SQS keeps a message invisible for at most 12 h after its receive: hand it back before.
      if (signal.aborted || Date.now() - receivedAt > MAX_HOLD_MS) {
        retried += again.length;
        await hold(0); // back in the queue at once for whoever receives next
        break;
      }
      batch = again;
    }
    if (halt || (!options.follow && retried > 0)) break;
  }
  return { imported, quarantined, retried, ...(halt ? { halt } : {}) };
}

/**
 * The deps with the target and the index setup watched: `last` is the latest failure worth
 * retrying (not a refused record, not a refusal of everything), which is what a follower waits out.
 */
function watchTransientFailures(deps: ImportDeps): { deps: ImportDeps; last: string | undefined } {
  const watch: { deps: ImportDeps; last: string | undefined } = { deps, last: undefined };
  const note = (error: unknown) => {
    if (!(error instanceof RecordsRejectedError) && !(error instanceof TargetRefusedError))
      watch.last = (error as Error)?.message ?? String(error);
    throw error;
  };
  watch.deps = {
    ...deps,
    target: { importRecords: (body) => deps.target.importRecords(body).catch(note) },
    indexes: { ensure: (keys, waitMs) => deps.indexes.ensure(keys, waitMs).catch(note) },
  };
  return watch;
}

/** Acknowledges; a follower retries while the queue is unreachable (the receipts stay valid a while). */
async function settle(
  ack: () => Promise<void>,
  options: DrainQueueOptions,
  waits: Waits,
): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      await ack();
      return;
    } catch (error) {
      if (
        !options.follow ||
        !(error instanceof QueueUnavailableError) ||
        options.signal.aborted ||
        tries >= 8
      )
        throw error;
      await waits.wait('queue', error.message);
    }
  }
}

/** A follower's waits: per dependency, doubling while it stays down, reset once it answers. */
class Waits {
  private readonly delays = new Map<Dependency, number>();
  private readonly policy: { readonly baseMs: number; readonly maxMs: number };

  constructor(private readonly options: DrainQueueOptions) {
    this.policy = options.outageWait ?? OUTAGE_WAIT;
  }

  /** The wait before the next try of `what`; each call doubles the following one. */
  next(what: Dependency): number {
    const delay = this.delays.get(what) ?? this.policy.baseMs;
    this.delays.set(what, Math.min(this.policy.maxMs, delay * 2));
    return delay;
  }

  async wait(what: Dependency, reason: string, delayMs = this.next(what)): Promise<void> {
    this.options.onWait?.(what, reason, delayMs);
    await sleepFor(delayMs, undefined, { signal: this.options.signal }).catch(() => {});
  }

  resumed(what: Dependency): void {
    if (!this.delays.has(what)) return;
    this.delays.delete(what);
    this.options.onResume?.(what);
  }
}

async function gather(queue: MessageQueue, options: DrainQueueOptions): Promise<ReceivedMessage[]> {
  const received: ReceivedMessage[] = [];
  while (received.length < GATHER) {
    const wait = received.length > 0 ? 0 : options.follow ? 5 : 1;
    const got = await queue
      .receive(GATHER - received.length, wait, options.signal)
      .catch((error: unknown) => {
        if (options.signal.aborted) return [];
        // Keep what was already received: it is imported now rather than left in flight.
        if (received.length > 0 && error instanceof QueueUnavailableError) return [];
        throw error;
      });
    received.push(...got);
    if (got.length === 0) break;
  }
  return received;
}
