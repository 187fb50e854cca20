/**
 * Convex values as the simulator stores them: Float64 is `number`, Int64 is `bigint`, Bytes is
 * `Uint8Array`. Writers below reproduce the three wire formats of docs/convex-api.md §2.
 */
export type Value = null | boolean | number | bigint | string | Uint8Array | Value[] | ValueObject;
export interface ValueObject {
  [key: string]: Value;
}
export type Document = ValueObject;

export type Format = 'clean' | 'encoded' | 'export';

/** Accepted `format` strings (crates/value/src/export.rs); anything else is a 400 BadFormat. */
export function parseFormat(raw: string | undefined): Format | undefined {
  switch (raw ?? 'json') {
    case 'json':
    case 'convex_clean_json':
      return 'clean';
    case 'convex_encoded_json':
    case 'convex_json':
      return 'encoded';
    case 'export_json':
      return 'export';
    default:
      return undefined;
  }
}

function float64Base64(x: number): string {
  const buf = Buffer.alloc(8);
  buf.writeDoubleLE(x);
  return buf.toString('base64');
}

function int64Base64(x: bigint): string {
  const buf = Buffer.alloc(8);
  buf.writeBigInt64LE(x);
  return buf.toString('base64');
}

/**
 * Float text as Rust's serde_json (ryu) prints it: integral values keep `.0`, exponent form
 * outside 1e-5..1e16 (`1e21`, `1.5e-7`). JS's toExponential() gives the same shortest digits.
 */
export function formatFloat(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa = '', exp = '0'] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const point = Number(exp) + 1; // position of the decimal point relative to the digits
  let body: string;
  if (point >= digits.length && point <= 16) {
    body = `${digits}${'0'.repeat(point - digits.length)}.0`;
  } else if (point > 0 && point <= 16) {
    body = `${digits.slice(0, point)}.${digits.slice(point)}`;
  } else if (point > -5 && point <= 0) {
    body = `0.${'0'.repeat(-point)}${digits}`;
  } else {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    body = `${digits[0]}${frac}e${point - 1}`;
  }
  return sign + body;
}

function writeFloat(x: number, format: Format): string {
  if (Number.isFinite(x) && !(format === 'encoded' && Object.is(x, -0))) return formatFloat(x);
  if (format === 'clean') {
    if (Number.isNaN(x)) return '"NaN"';
    if (Number.isFinite(x)) return formatFloat(x);
    return x > 0 ? '"Infinity"' : '"-Infinity"';
  }
  return `{"$float":"${float64Base64(x)}"}`;
}

/** Serialises a value in one of Convex's formats. Object keys come out in byte order (BTreeMap). */
export function writeValue(value: Value, format: Format): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return writeFloat(value, format);
    case 'bigint':
      if (format === 'clean') return `"${value}"`;
      if (format === 'export') return value.toString();
      return `{"$integer":"${int64Base64(value)}"}`;
  }
  if (value instanceof Uint8Array) {
    const b64 = Buffer.from(value).toString('base64');
    return format === 'clean' ? `"${b64}"` : `{"$bytes":"${b64}"}`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => writeValue(v, format)).join(',')}]`;
  return writeFields(value, Object.keys(value).sort(byteOrder), format);
}

export function writeFields(obj: ValueObject, keys: readonly string[], format: Format): string {
  const parts: string[] = [];
  for (const key of keys) {
    const v = obj[key];
    if (v !== undefined) parts.push(`${JSON.stringify(key)}:${writeValue(v, format)}`);
  }
  return `{${parts.join(',')}}`;
}

export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Decodes Convex's encoded JSON (`$integer`, `$float`, `$bytes`) as sent to the admin route;
 * plain JSON numbers are Float64, as in Convex itself.
 */
export function decodeEncodedJson(json: unknown, path = '$'): Value {
  if (
    json === null ||
    typeof json === 'boolean' ||
    typeof json === 'string' ||
    typeof json === 'number'
  ) {
    return json;
  }
  if (Array.isArray(json)) return json.map((v, i) => decodeEncodedJson(v, `${path}[${i}]`));
  if (typeof json === 'object') {
    const entries = Object.entries(json as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, raw] = entries[0] as [string, unknown];
      if (key === '$integer' || key === '$float' || key === '$bytes') {
        if (typeof raw !== 'string') throw new Error(`${path}.${key} must be a base64 string`);
        const buf = Buffer.from(raw, 'base64');
        if (key === '$bytes') return new Uint8Array(buf);
        if (buf.length !== 8) throw new Error(`${path}.${key} must encode 8 bytes`);
        return key === '$integer' ? buf.readBigInt64LE() : buf.readDoubleLE();
      }
    }
    const out: ValueObject = {};
    for (const [k, v] of entries) out[k] = decodeEncodedJson(v, `${path}.${k}`);
    return out;
  }
  throw new Error(`${path} is not a JSON value`);
}

/** Encodes a value as Convex encoded JSON (for the admin route's responses and test helpers). */
export function encodeInt64(x: bigint): { $integer: string } {
  return { $integer: int64Base64(x) };
}

/** Approximate stored size, for the 1 MiB document limit. */
export function valueSize(value: Value): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'number' || typeof value === 'bigint') return 9;
  if (typeof value === 'string') return Buffer.byteLength(value) + 2;
  if (value instanceof Uint8Array) return value.length + 2;
  if (Array.isArray(value)) return value.reduce<number>((n, v) => n + valueSize(v), 2);
  let n = 2;
  for (const [k, v] of Object.entries(value)) n += Buffer.byteLength(k) + 1 + valueSize(v);
  return n;
}

export function nestingDepth(value: Value): number {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  let max = 0;
  for (const c of children) max = Math.max(max, nestingDepth(c));
  return max + 1;
}
