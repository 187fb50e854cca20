import { ConfigError } from '../errors.js';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/**
 * Convex timestamps are int64 nanoseconds (~1.7e18), beyond 2^53, so they live as exact decimal
 * strings. The three cursor kinds are distinct types so one can never be passed where another
 * belongs (PostHog #67012 replayed a snapshot cursor into document_deltas).
 */
export type SnapshotTs = Brand<string, 'SnapshotTs'>;
/** list_snapshot's page cursor: JSON text inside a string; opaque. */
export type SnapshotCursor = Brand<string, 'SnapshotCursor'>;
/** document_deltas' exclusive cursor: an int64 nanosecond timestamp. */
export type DeltaCursor = Brand<string, 'DeltaCursor'>;

const INT64_MAX = 9223372036854775807n;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

function parseNonNegativeInt64(text: string, what: string): string {
  if (!DECIMAL.test(text) || BigInt(text) > INT64_MAX) {
    throw new ConfigError(`${what} must be a non-negative int64 in decimal digits, got '${text}'`);
  }
  return text;
}

export function toSnapshotTs(text: string): SnapshotTs {
  return parseNonNegativeInt64(text, 'snapshot timestamp') as SnapshotTs;
}

export function toDeltaCursor(text: string): DeltaCursor {
  return parseNonNegativeInt64(text, 'document_deltas cursor') as DeltaCursor;
}

export function toSnapshotCursor(text: string): SnapshotCursor {
  if (text.length === 0) throw new ConfigError('list_snapshot cursor must not be empty');
  return text as SnapshotCursor;
}

/** The one sanctioned crossing: a finished snapshot's timestamp starts the delta stream. */
export function deltaCursorAfterSnapshot(snapshot: SnapshotTs): DeltaCursor {
  return snapshot as string as DeltaCursor;
}

/** Numeric comparison of two exact int64 decimal strings. */
export function compareInt64(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
