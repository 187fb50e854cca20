import { stringifyLossless } from '../values/lossless-json.js';

/** `snapshot`: from the initial copy; `upsert`/`delete`: from the change log. */
export type ChangeOp = 'snapshot' | 'upsert' | 'delete';

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

/** Serialises with every number's original text intact (lossless-json values in `doc`). */
export function serializeEvent(event: ChangeEvent | ChangeEventRef): string {
  return stringifyLossless(event);
}

export function toEventRef(event: ChangeEvent, docRef: DocRef): ChangeEventRef {
  const { doc: _omitted, ...rest } = event;
  return { ...rest, docRef };
}
