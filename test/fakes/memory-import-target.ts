import {
  type ImportTarget,
  type PrimaryKeyIndexAdmin,
  RecordsRejectedError,
} from '../../shared/ports/import-target.js';

/** One record of an `import_airbyte_records` body (shared/import/plan-requests.ts). */
export interface AppliedRecord {
  readonly tableName: string;
  readonly data: Record<string, unknown>;
}

interface ImportBody {
  readonly tables: Record<string, { primaryKey: string[][] | null; jsonSchema: unknown }>;
  readonly messages: AppliedRecord[];
}

/**
 * Convex's import endpoint in memory: it accepts a body and keeps it with its records, in order.
 * Bodies containing a marker are refused (RecordsRejectedError, a 400); transient failures can be
 * scripted for the next N requests (optionally only those whose body matches).
 */
export class MemoryImportTarget implements ImportTarget {
  /** Every body sent, accepted or not. */
  readonly attempts: string[] = [];
  readonly accepted: string[] = [];
  /** Records of accepted bodies, in the order they were applied. */
  readonly applied: AppliedRecord[] = [];
  onImport: ((body: string, attempt: number) => void) | undefined;
  private readonly markers: { marker: string; code: string }[] = [];
  private readonly transient: {
    left: number;
    when: (body: string) => boolean;
    error: () => Error;
  }[] = [];

  /** Refuses, as a 400, every body that contains `marker`. */
  rejectBodiesContaining(marker: string, code = 'InvalidDocument'): this {
    this.markers.push({ marker, code });
    return this;
  }

  /** The next `times` requests (matching `when`) fail as a 503 would. */
  failTransiently(times: number, when: (body: string) => boolean = () => true): this {
    this.transient.push({
      left: times,
      when,
      error: () => Object.assign(new Error('Convex: 503 Service Unavailable'), { status: 503 }),
    });
    return this;
  }

  async importRecords(body: string): Promise<void> {
    this.attempts.push(body);
    this.onImport?.(body, this.attempts.length);
    await Promise.resolve();
    const parsed = JSON.parse(body) as ImportBody;
    for (const m of parsed.messages) {
      if (!(m.tableName in parsed.tables)) throw new Error(`body has no stream for ${m.tableName}`);
    }
    const rejected = this.markers.find((m) => body.includes(m.marker));
    if (rejected) {
      throw new RecordsRejectedError(rejected.code, `a record contains ${rejected.marker}`);
    }
    const transient = this.transient.find((t) => t.left > 0 && t.when(body));
    if (transient) {
      transient.left--;
      throw transient.error();
    }
    this.accepted.push(body);
    this.applied.push(...parsed.messages);
  }
}

/**
 * The index admin: records what was asked to be created; `primaryKeyIndexesReady` answers true
 * from the `readyAfterPolls`-th poll after the latest creation on (Infinity: never).
 */
export class FakeIndexAdmin implements PrimaryKeyIndexAdmin {
  readonly added: Record<string, string[][]>[] = [];
  readonly polls: string[][] = [];
  private pollsSinceAdd = 0;

  /** Tables whose backfill never finishes. */
  readonly neverReady = new Set<string>();

  constructor(private readonly readyAfterPolls = 1) {}

  async addPrimaryKeyIndexes(indexes: Readonly<Record<string, string[][]>>): Promise<void> {
    await Promise.resolve();
    this.added.push(structuredClone({ ...indexes }));
    this.pollsSinceAdd = 0;
  }

  async primaryKeyIndexesReady(tables: readonly string[]): Promise<boolean> {
    await Promise.resolve();
    this.polls.push([...tables]);
    this.pollsSinceAdd++;
    if (tables.some((t) => this.neverReady.has(t))) return false;
    return this.pollsSinceAdd >= this.readyAfterPolls;
  }
}
