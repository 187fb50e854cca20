import type { DocRef, HashKeyRange } from '../events/change-event.js';
import { type ConsumerStore, type DocumentEntry, documentKey } from './consumer-store.js';
import {
  type HashBounds,
  intersectRanges,
  partitionKeyHash,
  rangeContains,
  toBounds,
} from './hash-key.js';

/** Where a record was read: its shard and that shard's hash-key range (from ListShards). */
export interface ConsumerContext {
  readonly shardId: string;
  readonly hashKeyRange: HashKeyRange;
}

/**
 * Reads a claim check: the S3 object `ref` names holds the complete event as JSON (an S3
 * `GetObject` of `ref.bucket`/`ref.key`, parsed). Failures propagate: the record is not applied.
 */
export type ClaimCheckResolver = (ref: DocRef) => Promise<unknown>;

export interface StreamConsumerOptions {
  /** Needed only if the stream holds claim checks (events larger than a record). */
  readonly resolveClaimCheck?: ClaimCheckResolver;
  /**
   * Parses a record's UTF-8 text (default `JSON.parse`). Pass a lossless parser to keep numbers
   * inside documents exactly as Convex sent them; `ts` is a string either way.
   */
  readonly parse?: (text: string) => unknown;
}

/** What applying one record did (for logs and tests). */
export type ApplyOutcome =
  | { readonly kind: 'applied'; readonly key: string }
  | {
      readonly kind: 'skipped';
      readonly key: string;
      readonly reason: 'older-generation' | 'not-newer';
    }
  | { readonly kind: 'truncated'; readonly removed: number }
  | { readonly kind: 'swept'; readonly removed: number }
  | { readonly kind: 'resync-started'; readonly generation: number }
  | { readonly kind: 'schema'; readonly key: string }
  | { readonly kind: 'ignored'; readonly op: string };

/** A record that is not a valid v1 event (or a claim check that does not match its record). */
export class ConsumerRecordError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConsumerRecordError';
  }
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const DOCUMENT_OPS = new Set(['snapshot', 'upsert', 'delete']);

/**
 * Applies the stream's records to a `ConsumerStore` with the rules of docs/events.md,
 * "Consuming". Feed it each shard's records in order, a child shard only after its parents
 * (`orderStreamRecords`); records of unrelated shards may interleave in any way. Calls must not
 * overlap: await each before the next.
 */
export class StreamConsumer {
  constructor(
    private readonly store: ConsumerStore,
    private readonly options: StreamConsumerOptions = {},
  ) {}

  /** Applies one Kinesis record's data (UTF-8 JSON). */
  async applyRecord(data: Uint8Array | string, context: ConsumerContext): Promise<ApplyOutcome> {
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    let event: unknown;
    try {
      event = (this.options.parse ?? JSON.parse)(text);
    } catch (error) {
      throw new ConsumerRecordError(`record on ${context.shardId} is not JSON`, { cause: error });
    }
    return this.apply(event, context);
  }

  /** Applies one parsed event. */
  async apply(event: unknown, context: ConsumerContext): Promise<ApplyOutcome> {
    const e = asObject(event, 'event');
    if (numeric(e.v) !== 1)
      throw new ConsumerRecordError(`unsupported contract version v=${String(e.v)}`);
    const op = text(e, 'op');
    if (DOCUMENT_OPS.has(op)) return this.applyDocument(e, op);
    const generation = generationOf(e);
    switch (op) {
      case 'truncate':
        return this.truncate(e, generation, context);
      case 'snapshot-complete':
        return this.sweep(generation, effectiveRange(e, context));
      case 'resync-start':
        return { kind: 'resync-started', generation };
      case 'schema':
        return this.recordSchema(e, generation);
      default:
        // Forward compatibility: an op added within v1 is not for this consumer.
        return { kind: 'ignored', op };
    }
  }

  private async applyDocument(record: Record<string, unknown>, op: string): Promise<ApplyOutcome> {
    const e = 'docRef' in record && record.docRef != null ? await this.resolve(record) : record;
    const component = text(e, 'component', true);
    const table = text(e, 'table');
    const id = text(e, 'id');
    const ts = timestamp(e, 'ts');
    const generation = generationOf(e);
    const doc = op === 'delete' ? null : asObject(e.doc, `${op} doc`);
    const key = documentKey(component, table, id);
    const entry = await this.store.getDocument(component, table, id);
    if (entry !== undefined) {
      // The per-document rule: (generation, ts) only moves forward, except that the first event
      // after a truncate applies whatever its ts (a replay of the events after the truncate).
      if (generation < entry.generation)
        return { kind: 'skipped', key, reason: 'older-generation' };
      if (
        generation === entry.generation &&
        entry.removed !== 'truncate' &&
        BigInt(ts) <= BigInt(entry.ts)
      )
        return { kind: 'skipped', key, reason: 'not-newer' };
    }
    const hashKey = entry?.hashKey ?? partitionKeyHash(id).toString();
    const base = { component, table, id, hashKey, generation, ts };
    await this.store.putDocument(
      doc === null ? { ...base, doc: null, removed: 'delete' } : { ...base, doc },
    );
    return { kind: 'applied', key };
  }

  /** A claim check's full event, checked to be the event its record stands for. */
  private async resolve(record: Record<string, unknown>): Promise<Record<string, unknown>> {
    const eventId = text(record, 'eventId');
    const ref = asObject(record.docRef, 'docRef') as unknown as DocRef;
    if (this.options.resolveClaimCheck === undefined)
      throw new ConsumerRecordError(
        `${eventId} is a claim check (s3://${ref.bucket}/${ref.key}) and no resolveClaimCheck was given`,
      );
    const full = asObject(await this.options.resolveClaimCheck(ref), 'claim-checked event');
    if (full.eventId !== eventId || 'docRef' in full)
      throw new ConsumerRecordError(
        `claim check s3://${ref.bucket}/${ref.key} holds ${String(full.eventId)}, not ${eventId}`,
      );
    return full;
  }

  /**
   * Removes every document of the table in the copy's range whose last event is from this
   * generation or an older one, keeping a `truncate` tombstone.
   */
  private async truncate(
    e: Record<string, unknown>,
    generation: number,
    context: ConsumerContext,
  ): Promise<ApplyOutcome> {
    const component = text(e, 'component', true);
    const table = text(e, 'table');
    const range = effectiveRange(e, context);
    let removed = 0;
    if (range === undefined) return { kind: 'truncated', removed };
    const scope = { table: { component, table }, hashKeyRange: decimalRange(range) };
    for (const entry of await collect(this.store.scanDocuments(scope))) {
      if (entry.component !== component || entry.table !== table) continue;
      if (!rangeContains(range, BigInt(entry.hashKey)) || entry.generation > generation) continue;
      if (entry.removed === 'truncate') continue;
      if (entry.doc !== null) removed++;
      await this.store.putDocument(tombstone(entry, 'truncate'));
    }
    return { kind: 'truncated', removed };
  }

  /** Mark and sweep: a document in range whose last event is from an older generation is gone. */
  private async sweep(generation: number, range: HashBounds | undefined): Promise<ApplyOutcome> {
    let removed = 0;
    if (range === undefined) return { kind: 'swept', removed };
    for (const entry of await collect(
      this.store.scanDocuments({ hashKeyRange: decimalRange(range) }),
    )) {
      if (entry.doc === null || entry.generation >= generation) continue;
      if (!rangeContains(range, BigInt(entry.hashKey))) continue;
      removed++;
      await this.store.putDocument(tombstone(entry, 'sweep'));
    }
    return { kind: 'swept', removed };
  }

  /** The last copy read wins: every shard sees a table's schema events in the same order. */
  private async recordSchema(
    e: Record<string, unknown>,
    generation: number,
  ): Promise<ApplyOutcome> {
    const component = text(e, 'component', true);
    const table = text(e, 'table');
    const schema = asObject(e.schema, 'schema');
    const eventId = text(e, 'eventId');
    await this.store.putSchema({ component, table, generation, eventId, schema });
    return { kind: 'schema', key: `${component}/${table}` };
  }
}

function tombstone(entry: DocumentEntry, removed: 'truncate' | 'sweep'): DocumentEntry {
  return { ...entry, doc: null, removed };
}

/**
 * The documents a control event's copy speaks for: its `hashKeyRange` (the shard it was aimed
 * at) within the range of the shard it was read from. They differ only when the stream was
 * resharded while the copy was sent; the exporter then sends copies for the rest.
 */
function effectiveRange(
  e: Record<string, unknown>,
  context: ConsumerContext,
): HashBounds | undefined {
  const shard = toBounds(checkRange(context.hashKeyRange, `shard ${context.shardId}`));
  if (e.hashKeyRange === undefined) return shard;
  const copy = toBounds(checkRange(asObject(e.hashKeyRange, 'hashKeyRange'), 'hashKeyRange'));
  return intersectRanges(copy, shard);
}

function checkRange(range: Record<string, unknown> | HashKeyRange, what: string): HashKeyRange {
  const { start, end } = range as Record<string, unknown>;
  if (
    typeof start !== 'string' ||
    typeof end !== 'string' ||
    !DECIMAL.test(start) ||
    !DECIMAL.test(end)
  )
    throw new ConsumerRecordError(`${what} must be {start, end} in decimal digits`);
  return { start, end };
}

const decimalRange = (range: HashBounds): HashKeyRange => ({
  start: range.start.toString(),
  end: range.end.toString(),
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConsumerRecordError(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

function text(e: Record<string, unknown>, field: string, emptyAllowed = false): string {
  const value = e[field];
  if (typeof value !== 'string' || (!emptyAllowed && value.length === 0))
    throw new ConsumerRecordError(
      `${String(e.op)} event: ${field} must be a ${emptyAllowed ? '' : 'non-empty '}string`,
    );
  return value;
}

function timestamp(e: Record<string, unknown>, field: string): string {
  const value = text(e, field);
  if (!DECIMAL.test(value))
    throw new ConsumerRecordError(`${String(e.op)} event: ${field} must be decimal digits`);
  return value;
}

/** Records written before generations existed carry none: they are generation 1. */
function generationOf(e: Record<string, unknown>): number {
  if (e.generation === undefined) return 1;
  const value = numeric(e.generation);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new ConsumerRecordError(`${String(e.op)} event: generation must be an integer ≥ 1`);
  return value;
}

/** A JSON number as parsed by `JSON.parse` or by a lossless parser (an object whose text is the number). */
function numeric(value: unknown): number {
  if (typeof value === 'number') return value;
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Number(String(value))
    : Number.NaN;
}
