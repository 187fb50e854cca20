import { DataSyncState } from './data-sync-state.js';
import { decodeDocumentId, encodeDocumentId, newInternalId, newTabletId } from './ids.js';
import type { Knobs } from './knobs.js';
import { fieldNameProblem, isSystemName, isValidComponentPath, isValidTableName } from './names.js';
import { SimError } from './sim-error.js';
import { type Document, nestingDepth, type Value, valueSize, writeValue } from './values.js';

export interface Revision {
  readonly ts: bigint;
  /** null marks a deletion. */
  readonly value: Document | null;
}

export interface DocRecord {
  readonly id: string;
  readonly internalHex: string;
  readonly tablet: Tablet;
  readonly revisions: Revision[];
}

export interface PrimaryKeyIndex {
  readonly fields: readonly (readonly string[])[];
  pollsUntilReady: number;
  readonly byKey: Map<string, DocRecord>;
}

/** One physical incarnation of a table; clear_tables swaps in a new tablet with the same number. */
export interface Tablet {
  readonly id: string;
  readonly tableNumber: number;
  readonly component: string;
  readonly name: string;
  readonly system: boolean;
  readonly createdTs: bigint;
  droppedTs: bigint | undefined;
  readonly docs: Map<string, DocRecord>;
  sortedIds: string[] | undefined;
  pkIndex: PrimaryKeyIndex | undefined;
}

export interface LogEntry {
  readonly ts: bigint;
  readonly record: DocRecord;
  readonly value: Document | null;
}

const NS_PER_MS = 1_000_000n;
const MAX_TS = 2n ** 63n;
const tableKey = (component: string, name: string) => `${component}\u0000${name}`;

/** Encoded-JSON text of the key fields, or undefined when one is missing. */
export function primaryKeyOf(
  doc: Document,
  fields: readonly (readonly string[])[],
): string | undefined {
  const parts: string[] = [];
  for (const path of fields) {
    let v: Value | undefined = doc;
    for (const segment of path) {
      v =
        v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)
          ? v[segment]
          : undefined;
    }
    if (v === undefined) return undefined;
    parts.push(writeValue(v, 'encoded'));
  }
  return parts.join('\u0000');
}

/**
 * The data of one simulated deployment: tablets, each document's revisions, and the global
 * revision log ordered by (commit ts, internal id) that document_deltas reads.
 */
export class Deployment {
  readonly log: LogEntry[] = [];
  /** Kept with the data, as the backend keeps sync progress in a system table. */
  readonly dataSync = new DataSyncState();
  private readonly current = new Map<string, Tablet>();
  private readonly byNumber = new Map<number, Tablet>();
  private readonly tablets: Tablet[] = [];
  private nextTableNumber = 10_001;
  private lastCommitTs: bigint;
  private lastReadTs: bigint;
  private clockOffsetNs = 0n;
  private readonly wallAtStart = BigInt(Date.now()) * NS_PER_MS;
  private readonly hrAtStart = process.hrtime.bigint();

  constructor(readonly knobs: Knobs) {
    this.lastCommitTs = this.now();
    this.lastReadTs = this.lastCommitTs;
  }

  /** Nanoseconds since the epoch; sub-millisecond digits are real, so rounding bugs show. */
  now(): bigint {
    return this.wallAtStart + (process.hrtime.bigint() - this.hrAtStart) + this.clockOffsetNs;
  }

  /** Moves the clock forward (never back), e.g. to age a cursor past retention in a test. */
  advanceClock(ms: number): void {
    if (ms < 0) throw new RangeError('the clock only moves forward');
    this.clockOffsetNs += BigInt(Math.round(ms)) * NS_PER_MS;
  }

  /** The timestamp reads happen at; monotonic, and never below a commit already visible. */
  readTs(): bigint {
    let ts = this.lastCommitTs;
    if (this.knobs.readTsFollowsClock) {
      const now = this.now();
      if (now > ts) ts = now;
    }
    if (ts < this.lastReadTs) ts = this.lastReadTs;
    this.lastReadTs = ts;
    return ts;
  }

  private nextCommitTs(): bigint {
    let ts = this.now();
    if (ts <= this.lastCommitTs) ts = this.lastCommitTs + 1n;
    if (ts <= this.lastReadTs) ts = this.lastReadTs + 1n;
    this.lastCommitTs = ts;
    return ts;
  }

  tablet(component: string, name: string): Tablet | undefined {
    return this.current.get(tableKey(component, name));
  }

  /** Tablets that existed at `ts`, including ones dropped later; ordered by tablet id. */
  tabletsAt(ts: bigint): Tablet[] {
    return this.tablets
      .filter(
        (t) => !t.system && t.createdTs <= ts && (t.droppedTs === undefined || t.droppedTs > ts),
      )
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  sortedIds(tablet: Tablet): string[] {
    if (!tablet.sortedIds) tablet.sortedIds = [...tablet.docs.keys()].sort();
    return tablet.sortedIds;
  }

  /** Index of the first log entry committed strictly after `ts`. */
  firstLogIndexAfter(ts: bigint): number {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.log[mid] as LogEntry).ts <= ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  findRecord(id: string): DocRecord | undefined {
    const decoded = decodeDocumentId(id);
    if (!decoded) return undefined;
    return this.byNumber.get(decoded.tableNumber)?.docs.get(decoded.internalHex);
  }

  /** Live documents of a table now, in id order. */
  documents(name: string, component = ''): Document[] {
    const tablet = this.tablet(component, name);
    if (!tablet) return [];
    const out: Document[] = [];
    for (const hex of this.sortedIds(tablet)) {
      const value = latestAt(tablet.docs.get(hex) as DocRecord, this.lastCommitTs);
      if (value) out.push(value);
    }
    return out;
  }

  /** Runs `body` as one transaction: every write commits at one shared timestamp, or none does. */
  transact<T>(body: (tx: Transaction) => T): { ts: bigint; result: T } {
    const tx = new Transaction(this);
    const result = body(tx);
    const ts = this.commit(tx);
    return { ts, result };
  }

  /** Empties tables atomically by swapping in new tablets; emits no deletion rows (docs/convex-api.md §6.3). */
  clearTables(names: readonly string[], component = ''): bigint {
    const ts = this.nextCommitTs();
    for (const name of names) {
      const old = this.tablet(component, name);
      if (old) old.droppedTs = ts;
      const fresh = this.createTablet(component, name, ts, old?.tableNumber);
      if (old?.pkIndex)
        fresh.pkIndex = { fields: old.pkIndex.fields, pollsUntilReady: 0, byKey: new Map() };
    }
    return ts;
  }

  /** Creates the table if needed; an index on other fields is replaced and backfills again. */
  addPrimaryKeyIndex(name: string, fields: readonly (readonly string[])[]): void {
    let tablet = this.tablet('', name);
    if (!tablet) tablet = this.createTablet('', name, this.nextCommitTs());
    const same = tablet.pkIndex && JSON.stringify(tablet.pkIndex.fields) === JSON.stringify(fields);
    if (same) return;
    const byKey = new Map<string, DocRecord>();
    for (const record of tablet.docs.values()) {
      const value = latestAt(record, this.lastCommitTs);
      const key = value && primaryKeyOf(value, fields);
      if (key !== undefined && key !== null) byKey.set(key, record);
    }
    tablet.pkIndex = { fields, pollsUntilReady: this.knobs.indexBackfillPolls, byKey };
  }

  allocateTableNumber(): number {
    return this.nextTableNumber++;
  }

  createTablet(component: string, name: string, ts: bigint, tableNumber?: number): Tablet {
    const tablet: Tablet = {
      id: newTabletId(),
      tableNumber: tableNumber ?? this.allocateTableNumber(),
      component,
      name,
      system: isSystemName(name),
      createdTs: ts,
      droppedTs: undefined,
      docs: new Map(),
      sortedIds: undefined,
      pkIndex: undefined,
    };
    this.current.set(tableKey(component, name), tablet);
    this.byNumber.set(tablet.tableNumber, tablet);
    this.tablets.push(tablet);
    if (!tablet.system) this.logSystemRow(ts, tablet);
    return tablet;
  }

  /** Creating a table writes a `_tables` row: a log row that counts as read but is never exported. */
  private logSystemRow(ts: bigint, tablet: Tablet): void {
    let system = this.tablet('', '_tables');
    if (!system) system = this.createTablet('', '_tables', ts);
    const internal = newInternalId();
    const record: DocRecord = {
      id: encodeDocumentId(system.tableNumber, internal),
      internalHex: Buffer.from(internal).toString('hex'),
      tablet: system,
      revisions: [],
    };
    const value: Document = { name: tablet.name, tablet: tablet.id };
    record.revisions.push({ ts, value });
    system.docs.set(record.internalHex, record);
    system.sortedIds = undefined;
    this.log.push({ ts, record, value });
  }

  private commit(tx: Transaction): bigint {
    if (tx.pending.size === 0 && tx.replacements.size === 0) return this.lastCommitTs;
    const ts = this.nextCommitTs();
    const creations = new Map<string, Tablet>();
    // Like `npx convex import --replace`: a new tablet under the same number, the old one dropped
    // whole, so its documents vanish without deletion rows.
    for (const [key, { component, table, tableNumber }] of tx.replacements) {
      const old = this.tablet(component, table);
      if (old) old.droppedTs = ts;
      const fresh = this.createTablet(component, table, ts, tableNumber);
      if (old?.pkIndex)
        fresh.pkIndex = { fields: old.pkIndex.fields, pollsUntilReady: 0, byKey: new Map() };
      creations.set(key, fresh);
    }
    const entries = [...tx.pending.values()].sort((a, b) =>
      a.internalHex < b.internalHex ? -1 : 1,
    );
    for (const write of entries) {
      let tablet = this.tablet(write.component, write.table);
      if (
        !tablet ||
        (write.tableNumber !== undefined && tablet.tableNumber !== write.tableNumber)
      ) {
        tablet =
          creations.get(tableKey(write.component, write.table)) ??
          this.createTablet(write.component, write.table, ts, write.tableNumber);
        creations.set(tableKey(write.component, write.table), tablet);
      }
      let record = tablet.docs.get(write.internalHex);
      const previous = record ? latestAt(record, ts) : null;
      if (!record) {
        if (write.value === null) continue; // inserted and deleted in one transaction
        record = { id: write.id, internalHex: write.internalHex, tablet, revisions: [] };
        tablet.docs.set(write.internalHex, record);
        tablet.sortedIds = undefined;
      }
      record.revisions.push({ ts, value: write.value });
      this.log.push({ ts, record, value: write.value });
      const index = tablet.pkIndex;
      if (index) {
        const oldKey = previous ? primaryKeyOf(previous, index.fields) : undefined;
        if (oldKey !== undefined && index.byKey.get(oldKey) === record) index.byKey.delete(oldKey);
        const newKey = write.value ? primaryKeyOf(write.value, index.fields) : undefined;
        if (newKey !== undefined) index.byKey.set(newKey, record);
      }
    }
    return ts;
  }
}

/** The revision a read at `ts` sees: the newest at or before it (its value null if deleted). */
export function revisionAt(record: DocRecord, ts: bigint): Revision | undefined {
  for (let i = record.revisions.length - 1; i >= 0; i--) {
    const rev = record.revisions[i] as Revision;
    if (rev.ts <= ts) return rev;
  }
  return undefined;
}

/** Position of the first key strictly after `key` in a sorted list (an exclusive id cursor). */
export function upperBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function latestAt(record: DocRecord, ts: bigint): Document | null {
  const revs = record.revisions;
  for (let i = revs.length - 1; i >= 0; i--) {
    const rev = revs[i] as Revision;
    if (rev.ts <= ts) return rev.value;
  }
  return null;
}

interface PendingWrite {
  readonly id: string;
  readonly internalHex: string;
  readonly component: string;
  readonly table: string;
  readonly tableNumber: number | undefined;
  value: Document | null;
}

/** Collects writes; the last write to a document in a transaction is its one revision. */
export class Transaction {
  readonly pending = new Map<string, PendingWrite>();
  readonly replacements = new Map<
    string,
    { component: string; table: string; tableNumber: number }
  >();
  private readonly newTables = new Map<string, number>();
  private bytes = 0;

  constructor(private readonly deployment: Deployment) {}

  get writeCount(): number {
    return this.pending.size;
  }

  get writtenBytes(): number {
    return this.bytes;
  }

  insert(table: string, fields: Document, component = ''): string {
    const tableNumber = this.tableNumberFor(table, component);
    const internal = newInternalId();
    const id = encodeDocumentId(tableNumber, internal);
    const creationTime = Number(this.deployment.now()) / 1e6;
    const doc = this.checked({ ...fields, _id: id, _creationTime: creationTime });
    const internalHex = Buffer.from(internal).toString('hex');
    this.pending.set(internalHex, { id, internalHex, component, table, tableNumber, value: doc });
    return id;
  }

  /**
   * Swaps in a new, empty tablet for the table at commit (creating the table if needed); inserts
   * into it in the same transaction become its contents. Writes to the old documents here are
   * not supported.
   */
  replaceTable(table: string, component = ''): void {
    const tableNumber = this.tableNumberFor(table, component);
    this.replacements.set(tableKey(component, table), { component, table, tableNumber });
  }

  private tableNumberFor(table: string, component: string): number {
    if (!isValidTableName(table))
      throw new SimError(400, 'InvalidTableName', `Invalid table name: "${table}"`);
    if (!isValidComponentPath(component)) {
      throw new SimError(400, 'InvalidComponentPath', `Invalid component path: "${component}"`);
    }
    const key = tableKey(component, table);
    let tableNumber =
      this.deployment.tablet(component, table)?.tableNumber ?? this.newTables.get(key);
    if (tableNumber === undefined) {
      tableNumber = this.deployment.allocateTableNumber();
      this.newTables.set(key, tableNumber);
    }
    return tableNumber;
  }

  get(id: string): Document | null {
    const decoded = decodeDocumentId(id);
    const pending = decoded && this.pending.get(decoded.internalHex);
    if (pending) return pending.value;
    const record = this.deployment.findRecord(id);
    return record ? latestAt(record, MAX_TS) : null;
  }

  /** Shallow merge of top-level fields, as Convex's `db.patch`. */
  patch(id: string, fields: Document): void {
    const current = this.require(id);
    this.put(id, {
      ...current,
      ...fields,
      _id: current._id as string,
      _creationTime: current._creationTime as number,
    });
  }

  replace(id: string, fields: Document): void {
    const current = this.require(id);
    this.put(id, {
      ...fields,
      _id: current._id as string,
      _creationTime: current._creationTime as number,
    });
  }

  delete(id: string): void {
    this.require(id);
    this.put(id, null);
  }

  private require(id: string): Document {
    const doc = this.get(id);
    if (!doc) throw new SimError(400, 'NonexistentDocument', `Document ${id} does not exist`);
    return doc;
  }

  private put(id: string, value: Document | null): void {
    const decoded = decodeDocumentId(id);
    const record = this.deployment.findRecord(id);
    const existing = decoded && this.pending.get(decoded.internalHex);
    if (existing) {
      existing.value = value === null ? null : this.checked(value);
      return;
    }
    if (!record || !decoded)
      throw new SimError(400, 'NonexistentDocument', `Document ${id} does not exist`);
    this.pending.set(decoded.internalHex, {
      id,
      internalHex: decoded.internalHex,
      component: record.tablet.component,
      table: record.tablet.name,
      tableNumber: record.tablet.tableNumber,
      value: value === null ? null : this.checked(value),
    });
  }

  private checked(doc: Document): Document {
    for (const key of Object.keys(doc)) {
      const problem = fieldNameProblem(key, true);
      if (problem) throw new SimError(400, 'InvalidFieldName', `Field name "${key}" ${problem}`);
    }
    const size = valueSize(doc);
    if (size > this.deployment.knobs.maxDocumentBytes) {
      throw new SimError(
        400,
        'DocumentTooLarge',
        `Document is too large (${size} bytes > ${this.deployment.knobs.maxDocumentBytes})`,
      );
    }
    if (nestingDepth(doc) > 16)
      throw new SimError(400, 'NestingTooDeep', 'Document is nested more than 16 levels deep');
    this.bytes += size;
    return doc;
  }
}
