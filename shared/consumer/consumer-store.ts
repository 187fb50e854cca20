/** Why a document entry holds no document. */
export type RemovedBy = 'delete' | 'truncate' | 'sweep';

/**
 * What a consumer remembers of one document (component, table, id), live or not. Entries are
 * never forgotten by the rules: a gone document's generation and `ts` are what let a replayed
 * older event be told from a newer one (docs/events.md, "Consuming").
 */
export interface DocumentEntry {
  readonly component: string;
  readonly table: string;
  readonly id: string;
  /** The partition key's hash (decimal), so truncates and sweeps can select by shard range. */
  readonly hashKey: string;
  /** The generation of the last event applied. */
  readonly generation: number;
  /** The commit time (ns, decimal) of the last event applied. */
  readonly ts: string;
  /** The live document, or null when it is gone (see `removed`). */
  readonly doc: Record<string, unknown> | null;
  /**
   * Set when `doc` is null: `delete` by a delete event, `truncate` by a truncate (the next event
   * of this document applies whatever its `ts`, so a replay after the truncate applies again),
   * `sweep` by the mark and sweep at a later generation's `snapshot-complete`.
   */
  readonly removed?: RemovedBy;
}

/** The latest JSON schema a `schema` event announced for a table. */
export interface SchemaEntry {
  readonly component: string;
  readonly table: string;
  readonly generation: number;
  readonly eventId: string;
  readonly schema: Record<string, unknown>;
}

/** Which entries a scan asks for; omitted parts mean "any". */
export interface ScanScope {
  readonly table?: { readonly component: string; readonly table: string };
  /** Inclusive hash-key bounds (decimal) the entries' `hashKey` must fall in. */
  readonly hashKeyRange?: { readonly start: string; readonly end: string };
}

/**
 * Where a consumer keeps its state: a key-value store of document entries (one item per
 * document) plus the schema registry. Writes are applied one at a time in the consumer's order;
 * a store need not be transactional across items. `scan` may return more entries than the scope
 * asks for (the consumer checks again), never fewer.
 */
export interface ConsumerStore {
  getDocument(component: string, table: string, id: string): Promise<DocumentEntry | undefined>;
  putDocument(entry: DocumentEntry): Promise<void>;
  /** Forgets an entry (compaction of old tombstones by the user; the rules never call it). */
  deleteDocument(component: string, table: string, id: string): Promise<void>;
  scanDocuments(scope: ScanScope): AsyncIterable<DocumentEntry>;
  getSchema(component: string, table: string): Promise<SchemaEntry | undefined>;
  putSchema(entry: SchemaEntry): Promise<void>;
}

/** The key `finalState` and the in-memory store use: `component/table/id` (`""` for the root app). */
export const documentKey = (component: string, table: string, id: string): string =>
  `${component}/${table}/${id}`;

/** A `ConsumerStore` in a Map: for tests, and a model for a real store (DynamoDB, Redis, SQL). */
export class MemoryConsumerStore implements ConsumerStore {
  private readonly documents = new Map<string, DocumentEntry>();
  private readonly schemas = new Map<string, SchemaEntry>();

  async getDocument(component: string, table: string, id: string) {
    return this.documents.get(documentKey(component, table, id));
  }

  async putDocument(entry: DocumentEntry) {
    this.documents.set(documentKey(entry.component, entry.table, entry.id), entry);
  }

  async deleteDocument(component: string, table: string, id: string) {
    this.documents.delete(documentKey(component, table, id));
  }

  async *scanDocuments(scope: ScanScope): AsyncIterable<DocumentEntry> {
    const start = scope.hashKeyRange ? BigInt(scope.hashKeyRange.start) : undefined;
    const end = scope.hashKeyRange ? BigInt(scope.hashKeyRange.end) : undefined;
    // A snapshot of the values: the consumer writes entries while it iterates.
    for (const entry of [...this.documents.values()]) {
      if (
        scope.table &&
        (entry.component !== scope.table.component || entry.table !== scope.table.table)
      )
        continue;
      if (start !== undefined && end !== undefined) {
        const hash = BigInt(entry.hashKey);
        if (hash < start || hash > end) continue;
      }
      yield entry;
    }
  }

  async getSchema(component: string, table: string) {
    return this.schemas.get(`${component}/${table}`);
  }

  async putSchema(entry: SchemaEntry) {
    this.schemas.set(`${entry.component}/${entry.table}`, entry);
  }

  /** Every entry, live or not (for tests and inspection). */
  entries(): readonly DocumentEntry[] {
    return [...this.documents.values()];
  }
}

/** The live documents as `component/table/id` → document, to compare with Convex's tables. */
export async function finalState(
  store: ConsumerStore,
): Promise<Map<string, Record<string, unknown>>> {
  const live = new Map<string, Record<string, unknown>>();
  for await (const entry of store.scanDocuments({}))
    if (entry.doc !== null)
      live.set(documentKey(entry.component, entry.table, entry.id), entry.doc);
  return live;
}
