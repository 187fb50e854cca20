import { describe, expect, it } from 'vitest';
import {
  findDeadLetter,
  listDeadLetters,
  matches,
  redriveDeadLetters,
  tableOf,
} from '../../shared/import/dead-letters.js';
import type { QueueDepth } from '../../shared/ports/message-queue.js';
import type {
  DeadLetter,
  DeadLetterQueue,
  HeldDeadLetter,
  QuarantineFailure,
} from '../../shared/ports/quarantine.js';

/**
 * A DLQ in memory. Like a FIFO queue, with `perGroup` set it shows at most that many messages of
 * a group while one of the group is held.
 */
class Dlq implements DeadLetterQueue {
  readonly letters: (DeadLetter & { held: boolean })[] = [];
  readonly moved: DeadLetter[] = [];
  refuse = new Set<string>();
  holds = 0;

  constructor(private readonly perGroup = Number.POSITIVE_INFINITY) {}

  add(letter: Partial<DeadLetter> & { id: string }): this {
    this.letters.push({
      body: '{}',
      code: 'UnknownTable',
      reason: 'r',
      sentAt: 0,
      attributes: {},
      held: false,
      ...letter,
    });
    return this;
  }

  async hold(): Promise<HeldDeadLetter[]> {
    this.holds++;
    const shown = new Map<string, number>();
    for (const l of this.letters) if (l.held && l.groupId) shown.set(l.groupId, this.perGroup);
    const out: HeldDeadLetter[] = [];
    for (const l of this.letters) {
      if (l.held) continue;
      const group = l.groupId ?? `solo-${l.id}`;
      if ((shown.get(group) ?? 0) >= this.perGroup) continue;
      shown.set(group, (shown.get(group) ?? 0) + 1);
      l.held = true;
      const { held: _, ...letter } = l;
      out.push({ ...letter, receipt: `r-${l.id}` });
    }
    return out;
  }

  async release(messages: readonly HeldDeadLetter[]): Promise<void> {
    for (const m of messages) {
      const l = this.letters.find((x) => x.id === m.id);
      if (l) l.held = false;
    }
  }

  async moveBack(messages: readonly HeldDeadLetter[]): Promise<QuarantineFailure[]> {
    const failed: QuarantineFailure[] = [];
    for (const m of messages) {
      if (this.refuse.has(m.id)) {
        failed.push({ id: m.id, reason: 'AccessDenied' });
        continue;
      }
      this.letters.splice(
        this.letters.findIndex((l) => l.id === m.id),
        1,
      );
      this.moved.push(m);
    }
    return failed;
  }

  async purge(): Promise<void> {
    this.letters.splice(0);
  }

  async depth(): Promise<QueueDepth> {
    const held = this.letters.filter((l) => l.held).length;
    return { visible: this.letters.length - held, inFlight: held, delayed: 0 };
  }

  get visible(): string[] {
    return this.letters.filter((l) => !l.held).map((l) => l.id);
  }
}

const body = (table: string) => JSON.stringify({ table, data: {} });

describe('the DLQ as a tool', () => {
  it('lists oldest first with counts by reason, the table from the body when no attribute says, and leaves everything in place', async () => {
    const dlq = new Dlq()
      .add({ id: 'b', code: 'UnknownTable', table: 'orders', sentAt: 2_000 })
      .add({ id: 'a', code: 'MaxReceiveCount', body: body('people'), sentAt: 1_000 })
      .add({ id: 'c', code: 'InvalidJson', body: '{"table": ', sentAt: 3_000 })
      .add({ id: 'd', code: 'UnknownTable', body: '[1]', sentAt: 4_000 });
    const listing = await listDeadLetters(dlq);
    expect(listing.letters.map((l) => [l.id, l.table])).toEqual([
      ['a', 'people'],
      ['b', 'orders'],
      ['c', undefined],
      ['d', undefined],
    ]);
    expect(listing.byReason).toEqual({ UnknownTable: 2, MaxReceiveCount: 1, InvalidJson: 1 });
    expect(listing.depth).toEqual({ visible: 4, inFlight: 0, delayed: 0 });
    expect(dlq.visible).toEqual(['b', 'a', 'c', 'd']);
  });

  it('finds one message by its DLQ id or its import queue id', async () => {
    const dlq = new Dlq()
      .add({ id: 'd1', sourceMessageId: 's1', body: body('orders') })
      .add({ id: 'd2', sourceMessageId: 's2' });
    expect(await findDeadLetter(dlq, 'd1')).toMatchObject({ id: 'd1', table: 'orders' });
    expect(await findDeadLetter(dlq, 's2')).toMatchObject({ id: 'd2' });
    expect(await findDeadLetter(dlq, 'zz')).toBeUndefined();
    expect(dlq.visible).toEqual(['d1', 'd2']);
  });

  it('matches a reason code in any case and a table', () => {
    const letter: DeadLetter = {
      id: 'x',
      body: body('people'),
      code: 'UnknownTable',
      reason: '',
      sentAt: 0,
      attributes: {},
    };
    expect(tableOf(letter)).toBe('people');
    expect(matches(letter, {})).toBe(true);
    expect(matches(letter, { reason: 'unknowntable' })).toBe(true);
    expect(matches(letter, { reason: 'InvalidJson' })).toBe(false);
    expect(matches(letter, { table: 'people', reason: 'UnknownTable' })).toBe(true);
    expect(matches(letter, { table: 'orders' })).toBe(false);
  });

  it('redrives only what matches, leaves the rest visible, and a dry run moves nothing', async () => {
    const dlq = new Dlq()
      .add({ id: '1', code: 'UnknownTable', table: 'orders' })
      .add({ id: '2', code: 'UnknownTable', table: 'people' })
      .add({ id: '3', code: 'InvalidJson' })
      .add({ id: '4', code: 'MaxReceiveCount', body: body('orders') });
    const dry = await redriveDeadLetters(dlq, { table: 'orders' }, { dryRun: true });
    expect(dry).toMatchObject({ moved: 0, byReason: { UnknownTable: 1, MaxReceiveCount: 1 } });
    expect(dry.matched.map((l) => l.id)).toEqual(['1', '4']);
    expect(dlq.visible).toEqual(['1', '2', '3', '4']);

    const real = await redriveDeadLetters(dlq, { reason: 'UnknownTable' }, { dryRun: false });
    expect(real).toMatchObject({ moved: 2, failed: [] });
    expect(dlq.moved.map((l) => l.id)).toEqual(['1', '2']);
    expect(dlq.visible).toEqual(['3', '4']);
  });

  it('on a FIFO DLQ, goes round until the messages behind each group’s first have moved too', async () => {
    const dlq = new Dlq(1)
      .add({ id: 'g1a', groupId: 'g1' })
      .add({ id: 'g1b', groupId: 'g1' })
      .add({ id: 'g1c', groupId: 'g1' })
      .add({ id: 'g2a', groupId: 'g2', code: 'InvalidJson' })
      .add({ id: 'g2b', groupId: 'g2' });
    const outcome = await redriveDeadLetters(dlq, { reason: 'UnknownTable' }, { dryRun: false });
    // g2's head does not match: it stays, and holds its group (as SQS would) until released.
    expect(dlq.moved.map((l) => l.id)).toEqual(['g1a', 'g1b', 'g1c']);
    expect(outcome.moved).toBe(3);
    expect(dlq.visible).toEqual(['g2a', 'g2b']);
    expect(dlq.holds).toBe(4);
  });

  it('reports messages it could not move and leaves them visible', async () => {
    const dlq = new Dlq().add({ id: '1' }).add({ id: '2' });
    dlq.refuse.add('2');
    const outcome = await redriveDeadLetters(dlq, {}, { dryRun: false });
    expect(outcome).toMatchObject({ moved: 1, failed: [{ id: '2', reason: 'AccessDenied' }] });
    expect(dlq.visible).toEqual(['2']);
  });
});
