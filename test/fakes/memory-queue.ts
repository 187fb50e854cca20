import type { MessageQueue, ReceivedMessage } from '../../shared/ports/message-queue.js';
import { CountWaiters } from './sync.js';

interface Stored {
  readonly id: string;
  readonly body: string;
  readonly groupId?: string;
  /** The receipt of the latest receive; undefined until received. */
  receipt: string | undefined;
  /** Virtual second from which the message can be received again. */
  visibleAt: number;
  receives: number;
}

/** SQS's default visibility timeout for the import queue (the adapter asks for 120 s). */
const VISIBILITY_TIMEOUT_S = 120;

/**
 * An SQS queue in memory with visibility semantics on a virtual clock of seconds: a received
 * message is invisible until it is acknowledged (gone) or its visibility timeout passes
 * (`advance(seconds)`, or `redeliver()` for "long enough"); `postpone` sets a new timeout. Each
 * receive issues a new receipt, and a stale receipt acknowledges nothing. With `fifo`, a group
 * with a message in flight delivers nothing more until that message is settled, and each group
 * delivers in order. A receive on an empty queue returns nothing on the next turn of the event
 * loop: a long poll that timed out, in no time.
 */
export class MemoryQueue implements MessageQueue {
  private readonly messages: Stored[] = [];
  private nextId = 1;
  private seconds = 0;
  readonly acknowledged: string[] = [];
  readonly staleAcks: string[] = [];
  readonly postponed: { id: string; seconds: number }[] = [];
  /** Receive calls that found nothing. */
  emptyReceives = 0;
  private readonly emptyCount = new CountWaiters(() => this.emptyReceives);

  constructor(
    private readonly options: { readonly fifo?: boolean; readonly maxPerReceive?: number } = {},
  ) {}

  /** Enqueues a message; returns its id. */
  send(body: string, options: { id?: string; groupId?: string } = {}): string {
    const id = options.id ?? `msg-${this.nextId++}`;
    if (this.options.fifo && options.groupId === undefined) throw new Error('FIFO needs a groupId');
    this.messages.push({
      id,
      body,
      ...(options.groupId !== undefined ? { groupId: options.groupId } : {}),
      receipt: undefined,
      visibleAt: this.seconds,
      receives: 0,
    });
    return id;
  }

  /** Virtual time passes: messages whose visibility timeout ran out come back. */
  advance(seconds: number): void {
    this.seconds += seconds;
  }

  /** Every received, unacknowledged message comes back (its visibility timeout ran out). */
  redeliver(): void {
    for (const m of this.messages) m.visibleAt = Math.min(m.visibleAt, this.seconds);
  }

  private inFlightNow(m: Stored): boolean {
    return m.receipt !== undefined && m.visibleAt > this.seconds;
  }

  get visible(): string[] {
    return this.messages.filter((m) => !this.inFlightNow(m)).map((m) => m.id);
  }

  get inFlight(): string[] {
    return this.messages.filter((m) => this.inFlightNow(m)).map((m) => m.id);
  }

  /** How often a message still in the queue was received (0 once it is gone). */
  receivesOf(id: string): number {
    return this.messages.find((m) => m.id === id)?.receives ?? 0;
  }

  /** Resolves once `n` receives have found the queue empty. */
  emptyReceivesReach(n: number): Promise<void> {
    return this.emptyCount.until(n);
  }

  async receive(
    max: number,
    _waitSeconds: number,
    signal: AbortSignal,
  ): Promise<ReceivedMessage[]> {
    signal.throwIfAborted();
    const lockedGroups = new Set(
      this.options.fifo
        ? this.messages.filter((m) => this.inFlightNow(m)).map((m) => m.groupId)
        : [],
    );
    const out: ReceivedMessage[] = [];
    const limit = Math.min(max, this.options.maxPerReceive ?? 10);
    for (const m of this.messages) {
      if (out.length >= limit) break;
      if (this.inFlightNow(m) || lockedGroups.has(m.groupId)) continue;
      m.receives++;
      m.receipt = `${m.id}#${m.receives}`;
      m.visibleAt = this.seconds + VISIBILITY_TIMEOUT_S;
      const received = {
        id: m.id,
        body: m.body,
        receipt: m.receipt,
        receiveCount: m.receives,
        ...(m.groupId !== undefined ? { groupId: m.groupId } : {}),
      };
      out.push(received);
    }
    if (out.length > 0) {
      await Promise.resolve();
      return out;
    }
    this.emptyReceives++;
    this.emptyCount.check();
    await new Promise((resolve) => setImmediate(resolve));
    signal.throwIfAborted();
    return [];
  }

  async acknowledge(messages: readonly ReceivedMessage[]): Promise<void> {
    await Promise.resolve();
    for (const r of messages) {
      const i = this.messages.findIndex((m) => m.id === r.id && m.receipt === r.receipt);
      if (i < 0) {
        this.staleAcks.push(r.id);
        continue;
      }
      this.messages.splice(i, 1);
      this.acknowledged.push(r.id);
    }
  }

  /** Sets the visibility timeout of received messages; resolves with the ids it could not. */
  async postpone(
    items: readonly { readonly message: ReceivedMessage; readonly seconds: number }[],
  ): Promise<string[]> {
    await Promise.resolve();
    const failed: string[] = [];
    for (const { message, seconds } of items) {
      const m = this.messages.find((s) => s.id === message.id && s.receipt === message.receipt);
      if (!m) {
        failed.push(message.id);
        continue;
      }
      m.visibleAt = this.seconds + seconds;
      this.postponed.push({ id: m.id, seconds });
    }
    return failed;
  }
}
