import { stringifyLossless } from '../values/lossless-json.js';

/** `snapshot`: from a generation's copy; `upsert`/`delete`: from the change log. */
export type ChangeOp = 'snapshot' | 'upsert' | 'delete';

/** Events about a table or the whole export rather than one document (docs/events.md). */
export type ControlOp = 'truncate' | 'resync-start' | 'snapshot-complete' | 'schema';

/** Where the full event lives when it was too large for one Kinesis record (claim check). */
export interface DocRef {
  readonly bucket: string;
  readonly key: string;
  /** Size in bytes of the S3 object (the complete event as UTF-8 JSON). */
  readonly bytes: number;
}

/**
 * One Kinesis record's data (docs/events.md). `ts` is the exact 19-digit commit timestamp in
 * nanoseconds as a string; `eventId` is `<id>@<ts>`, identical on every replay of the same change.
 */
export interface ChangeEvent {
  readonly v: 1;
  readonly op: ChangeOp;
  /** The export's generation (1 for the first copy; each resync adds one). */
  readonly generation: number;
  readonly component: string;
  readonly table: string;
  readonly id: string;
  readonly ts: string;
  readonly eventId: string;
  /** The document as Convex sent it, without `_table`/`_ts`/`_component`/`_deleted`; null for deletes. */
  readonly doc: Record<string, unknown> | null;
}

/** The record published in place of an oversized event: `docRef` replaces `doc`. */
export interface ChangeEventRef extends Omit<ChangeEvent, 'doc'> {
  readonly docRef: DocRef;
}

/**
 * The Kinesis hash keys (decimal, 0 … 2^128−1) of the shard a control event's copy was written
 * to. Every open shard gets its own copy; the copy speaks for the documents whose partition key
 * hashes into this range, so reading any one shard applies it in order.
 */
export interface HashKeyRange {
  readonly start: string;
  readonly end: string;
}

interface ControlBase {
  readonly v: 1;
  readonly generation: number;
  /** Identical on every copy and every replay of the same control event. */
  readonly eventId: string;
  /** Set by the publisher on each copy; absent before publication. */
  readonly hashKeyRange?: HashKeyRange;
}

/** Every document of the table is gone (cleared, replaced, or newly entering a Data Sync). */
export interface TruncateEvent extends ControlBase {
  readonly op: 'truncate';
  readonly component: string;
  readonly table: string;
  /** `source`: Convex's Data Sync said so; `clear-tables`: the bridge's own clear-tables command. */
  readonly cause: 'source' | 'clear-tables';
  /** Commit time (ns) the truncate stands at, when known (the clear's time for clear-tables). */
  readonly ts?: string;
}

/** A new generation begins: a fresh snapshot follows, then `snapshot-complete`. */
export interface ResyncStartEvent extends ControlBase {
  readonly op: 'resync-start';
  /** Why: the source's code (e.g. `InvalidWindowToReadDocuments`) or `operator` for `convex-bridge resync`. */
  readonly reason: string;
  /** The changes that were never read: after `from` (ns, the last position reached) up to the new snapshot. */
  readonly gapFrom?: string;
}

/** Every live document of this generation has been published. */
export interface SnapshotCompleteEvent extends ControlBase {
  readonly op: 'snapshot-complete';
  /** The commit time (ns) the snapshot stands at, when the source reports one. */
  readonly ts?: string;
}

/** The table's JSON schema (Convex `json_schemas`) changed or the table appeared. */
export interface SchemaEvent extends ControlBase {
  readonly op: 'schema';
  readonly component: string;
  readonly table: string;
  readonly schema: Record<string, unknown>;
}

export type ControlEvent = TruncateEvent | ResyncStartEvent | SnapshotCompleteEvent | SchemaEvent;

/** What the exporter publishes: document changes and, between them, control events. */
export type StreamEvent = ChangeEvent | ControlEvent;

const CONTROL_OPS: ReadonlySet<string> = new Set<ControlOp>([
  'truncate',
  'resync-start',
  'snapshot-complete',
  'schema',
]);

export const isControlEvent = (event: { readonly op: string }): event is ControlEvent =>
  CONTROL_OPS.has(event.op);

export const isChangeEvent = (event: StreamEvent): event is ChangeEvent => !isControlEvent(event);

/**
 * eventIds of control events: the kind, what it is about, what makes it unique, the generation.
 * Deterministic, so a replay after a crash carries the same id and recovery can find it.
 */
export const controlEventId = {
  truncate: (component: string, table: string, at: string, generation: number) =>
    `truncate:${component}/${table}@${at}/g${generation}`,
  resyncStart: (generation: number) => `resync-start/g${generation}`,
  snapshotComplete: (generation: number) => `snapshot-complete/g${generation}`,
  schema: (component: string, table: string, digest: string, generation: number) =>
    `schema:${component}/${table}@${digest}/g${generation}`,
};

/** Serialises with every number's original text intact (lossless-json values in `doc`). */
export function serializeEvent(event: StreamEvent | ChangeEventRef): string {
  return stringifyLossless(event);
}

export function toEventRef(event: ChangeEvent, docRef: DocRef): ChangeEventRef {
  const { doc: _omitted, ...rest } = event;
  return { ...rest, docRef };
}
