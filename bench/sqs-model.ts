// An in-memory SQS queue with SQS's delivery rules and a fixed round trip per API call.
//
// Why not moto: moto's SQS recomputes queue attributes over every stored message on each send
// and on each received message (moto 5.2: a SendMessageBatch of 10 took ~0.5 s with 800
// messages queued), so a 10,000-message run would measure moto. The pollers in
// esm-model.ts run against moto too (`MotoQueue`, a small conformance run) to show they use the
// real API the same way.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export interface QueuedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly groupId?: string;
  /** When SQS accepted it (ms since the epoch), as SentTimestamp. */
  readonly sentTimestamp: number;
  readonly receiveCount: number;
  readonly firstReceiveTimestamp: number;
}

/** The three calls an event source mapping makes, as the pollers use them. */
export interface PolledQueue {
  readonly fifo: boolean;
  /** Up to `max` (≤ 10) messages; waits up to `waitMs` for the first one when none is visible. */
  receive(max: number, waitMs: number, signal: AbortSignal): Promise<QueuedMessage[]>;
  /** Deletes by receipt handle (DeleteMessageBatch, 10 at a time). */
  delete(messages: readonly QueuedMessage[]): Promise<void>;
  /** Visible messages no receive is taking right now (what makes Lambda add pollers). */
  waiting?(): number;
}

interface Stored {
  readonly messageId: string;
  readonly body: string;
  readonly groupId: string | undefined;
  readonly sentTimestamp: number;
  receiveCount: number;
  firstReceiveTimestamp: number;
  receipt: string | undefined;
  invisibleUntil: number;
  deleted: boolean;
}

interface Waiter {
  readonly max: number;
  readonly resolve: (messages: QueuedMessage[]) => void;
}

export interface SqsModelOptions {
  /** Round trip of every API call (the request and response halves take half each). */
  readonly latencyMs: number;
  readonly visibilityTimeoutMs: number;
  readonly fifo: boolean;
}

/**
 * Standard or FIFO queue semantics that matter to a poller: at most 10 per receive, long polls
 * answered as soon as a message is visible, a received message invisible until deleted or its
 * visibility timeout ends (then redelivered with a higher receive count), and on FIFO queues no
 * message of a group handed out while an earlier one of that group is in flight.
 */
export class SqsModel implements PolledQueue {
  readonly fifo: boolean;
  private readonly visible: Stored[] = [];
  private head = 0;
  /** In receive order; with one visibility timeout that is also expiry order. */
  private readonly inFlight: Stored[] = [];
  private inFlightHead = 0;
  private readonly busyGroups = new Map<string, number>();
  private readonly waiters: Waiter[] = [];
  private readonly receipts = new Map<string, Stored>();
  calls = { send: 0, receive: 0, emptyReceive: 0, delete: 0 };

  constructor(private readonly options: SqsModelOptions) {
    this.fifo = options.fifo;
  }

  private half(): Promise<void> {
    return this.options.latencyMs > 0 ? sleep(this.options.latencyMs / 2) : Promise.resolve();
  }

  /** SendMessageBatch: the messages are visible from the middle of the round trip. */
  async sendBatch(entries: readonly { body: string; groupId?: string }[]): Promise<void> {
    if (entries.length > 10) throw new Error('SendMessageBatch takes at most 10 entries');
    this.calls.send++;
    await this.half();
    const now = Date.now();
    for (const e of entries) {
      this.visible.push({
        messageId: `${randomUUID()}`,
        body: e.body,
        groupId: e.groupId,
        sentTimestamp: now,
        receiveCount: 0,
        firstReceiveTimestamp: 0,
        receipt: undefined,
        invisibleUntil: 0,
        deleted: false,
      });
    }
    this.serveWaiters();
    await this.half();
  }

  async receive(max: number, waitMs: number, signal: AbortSignal): Promise<QueuedMessage[]> {
    if (max < 1 || max > 10) throw new Error('ReceiveMessage takes 1 to 10');
    this.calls.receive++;
    await this.half();
    let got = this.take(max);
    if (got.length === 0 && waitMs > 0 && !signal.aborted) {
      got = await new Promise<QueuedMessage[]>((resolve) => {
        const waiter: Waiter = {
          max,
          resolve: (messages) => {
            clearTimeout(timer);
            signal.removeEventListener('abort', onAbort);
            resolve(messages);
          },
        };
        const drop = () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          waiter.resolve([]);
        };
        const onAbort = () => drop();
        const timer = setTimeout(drop, waitMs);
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(waiter);
      });
    }
    if (got.length === 0) this.calls.emptyReceive++;
    await this.half();
    return got;
  }

  async delete(messages: readonly QueuedMessage[]): Promise<void> {
    const calls: Promise<void>[] = [];
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      this.calls.delete++;
      calls.push(
        (async () => {
          await this.half();
          for (const m of chunk) this.deleteOne(m.receiptHandle);
          await this.half();
        })(),
      );
    }
    await Promise.all(calls);
  }

  waiting(): number {
    let n = 0;
    for (let i = this.head; i < this.visible.length && n < 1; i++)
      if (!this.visible[i]?.deleted) n++;
    return n;
  }

  /** Messages neither deleted nor expired: the queue is drained when this is 0. */
  get outstanding(): number {
    let n = 0;
    for (let i = this.head; i < this.visible.length; i++) if (!this.visible[i]?.deleted) n++;
    for (let i = this.inFlightHead; i < this.inFlight.length; i++)
      if (!this.inFlight[i]?.deleted) n++;
    return n;
  }

  private deleteOne(receipt: string): void {
    const m = this.receipts.get(receipt);
    if (!m || m.deleted || m.receipt !== receipt) return; // an old receipt deletes nothing
    m.deleted = true;
    this.receipts.delete(receipt);
    if (m.groupId !== undefined && this.fifo) this.releaseGroup(m.groupId);
  }

  private releaseGroup(group: string): void {
    const n = (this.busyGroups.get(group) ?? 1) - 1;
    if (n <= 0) this.busyGroups.delete(group);
    else this.busyGroups.set(group, n);
  }

  /** Expired in-flight messages become visible again, in front (they are the oldest). */
  private expire(now: number): void {
    const back: Stored[] = [];
    while (this.inFlightHead < this.inFlight.length) {
      const m = this.inFlight[this.inFlightHead] as Stored;
      if (!m.deleted && m.invisibleUntil > now) break;
      this.inFlightHead++;
      if (m.deleted) continue;
      if (m.receipt) this.receipts.delete(m.receipt);
      m.receipt = undefined;
      if (m.groupId !== undefined && this.fifo) this.releaseGroup(m.groupId);
      back.push(m);
    }
    if (back.length > 0) {
      this.visible.splice(this.head, 0, ...back);
    }
    if (this.inFlightHead > 4096) {
      this.inFlight.splice(0, this.inFlightHead);
      this.inFlightHead = 0;
    }
  }

  private take(max: number): QueuedMessage[] {
    const now = Date.now();
    this.expire(now);
    const out: QueuedMessage[] = [];
    const skipped: Stored[] = [];
    while (out.length < max && this.head < this.visible.length) {
      const m = this.visible[this.head++] as Stored;
      if (m.deleted) continue;
      if (this.fifo && m.groupId !== undefined && this.busyGroups.has(m.groupId)) {
        skipped.push(m);
        continue;
      }
      m.receiveCount++;
      if (m.firstReceiveTimestamp === 0) m.firstReceiveTimestamp = now;
      m.receipt = `${m.messageId}:${m.receiveCount}`;
      m.invisibleUntil = now + this.options.visibilityTimeoutMs;
      this.receipts.set(m.receipt, m);
      this.inFlight.push(m);
      if (this.fifo && m.groupId !== undefined)
        this.busyGroups.set(m.groupId, (this.busyGroups.get(m.groupId) ?? 0) + 1);
      out.push({
        messageId: m.messageId,
        receiptHandle: m.receipt,
        body: m.body,
        ...(m.groupId !== undefined ? { groupId: m.groupId } : {}),
        sentTimestamp: m.sentTimestamp,
        receiveCount: m.receiveCount,
        firstReceiveTimestamp: m.firstReceiveTimestamp,
      });
    }
    if (skipped.length > 0) this.visible.splice(this.head, 0, ...skipped);
    if (this.head > 4096) {
      this.visible.splice(0, this.head);
      this.head = 0;
    }
    return out;
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0) {
      const waiter = this.waiters[0] as Waiter;
      const got = this.take(waiter.max);
      if (got.length === 0) return;
      this.waiters.shift();
      waiter.resolve(got);
    }
  }
}
