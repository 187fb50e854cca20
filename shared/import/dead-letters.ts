import type { QueueDepth } from '../ports/message-queue.js';
import type {
  DeadLetter,
  DeadLetterQueue,
  HeldDeadLetter,
  QuarantineFailure,
} from '../ports/quarantine.js';

/** How long browsing keeps messages invisible: each is seen once, and back soon if we crash. */
const LIST_HOLD_S = 60;
/** Longer for a redrive, which sends and deletes while it holds. */
const REDRIVE_HOLD_S = 300;

export interface DeadLetterFilter {
  /** A reason code (`UnknownTable`, `MaxReceiveCount`, …); case does not matter. */
  readonly reason?: string;
  readonly table?: string;
}

export interface DeadLetterListing {
  /** Oldest first. */
  readonly letters: readonly DeadLetter[];
  readonly byReason: Readonly<Record<string, number>>;
  /** What the DLQ says it holds: more than `letters` when FIFO groups or other readers hide some. */
  readonly depth?: QueueDepth;
}

export interface RedriveOutcome {
  /** The messages that matched the filter (all of them with no filter). */
  readonly matched: readonly DeadLetter[];
  readonly moved: number;
  readonly failed: readonly QuarantineFailure[];
  readonly byReason: Readonly<Record<string, number>>;
}

/** The table a dead letter was for: our attribute, else the `table` its body names. */
export function tableOf(letter: DeadLetter): string | undefined {
  if (letter.table !== undefined) return letter.table;
  try {
    const parsed = JSON.parse(letter.body) as unknown;
    const table = (parsed as { table?: unknown } | null)?.table;
    return typeof table === 'string' ? table : undefined;
  } catch {
    return undefined;
  }
}

function withTable<T extends DeadLetter>(letter: T): T {
  const table = tableOf(letter);
  return table === undefined || letter.table !== undefined ? letter : { ...letter, table };
}

export function matches(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.reason !== undefined && letter.code.toLowerCase() !== filter.reason.toLowerCase())
    return false;
  if (filter.table !== undefined && tableOf(letter) !== filter.table) return false;
  return true;
}

function countByReason(letters: readonly DeadLetter[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of letters) out[l.code] = (out[l.code] ?? 0) + 1;
  return out;
}

const oldestFirst = (a: DeadLetter, b: DeadLetter) => a.sentAt - b.sentAt;

/** Every message the DLQ lets us see, with counts by reason; nothing is removed. */
export async function listDeadLetters(dlq: DeadLetterQueue): Promise<DeadLetterListing> {
  const held = await dlq.hold(LIST_HOLD_S);
  await dlq.release(held);
  const depth = await dlq.depth().catch(() => undefined);
  const letters = held.map(withTable).sort(oldestFirst);
  return { letters, byReason: countByReason(letters), ...(depth ? { depth } : {}) };
}

/** One message, by its DLQ id or the id it had in the import queue; nothing is removed. */
export async function findDeadLetter(
  dlq: DeadLetterQueue,
  id: string,
): Promise<DeadLetter | undefined> {
  const held = await dlq.hold(LIST_HOLD_S);
  await dlq.release(held);
  const found = held.find((l) => l.id === id) ?? held.find((l) => l.sourceMessageId === id);
  return found ? withTable(found) : undefined;
}

/**
 * Moves the dead letters that match `filter` back to the import queue (all of them without one),
 * and leaves the others where they were. Rounds repeat until the DLQ shows nothing new, since on
 * a FIFO DLQ the messages behind a held one become visible only once it is gone.
 */
export async function redriveDeadLetters(
  dlq: DeadLetterQueue,
  filter: DeadLetterFilter,
  options: { readonly dryRun: boolean },
): Promise<RedriveOutcome> {
  const kept = new Map<string, HeldDeadLetter>();
  const matched: DeadLetter[] = [];
  const failed: QuarantineFailure[] = [];
  let moved = 0;
  try {
    for (;;) {
      const held = (await dlq.hold(REDRIVE_HOLD_S)).filter((l) => !kept.has(l.id));
      if (held.length === 0) break;
      const chosen: HeldDeadLetter[] = [];
      for (const letter of held.map(withTable)) {
        if (matches(letter, filter)) chosen.push(letter);
        else kept.set(letter.id, letter);
      }
      matched.push(...chosen);
      if (options.dryRun) {
        for (const letter of chosen) kept.set(letter.id, letter);
        continue;
      }
      const notMoved = await dlq.moveBack(chosen);
      failed.push(...notMoved);
      const notMovedIds = new Set(notMoved.map((f) => f.id));
      for (const letter of chosen) if (notMovedIds.has(letter.id)) kept.set(letter.id, letter);
      moved += chosen.length - notMoved.length;
    }
  } finally {
    await dlq.release([...kept.values()]);
  }
  return { matched, moved, failed, byReason: countByReason(matched) };
}
