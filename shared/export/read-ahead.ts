/**
 * Pages fetched ahead of publishing, in order, bounded in pages and events. A fetch error takes
 * its place in the order, so every page fetched before it is still published first.
 */
export class ReadAhead<P extends { readonly events: readonly unknown[] }> {
  private readonly items: ({ page: P } | { error: unknown })[] = [];
  private queuedEvents = 0;
  private closed = false;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(private readonly limits: { readonly pages: number; readonly events: number }) {}

  /** Adds a page, first waiting while the buffer is full; false once aborted. */
  async push(page: P): Promise<boolean> {
    while (!this.closed && this.items.length > 0 && this.full()) {
      await new Promise<void>((resolve) => {
        this.wakeProducer = resolve;
      });
    }
    if (this.closed) return false;
    this.items.push({ page });
    this.queuedEvents += page.events.length;
    this.wake();
    return true;
  }

  fail(error: unknown): void {
    this.items.push({ error });
    this.wake();
  }

  /** No more pages will come; the consumer drains what is queued. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /**
   * Waits for the next item. Returns the error when it is next in line; otherwise the queued
   * pages from the front for as long as `joins` accepts them and `maxEvents` is not exceeded
   * (always at least one page). Undefined when closed and drained.
   */
  async take(
    joins: (first: P, next: P) => boolean,
    maxEvents: number,
  ): Promise<P[] | { error: unknown } | undefined> {
    while (this.items.length === 0) {
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => {
        this.wakeConsumer = resolve;
      });
    }
    const head = this.items[0] as { page: P } | { error: unknown };
    if ('error' in head) {
      this.items.shift();
      return head;
    }
    const pages: P[] = [];
    let events = 0;
    for (const item of this.items) {
      if (!('page' in item)) break;
      const first = pages[0];
      if (first && (!joins(first, item.page) || events + item.page.events.length > maxEvents))
        break;
      pages.push(item.page);
      events += item.page.events.length;
    }
    this.items.splice(0, pages.length);
    this.queuedEvents -= events;
    this.wakeProducer?.();
    this.wakeProducer = undefined;
    return pages;
  }

  private full(): boolean {
    return this.items.length >= this.limits.pages || this.queuedEvents >= this.limits.events;
  }

  private wake(): void {
    this.wakeConsumer?.();
    this.wakeConsumer = undefined;
    this.wakeProducer?.();
    this.wakeProducer = undefined;
  }
}
