import { BridgeError } from '../errors.js';
import type { PrimaryKeyIndexAdmin } from '../ports/import-target.js';

/** The primary-key indexes did not finish backfilling in time; the messages are retried later. */
export class IndexNotReadyError extends BridgeError {
  constructor(message: string) {
    super(message);
    this.name = 'IndexNotReadyError';
  }
}

/**
 * Creates the `_by_airbyte_primary_key` indexes before the first dedup import and waits for
 * their backfill. Readiness is remembered for the life of a warm container.
 */
export class PrimaryKeyIndexes {
  private readonly ready = new Set<string>();

  constructor(
    private readonly target: PrimaryKeyIndexAdmin,
    private readonly pollMs = 500,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((r) => setTimeout(r, ms)),
  ) {}

  async ensure(
    keys: ReadonlyMap<string, readonly (readonly string[])[]>,
    waitMs: number,
  ): Promise<void> {
    const missing = [...keys].filter(([table]) => !this.ready.has(table));
    if (missing.length === 0) return;
    await this.target.addPrimaryKeyIndexes(
      Object.fromEntries(missing.map(([t, pk]) => [t, pk.map((p) => [...p])])),
    );
    const tables = missing.map(([t]) => t);
    const deadline = Date.now() + waitMs;
    while (!(await this.target.primaryKeyIndexesReady(tables))) {
      if (Date.now() + this.pollMs > deadline) {
        throw new IndexNotReadyError(
          `primary key index for ${tables.join(', ')} still backfilling after ${waitMs} ms; these messages will be retried`,
        );
      }
      await this.sleep(this.pollMs);
    }
    for (const t of tables) this.ready.add(t);
  }
}
