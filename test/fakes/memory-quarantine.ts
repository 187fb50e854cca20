import type {
  Quarantine,
  QuarantineFailure,
  QuarantineItem,
} from '../../shared/ports/quarantine.js';

/** The dead-letter queue in memory; items for which `refuse` gives a reason are not parked. */
export class MemoryQuarantine implements Quarantine {
  readonly parked: QuarantineItem[] = [];
  refuse: ((item: QuarantineItem) => string | undefined) | undefined;

  async send(items: readonly QuarantineItem[]): Promise<QuarantineFailure[]> {
    await Promise.resolve();
    const failures: QuarantineFailure[] = [];
    for (const item of items) {
      const reason = this.refuse?.(item);
      if (reason !== undefined) failures.push({ id: item.id, reason });
      else this.parked.push(item);
    }
    return failures;
  }

  codeOf(id: string): string | undefined {
    return this.parked.find((p) => p.id === id)?.code;
  }
}
