import { isLosslessNumber, LosslessNumber } from '../values/lossless-json.js';
import type { ValueFormat } from './client.js';

/**
 * Data Sync always sends `export_json` (docs/convex-api.md §2, §5); the legacy endpoints send
 * whichever format BRIDGE_VALUE_FORMAT names. To keep the event contract one thing whatever the
 * source (and across a migration from legacy to Data Sync), documents are rewritten into the
 * configured format. `export_json` is exactly invertible into both others:
 * - an Int64 is a bare integer whose text has no `.` or exponent (floats always have one);
 * - non-finite floats are `{"$float": base64 of 8 little-endian bytes}`, bytes `{"$bytes": …}`;
 * - user field names never start with `$`, so a one-key `$float`/`$bytes` object is an encoding.
 * The rewrite is in place: the page's values are not copied.
 */
export function convertExportJson(
  doc: Record<string, unknown>,
  format: ValueFormat,
): Record<string, unknown> {
  if (format === 'export_json') return doc;
  const convert = format === 'json' ? toClean : toEncoded;
  for (const key of Object.keys(doc)) doc[key] = convert(doc[key]);
  return doc;
}

const INTEGER = /^-?[0-9]+$/;

/** A one-key `{"$float"|"$bytes": string}` object's key, else undefined. */
function encodedKey(value: Record<string, unknown>): '$float' | '$bytes' | undefined {
  let only: string | undefined;
  for (const key in value) {
    if (only !== undefined) return undefined;
    only = key;
  }
  if ((only === '$float' || only === '$bytes') && typeof value[only] === 'string') return only;
  return undefined;
}

/** `json` (clean): int64 → decimal string, bytes → base64 string, NaN/±inf → their names. */
function toClean(value: unknown): unknown {
  if (isLosslessNumber(value)) return INTEGER.test(value.value) ? value.value : value;
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = toClean(value[i]);
    return value;
  }
  const record = value as Record<string, unknown>;
  const encoded = encodedKey(record);
  if (encoded === '$bytes') return record.$bytes;
  if (encoded === '$float') return cleanFloat(readFloat(record.$float as string));
  for (const key of Object.keys(record)) record[key] = toClean(record[key]);
  return record;
}

/** `convex_encoded_json`: int64 → `{"$integer"}`, −0.0 → `{"$float"}`; `$bytes`/`$float` stay. */
function toEncoded(value: unknown): unknown {
  if (isLosslessNumber(value)) {
    if (INTEGER.test(value.value)) return { $integer: int64Base64(value.value) };
    return Object.is(Number(value.value), -0) ? { $float: floatBase64(-0) } : value;
  }
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = toEncoded(value[i]);
    return value;
  }
  const record = value as Record<string, unknown>;
  if (encodedKey(record) !== undefined) return record;
  for (const key of Object.keys(record)) record[key] = toEncoded(record[key]);
  return record;
}

function readFloat(base64: string): number {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length !== 8) throw new Error(`$float must hold 8 bytes, got ${bytes.length}`);
  return bytes.readDoubleLE(0);
}

/** Clean JSON's spelling of a float that export_json had to encode (§2 table). */
function cleanFloat(x: number): unknown {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  // Not sent for finite values; keep a float's text (with `.0`) should it ever be.
  const text = Object.is(x, -0) ? '-0.0' : String(x);
  return new LosslessNumber(/[.eE]/.test(text) ? text : `${text}.0`);
}

function int64Base64(decimal: string): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64LE(BigInt(decimal));
  return bytes.toString('base64');
}

function floatBase64(x: number): string {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(x);
  return bytes.toString('base64');
}
