import { isLosslessNumber, parseLossless } from '../values/lossless-json.js';

/** An SQS message body (docs/import.md): one document to upsert into, or delete from, a table. */
export interface ImportMessage {
  readonly table: string;
  /** Default `upsert`. `delete` needs a table with a primary key. */
  readonly op?: 'upsert' | 'delete';
  readonly data: Record<string, unknown>;
}

/** Per-table settings from BRIDGE_IMPORT_TABLES. */
export interface ImportTableConfig {
  /** Field paths, e.g. [["email"]] or [["org","id"]]. Absent: append mode (every message inserts). */
  readonly primaryKey?: readonly (readonly string[])[];
}

export interface ImportSettings {
  readonly tables: Readonly<Record<string, ImportTableConfig>>;
  /** `append`: tables missing from `tables` are accepted in append mode; `reject`: quarantined. */
  readonly unknownTables: 'append' | 'reject';
}

/** A message that passed validation, ready to send. */
export interface ValidMessage {
  readonly table: string;
  readonly op: 'upsert' | 'delete';
  readonly data: Record<string, unknown>;
  readonly primaryKey: readonly (readonly string[])[] | undefined;
  /** Field paths Convex will rename (`_id` → `source_id`), for the batch log. */
  readonly renames: readonly string[];
}

export type RejectionCode =
  | 'EmptyBody'
  | 'InvalidJson'
  | 'NotAnObject'
  | 'UnknownMessageField'
  | 'MissingTable'
  | 'InvalidTableName'
  | 'UnknownTable'
  | 'InvalidOp'
  | 'MissingData'
  | 'DataNotObject'
  | 'DeleteWithoutPrimaryKey'
  | 'MissingPrimaryKeyField'
  | 'InvalidPrimaryKeyValue'
  | 'DocumentTooLarge'
  | 'NestingTooDeep'
  | 'TooManyFields'
  | 'ArrayTooLong'
  | 'FieldNameTooLong'
  | 'ReservedFieldName'
  | 'UnsafeInteger'
  | 'ConvexRejected';

export interface Rejection {
  readonly code: RejectionCode;
  /** Names the problem and where it is (a field path), never the document's values. */
  readonly message: string;
  readonly table?: string;
}

export const MAX_DOCUMENT_BYTES = 1024 * 1024;
const MAX_DEPTH = 16;
const MAX_FIELDS = 1024;
const MAX_ARRAY = 8192;
const MAX_FIELD_NAME = 1024;
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const KEPT_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const reject = (
  code: RejectionCode,
  message: string,
  table?: string,
): { rejection: Rejection } => ({
  rejection: table === undefined ? { code, message } : { code, message, table },
});

/** JSON kind for messages; lossless numbers are objects in JS but numbers in JSON. */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (isLosslessNumber(v)) return 'number';
  return typeof v;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !isLosslessNumber(v);

/** Checks one body against the contract and Convex's limits; nothing here calls Convex. */
export function validateMessage(
  body: string,
  settings: ImportSettings,
): { message: ValidMessage } | { rejection: Rejection } {
  if (body.trim() === '') return reject('EmptyBody', 'message body is empty');
  let parsed: unknown;
  try {
    parsed = parseLossless(body);
  } catch (error) {
    return reject('InvalidJson', `message body is not JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(parsed)) {
    return reject(
      'NotAnObject',
      `message body must be a JSON object with table and data, got ${kindOf(parsed)}`,
    );
  }
  const m = parsed;
  const extra = Object.keys(m).filter((k) => k !== 'table' && k !== 'op' && k !== 'data');
  if (extra.length > 0)
    return reject(
      'UnknownMessageField',
      `unknown top-level field(s) ${extra.map((k) => JSON.stringify(k)).join(', ')}; expected table, op, data`,
    );
  if (m.table === undefined) return reject('MissingTable', 'field "table" is missing');
  if (typeof m.table !== 'string')
    return reject('InvalidTableName', `field "table" must be a string, got ${kindOf(m.table)}`);
  const table = m.table;
  if (!TABLE_NAME.test(table)) {
    return reject(
      'InvalidTableName',
      `table "${table.slice(0, 80)}" is not a valid Convex table name (a letter, then up to 63 letters, digits or _)`,
      table.slice(0, 80),
    );
  }
  const config = settings.tables[table];
  if (!config && settings.unknownTables === 'reject') {
    return reject(
      'UnknownTable',
      `table "${table}" is not configured in BRIDGE_IMPORT_TABLES`,
      table,
    );
  }
  const op = m.op ?? 'upsert';
  if (op !== 'upsert' && op !== 'delete')
    return reject(
      'InvalidOp',
      `field "op" must be "upsert" or "delete", got ${JSON.stringify(op).slice(0, 40)}`,
      table,
    );
  if (m.data === undefined) return reject('MissingData', 'field "data" is missing', table);
  if (!isPlainObject(m.data)) {
    return reject('DataNotObject', `field "data" must be an object, got ${kindOf(m.data)}`, table);
  }
  const data = m.data;
  const primaryKey = config?.primaryKey;
  if (op === 'delete' && !primaryKey) {
    return reject(
      'DeleteWithoutPrimaryKey',
      `table "${table}" has no primary key, so a delete would be inserted as a new row by Convex; configure primaryKey or send upserts only`,
      table,
    );
  }
  const problem = inspectValue(data, 'data', 1);
  if (problem) return reject(problem.code, problem.message, table);
  for (const path of primaryKey ?? []) {
    const value = valueAt(data, path);
    const where = `data.${path.join('.')}`;
    if (value === undefined)
      return reject('MissingPrimaryKeyField', `primary key field ${where} is missing`, table);
    if (value === null || (typeof value === 'object' && !isLosslessNumber(value))) {
      return reject(
        'InvalidPrimaryKeyValue',
        `primary key field ${where} must be a string, number or boolean`,
        table,
      );
    }
  }
  const size = Buffer.byteLength(
    JSON.stringify(data, (_, v) => (isLosslessNumber(v) ? Number(v.value) : v)),
  );
  if (size > MAX_DOCUMENT_BYTES)
    return reject(
      'DocumentTooLarge',
      `data is ${size} bytes; Convex documents are limited to ${MAX_DOCUMENT_BYTES}`,
      table,
    );
  return { message: { table, op, data, primaryKey, renames: renamedPaths(data, 'data') } };
}

/** The primary-key values of a validated message, in key order (empty for append tables). */
export function primaryKeyValues(message: ValidMessage): unknown[] {
  return (message.primaryKey ?? []).map((path) => valueAt(message.data, path));
}

function valueAt(data: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = data;
  for (const segment of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || isLosslessNumber(v))
      return undefined;
    v = (v as Record<string, unknown>)[segment];
  }
  return v;
}

function inspectValue(
  value: unknown,
  path: string,
  depth: number,
): { code: RejectionCode; message: string } | undefined {
  if (isLosslessNumber(value)) {
    const text = value.value;
    if (/^-?\d+$/.test(text) && (BigInt(text) > SAFE || BigInt(text) < -SAFE)) {
      return {
        code: 'UnsafeInteger',
        message: `${path} is an integer beyond 2^53 that Convex would store as a rounded float64; send it as a string`,
      };
    }
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > MAX_DEPTH)
    return {
      code: 'NestingTooDeep',
      message: `${path} is nested deeper than Convex's ${MAX_DEPTH} levels`,
    };
  if (Array.isArray(value)) {
    if (value.length > MAX_ARRAY)
      return {
        code: 'ArrayTooLong',
        message: `${path} has ${value.length} elements; Convex allows ${MAX_ARRAY}`,
      };
    for (let i = 0; i < value.length; i++) {
      const p = inspectValue(value[i], `${path}[${i}]`, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  const keys = Object.keys(value);
  if (keys.length > MAX_FIELDS)
    return {
      code: 'TooManyFields',
      message: `${path} has ${keys.length} fields; Convex allows ${MAX_FIELDS}`,
    };
  for (const key of keys) {
    if (key.length > MAX_FIELD_NAME)
      return {
        code: 'FieldNameTooLong',
        message: `a field name in ${path} is ${key.length} characters; Convex allows ${MAX_FIELD_NAME}`,
      };
    // Convex strips every `_ab_cdc*` field and treats `_ab_cdc_deleted_at` as a delete flag.
    if (/^_?ab_cdc/i.test(key) || /^source_ab_cdc/i.test(key)) {
      return {
        code: 'ReservedFieldName',
        message: `${path}.${key} is reserved by Convex's import for change-data-capture flags`,
      };
    }
    const p = inspectValue((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
    if (p) return p;
  }
  return undefined;
}

/** Paths whose names Convex rewrites with `source_` (docs/convex-api.md §6). */
function renamedPaths(value: unknown, path: string, out: string[] = []): string[] {
  if (typeof value !== 'object' || value === null || isLosslessNumber(value)) return out;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) renamedPaths(value[i], `${path}[${i}]`, out);
    return out;
  }
  for (const [key, v] of Object.entries(value)) {
    if (!KEPT_NAME.test(key)) out.push(`${path}.${key}`);
    renamedPaths(v, `${path}.${key}`, out);
  }
  return out;
}
