// A namespace import lets esbuild drop what is unused (zod's locales): 460 -> 99 KiB per bundle.
import * as z from 'zod';
import type { DeltaCursor, SnapshotCursor, SnapshotTs } from '../values/int64.js';
import { LosslessNumber } from '../values/lossless-json.js';

/** One document revision as the bridge sees it: metadata lifted out, fields untouched. */
export interface ExportedDocument {
  readonly component: string;
  readonly table: string;
  readonly id: string;
  /** Exact int64 nanosecond commit timestamp, as decimal text. */
  readonly ts: string;
  readonly deleted: boolean;
  /**
   * The document as Convex sent it (with `_id`, `_creationTime`), minus `_table`, `_component`,
   * `_ts`, `_deleted`. Numbers are LosslessNumber so their text survives re-serialisation.
   */
  readonly doc: Record<string, unknown>;
}

export interface SnapshotPage {
  readonly values: readonly ExportedDocument[];
  readonly snapshot: SnapshotTs;
  readonly cursor: SnapshotCursor | null;
  readonly hasMore: boolean;
}

export interface DeltaPage {
  readonly values: readonly ExportedDocument[];
  readonly cursor: DeltaCursor;
  readonly hasMore: boolean;
}

const int64 = z
  .instanceof(LosslessNumber, { message: 'expected a JSON integer' })
  .refine((n) => /^(0|[1-9][0-9]*)$/.test(n.value), { message: 'expected a non-negative integer' })
  .transform((n) => n.value);

const row = z.record(z.string(), z.unknown());

export const snapshotPageSchema = z.object({
  values: z.array(row),
  snapshot: int64,
  cursor: z.string().nullable(),
  hasMore: z.boolean(),
});

export const deltaPageSchema = z.object({
  values: z.array(row),
  cursor: int64,
  hasMore: z.boolean(),
});

export const indexesReadySchema = z.object({ indexesReady: z.boolean() });

/** `/api/query`: a function failure is a 200 too, told apart by `status` (docs/convex-api.md §7). */
export const queryResultSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('success'), value: z.unknown() }),
  z.object({ status: z.literal('error'), errorMessage: z.string() }),
]);

export const jsonSchemasSchema = z.record(z.string(), z.record(z.string(), z.unknown()));

export const errorEnvelopeSchema = z.object({ code: z.string(), message: z.string() });

const META = new Set(['_table', '_component', '_ts', '_deleted']);

/** Lifts metadata out of one raw row; throws a message naming the field that is wrong. */
export function toExportedDocument(
  raw: Record<string, unknown>,
  deltas: boolean,
): ExportedDocument {
  const { _table: table, _component: component = '', _ts: ts, _deleted: deleted, _id: id } = raw;
  if (typeof table !== 'string') throw new Error('_table is missing or not a string');
  if (typeof component !== 'string') throw new Error('_component is not a string');
  if (typeof id !== 'string') throw new Error('_id is missing or not a string');
  const tsText = int64.safeParse(ts);
  if (!tsText.success) throw new Error('_ts is missing or not a non-negative JSON integer');
  if (deltas && typeof deleted !== 'boolean')
    throw new Error('_deleted is missing or not a boolean');
  if (!deltas && deleted !== undefined)
    throw new Error('_deleted must not appear in list_snapshot');
  const doc: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) if (!META.has(key)) doc[key] = raw[key];
  return { component, table, id, ts: tsText.data, deleted: deleted === true, doc };
}

/** Where a Data Sync stands (docs/convex-api.md §5); `snapshotTs` is exact int64 ns text. */
export type DataSyncStatus =
  | { readonly type: 'snapshotting' }
  | { readonly type: 'stale' | 'upToDate'; readonly snapshotTs: string };

/** One Data Sync row: a document revision in `export_json`, or a tombstone. */
export interface DataSyncValue {
  readonly component: string;
  readonly table: string;
  readonly id: string;
  /** Exact int64 nanosecond commit timestamp, as decimal text. */
  readonly ts: string;
  readonly deleted: boolean;
  /**
   * The document (`_id`, `_creationTime`, its fields) in `export_json`, numbers as LosslessNumber;
   * a tombstone's holds `_id` only.
   */
  readonly value: Record<string, unknown>;
}

export interface DataSyncPage {
  readonly status: DataSyncStatus;
  /** Tables to empty before applying `values` (cleared, replaced, or entering the sync). */
  readonly truncates: readonly { readonly component: string; readonly table: string }[];
  readonly values: readonly DataSyncValue[];
  readonly syncId: string;
  /** Always true on Data Sync; pace by `status` instead. */
  readonly hasMore: boolean;
  readonly nextCursor: string;
}

/** Everything of a Data Sync page but `values`, which is checked row by row as it streams in. */
export const dataSyncPageSchema = z.object({
  status: z.discriminatedUnion('type', [
    z.object({ type: z.literal('snapshotting') }),
    z.object({ type: z.enum(['stale', 'upToDate']), snapshotTs: int64 }),
  ]),
  truncates: z.array(z.object({ component: z.string(), table: z.string() })),
  values: z.array(z.unknown()),
  syncId: z.string(),
  pagination: z.object({ hasMore: z.boolean(), nextCursor: z.string().min(1) }),
});

export const activeSyncsSchema = z.object({
  syncs: z.array(
    z.object({
      syncId: z.string(),
      lastUpdated: z.unknown().transform((v) => Number(String(v))),
      status: z.record(z.string(), z.unknown()),
    }),
  ),
  pagination: z.object({ hasMore: z.boolean(), nextCursor: z.string().optional() }),
});

export const dataSyncCursorSchema = z.object({ cursor: z.string().min(1) });

/** Checks one raw Data Sync row; throws a message naming the field that is wrong. */
export function toDataSyncValue(raw: unknown): DataSyncValue {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error('is not an object');
  const { component, table, ts, deleted, value } = raw as Record<string, unknown>;
  if (typeof component !== 'string') throw new Error('component is missing or not a string');
  if (typeof table !== 'string') throw new Error('table is missing or not a string');
  const tsText = int64.safeParse(ts);
  if (!tsText.success) throw new Error('ts is missing or not a non-negative JSON integer');
  if (typeof deleted !== 'boolean') throw new Error('deleted is missing or not a boolean');
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error('value is missing or not an object');
  const id = (value as Record<string, unknown>)._id;
  if (typeof id !== 'string') throw new Error('value._id is missing or not a string');
  return {
    component,
    table,
    id,
    ts: tsText.data,
    deleted,
    value: value as Record<string, unknown>,
  };
}
