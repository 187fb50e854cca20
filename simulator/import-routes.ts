import { extractIdentity, requireImportAccess } from './auth.js';
import { type Deployment, primaryKeyOf, type Transaction } from './deployment.js';
import { isKeptIdentifier, rewriteName } from './names.js';
import {
  empty,
  json,
  missingField,
  type RouteContext,
  type RouteResponse,
  readJsonBody,
  requireObject,
} from './request.js';
import { SimError, untaggedError } from './sim-error.js';
import type { Document, Value } from './values.js';

/** Identity first (a bad key is 401 before the body is read), then the body, then the permission. */
function authorizedBody(ctx: RouteContext): Record<string, unknown> {
  const identity = extractIdentity(ctx.headers, ctx.query, ctx.keys);
  const body = requireObject(readJsonBody(ctx), '(root)');
  requireImportAccess(identity);
  return body;
}

function stringArray(value: unknown, field: string): string[] {
  if (value === undefined) throw missingField(field);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new SimError(
      400,
      'BadJsonBody',
      `Failed to deserialize the JSON body into the target type: ${field}: invalid type, expected a sequence of strings`,
    );
  }
  return value;
}

function keyPaths(value: unknown, where: string): string[][] {
  if (
    !Array.isArray(value) ||
    !value.every((p) => Array.isArray(p) && p.every((s) => typeof s === 'string'))
  ) {
    throw new SimError(
      400,
      'BadJsonBody',
      `Failed to deserialize the JSON body into the target type: ${where}: invalid type, expected a sequence of field paths`,
    );
  }
  return value as string[][];
}

export function addPrimaryKeyIndexes(ctx: RouteContext): RouteResponse {
  const body = authorizedBody(ctx);
  if (body.indexes === undefined) throw missingField('indexes');
  const indexes = requireObject(body.indexes, 'indexes');
  const planned: [string, string[][]][] = [];
  for (const [table, raw] of Object.entries(indexes)) {
    const fields = keyPaths(raw, `indexes.${table}`);
    if (fields.length === 0)
      throw new SimError(400, 'EmptyPrimaryKey', 'Primary keys cannot be empty');
    for (const path of fields) {
      for (const segment of path) {
        if (segment === '_creationTime') {
          throw new SimError(
            400,
            'IndexFieldsContainCreationTime',
            'Index fields cannot contain _creationTime; it is added automatically.',
          );
        }
        if (segment.startsWith('_')) {
          throw new SimError(
            400,
            'IndexFieldNameReserved',
            `Index field names cannot start with an underscore: ${segment}`,
          );
        }
        if (!isKeptIdentifier(segment)) {
          throw new SimError(
            400,
            'InvalidPrimaryKey',
            `Invalid primary key: Identifiers must start with a letter and can only contain letters, digits, and underscores. ${JSON.stringify(fields)}`,
          );
        }
      }
    }
    planned.push([rewriteName(table), fields]);
  }
  for (const [table, fields] of planned) ctx.deployment.addPrimaryKeyIndex(table, fields);
  return empty();
}

/** A GET with a JSON body; each poll while an index backfills counts down its readiness. */
export function primaryKeyIndexesReady(ctx: RouteContext): RouteResponse {
  const body = authorizedBody(ctx);
  const tables = stringArray(body.tables, 'tables').map(rewriteName);
  let ready = true;
  for (const table of tables) {
    const index = ctx.deployment.tablet('', table)?.pkIndex;
    if (!index)
      throw new SimError(400, 'MissingIndex', `Missing index: ${table}._by_airbyte_primary_key`);
    if (index.pollsUntilReady > 0) {
      index.pollsUntilReady--;
      ready = false;
    }
  }
  return json(JSON.stringify({ indexesReady: ready }));
}

export function clearTables(ctx: RouteContext): RouteResponse {
  const body = authorizedBody(ctx);
  ctx.deployment.clearTables(stringArray(body.tableNames, 'tableNames').map(rewriteName));
  return empty();
}

/** Kept only so old clients get Convex's answer; never checks the permission. */
export function replaceTables(ctx: RouteContext): RouteResponse {
  const body = requireObject(readJsonBody(ctx), '(root)');
  if (body.tableNames === undefined) throw missingField('tableNames');
  requireObject(body.tableNames, 'tableNames');
  throw new SimError(
    400,
    'OverwriteNotSupported',
    'Overwrite sync mode is not supported. Please use a different sync mode.',
  );
}

function rewriteKeys(value: unknown): Value {
  if (value === null || typeof value !== 'object') return value as Value;
  if (Array.isArray(value)) return value.map(rewriteKeys);
  const out: Record<string, Value> = {};
  for (const [key, v] of Object.entries(value)) {
    let name = rewriteName(key);
    for (let tries = 0; name in out; tries++) {
      if (tries >= 3) throw untaggedError();
      name = `source_${name}`;
    }
    out[name] = rewriteKeys(v);
  }
  return out;
}

interface ImportRecord {
  readonly table: string;
  readonly data: Document;
  readonly deleted: boolean;
}

function toImportRecord(message: { tableName: string; data: unknown }): ImportRecord {
  if (typeof message.data !== 'object' || message.data === null || Array.isArray(message.data))
    throw untaggedError();
  const data = rewriteKeys(message.data) as Document;
  const flag = data.source_ab_cdc_deleted_at;
  const deleted = flag !== undefined && flag !== null;
  for (const key of Object.keys(data)) if (key.startsWith('source_ab_cdc')) delete data[key];
  return { table: rewriteName(message.tableName), data, deleted };
}

function missingKeyField(data: Document, fields: readonly (readonly string[])[]): string {
  for (const path of fields) if (primaryKeyOf(data, [path]) === undefined) return path.join('.');
  return fields.map((p) => p.join('.')).join(', ');
}

/**
 * Applies records in message order; commits every `transactionMaxWrites` writes and carries on in
 * a new transaction, so a later failure leaves earlier commits in place (docs/convex-api.md §6.5).
 */
export function importAirbyteRecords(ctx: RouteContext): RouteResponse {
  const body = authorizedBody(ctx);
  if (body.tables === undefined) throw missingField('tables');
  if (body.messages === undefined) throw missingField('messages');
  const tables = requireObject(body.tables, 'tables');
  if (!Array.isArray(body.messages)) throw missingField('messages');
  const streams = new Map<string, string[][] | null>();
  const rawStreams: [string, unknown][] = [];
  for (const [name, raw] of Object.entries(tables)) {
    const stream = requireObject(raw, `tables.${name}`);
    if (!('jsonSchema' in stream)) throw missingField('jsonSchema');
    rawStreams.push([name, stream.primaryKey]);
  }
  const messages = body.messages.map((m, i) => {
    const message = requireObject(m, `messages[${i}]`);
    if (typeof message.tableName !== 'string') throw missingField('tableName');
    if (!('data' in message)) throw missingField('data');
    return { tableName: message.tableName, data: message.data };
  });
  const records = messages.map(toImportRecord);
  for (const [name, pk] of rawStreams) {
    if (pk === undefined || pk === null) {
      streams.set(rewriteName(name), null);
      continue;
    }
    const fields = keyPaths(pk, `tables.${name}.primaryKey`);
    if (fields.length === 0)
      throw new SimError(400, 'EmptyPrimaryKey', 'Primary keys cannot be empty');
    if (!fields.every((p) => p.every(isKeptIdentifier))) throw untaggedError();
    streams.set(rewriteName(name), fields);
  }
  const failAfter = ctx.fault?.kind === 'partialImport' ? ctx.fault.records : undefined;
  applyRecords(ctx.deployment, streams, records, failAfter);
  return empty();
}

function applyRecords(
  deployment: Deployment,
  streams: ReadonlyMap<string, string[][] | null>,
  records: readonly ImportRecord[],
  failAfter: number | undefined,
): void {
  const { transactionMaxWrites, transactionMaxBytes } = deployment.knobs;
  let i = 0;
  while (i < records.length) {
    deployment.transact((tx) => {
      const overlay = new Map<string, string | null>();
      while (
        i < records.length &&
        tx.writeCount < transactionMaxWrites &&
        tx.writtenBytes < transactionMaxBytes
      ) {
        if (failAfter !== undefined && i >= failAfter) return;
        applyRecord(deployment, tx, streams, overlay, records[i] as ImportRecord);
        i++;
      }
    });
    if (failAfter !== undefined && i >= failAfter) throw untaggedError();
  }
}

function applyRecord(
  deployment: Deployment,
  tx: Transaction,
  streams: ReadonlyMap<string, string[][] | null>,
  overlay: Map<string, string | null>,
  record: ImportRecord,
): void {
  const { table, data, deleted } = record;
  if (!streams.has(table))
    throw new SimError(400, 'MissingStream', `Missing stream for table ${table}`);
  const fields = streams.get(table);
  if (!fields) {
    tx.insert(table, data); // append mode: a CDC delete becomes an ordinary row
    return;
  }
  const index = deployment.tablet('', table)?.pkIndex;
  if (!index || JSON.stringify(index.fields) !== JSON.stringify(fields)) {
    throw new SimError(400, 'MissingIndex', `Missing index: ${table}._by_airbyte_primary_key`);
  }
  if (index.pollsUntilReady > 0) {
    throw new SimError(
      400,
      'IndexBackfilling',
      `Index ${table}._by_airbyte_primary_key is still backfilling`,
    );
  }
  const key = primaryKeyOf(data, fields);
  if (key === undefined) {
    throw new SimError(
      400,
      'MissingPrimaryKeyValue',
      `Missing value for primary key field: ${missingKeyField(data, fields)}`,
    );
  }
  const overlayKey = `${table}\u0000${key}`;
  const existing = overlay.has(overlayKey) ? overlay.get(overlayKey) : index.byKey.get(key)?.id;
  if (existing) {
    if (deleted) {
      tx.delete(existing);
      overlay.set(overlayKey, null);
    } else {
      tx.replace(existing, data);
    }
    return;
  }
  // Convex inserts even for a delete of a key it does not find (docs/convex-api.md §6.5).
  overlay.set(overlayKey, tx.insert(table, data));
}
