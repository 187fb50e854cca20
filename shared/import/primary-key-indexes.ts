import type { PrimaryKeyIndexAdmin } from '../ports/import-target.js';

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

  /**
   * Resolves with the tables whose index is still backfilling after `waitMs` (their messages wait
   * for a later delivery); every other table's index is ready. Throws what the target throws.
   */
  async ensure(
    keys: ReadonlyMap<string, readonly (readonly string[])[]>,
    waitMs: number,
  ): Promise<readonly string[]> {
    const missing = [...keys].filter(([table]) => !this.ready.has(table));
    if (missing.length === 0) return [];
    await this.target.addPrimaryKeyIndexes(
      Object.fromEntries(missing.map(([t, pk]) => [t, pk.map((p) => [...p])])),
    );
    const tables = missing.map(([t]) => t);
    const deadline = Date.now() + waitMs;
    while (!(await this.target.primaryKeyIndexesReady(tables))) {
      if (Date.now() + this.pollMs > deadline) return this.stillBackfilling(tables);
      await this.sleep(this.pollMs);
    }
    for (const t of tables) this.ready.add(t);
    return [];
  }

  /** Readiness is answered for a set of tables at once: ask per table, so one slow backfill holds back only its own table. */
  private async stillBackfilling(tables: readonly string[]): Promise<string[]> {
    if (tables.length === 1) return [...tables];
    const waiting: string[] = [];
    for (const table of tables) {
      if (await this.target.primaryKeyIndexesReady([table])) this.ready.add(table);
      else waiting.push(table);
    }
    return waiting;
  }
}
