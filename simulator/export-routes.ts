import { extractIdentity, requireExportAccess } from './auth.js';
import {
  type DocRecord,
  type LogEntry,
  revisionAt,
  type Tablet,
  upperBound,
} from './deployment.js';
import { decodeDocumentId, minimumDocumentId } from './ids.js';
import { exportArgs, int64Arg, json, type RouteContext, type RouteResponse } from './request.js';
import { parseSelection, type Selection } from './selection.js';
import { SimError } from './sim-error.js';
import {
  byteOrder,
  type Document,
  type Format,
  parseFormat,
  type Value,
  writeFields,
} from './values.js';

/** Order of checks for both export endpoints (docs/convex-api.md §4): args, auth, plan, permission, data, format. */
function authorizedArgs(ctx: RouteContext): Record<string, unknown> {
  if (ctx.method === 'GET') {
    const args = exportArgs(ctx);
    requireExportAccess(extractIdentity(ctx.headers, ctx.query, ctx.keys), ctx.deployment.knobs);
    return args;
  }
  const identity = extractIdentity(ctx.headers, ctx.query, ctx.keys);
  const args = exportArgs(ctx);
  requireExportAccess(identity, ctx.deployment.knobs);
  return args;
}

function formatArg(args: Record<string, unknown>): Format {
  const raw = args.format;
  const format = parseFormat(typeof raw === 'string' ? raw : undefined);
  if (raw !== undefined && typeof raw !== 'string')
    throw new SimError(400, 'BadFormat', 'format param must be one of [`json`].');
  if (!format)
    throw new SimError(
      400,
      'BadFormat',
      `format param must be one of [\`json\`]. Got ${String(raw)}`,
    );
  return format;
}

function documentFields(
  doc: Document,
  columns: ((field: string) => boolean) | undefined,
): string[] {
  const keys = Object.keys(doc).sort(byteOrder);
  return columns ? keys.filter(columns) : keys;
}

function writeRow(
  tablet: Tablet,
  ts: bigint,
  deleted: boolean | undefined,
  doc: Document,
  keys: readonly string[],
  format: Format,
): string {
  const head = `"_component":${JSON.stringify(tablet.component)},"_table":${JSON.stringify(tablet.name)},"_ts":${ts}`;
  const flag = deleted === undefined ? '' : `,"_deleted":${deleted}`;
  const fields = writeFields(doc, keys, format);
  return `{${head}${flag}${fields.length > 2 ? `,${fields.slice(1)}` : '}'}`;
}

const invalidCursor = () =>
  new SimError(
    400,
    'InvalidListSnapshotCursor',
    'Invalid value for the `cursor` argument of list_snapshot. Use a `cursor` returned by a previous list_snapshot call, and treat it as an opaque value.',
  );

function parseSnapshotCursor(raw: unknown): { tablet: string; internalHex: string } | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') throw invalidCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalidCursor();
  }
  const { tablet, id } = (parsed ?? {}) as { tablet?: unknown; id?: unknown };
  if (typeof tablet !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(tablet) || typeof id !== 'string')
    throw invalidCursor();
  const decoded = decodeDocumentId(id);
  if (!decoded) throw invalidCursor();
  return { tablet, internalHex: decoded.internalHex };
}

/**
 * One table per page, `_id` order within it, at most `snapshotListLimit` documents; a table's end
 * always ends the page, so empty pages with `hasMore: true` happen (docs/convex-api.md §4.1).
 */
export function listSnapshot(ctx: RouteContext): RouteResponse {
  const deployment = ctx.deployment;
  const args = authorizedArgs(ctx);
  const fromQuery = ctx.method === 'GET';
  const requested = int64Arg(args.snapshot, 'snapshot', fromQuery);
  const readTs = deployment.readTs();
  const snapshot = requested ?? readTs;
  if (snapshot > readTs)
    throw new SimError(400, 'SnapshotTooNew', `Snapshot value ${snapshot} is in the future.`);
  const oldest = deployment.now() - BigInt(deployment.knobs.snapshotMaxAgeSeconds) * 1_000_000_000n;
  if (snapshot < oldest)
    throw new SimError(400, 'SnapshotTooOld', `Snapshot value ${snapshot} is too far in the past.`);
  const cursor = parseSnapshotCursor(args.cursor);
  const selection = parseSelection(args);
  const tablets = deployment
    .tabletsAt(snapshot)
    .filter((t) => selection.includes(t.component, t.name));
  const format = formatArg(args);

  const rows: string[] = [];
  let next: { tablet: string; id: string } | null = null;
  let ti = cursor ? tablets.findIndex((t) => t.id >= cursor.tablet) : 0;
  if (ti < 0) ti = tablets.length;
  const tablet = tablets[ti];
  if (tablet) {
    const ids = deployment.sortedIds(tablet);
    const columns = selection.columns(tablet.component, tablet.name);
    let pos = cursor && cursor.tablet === tablet.id ? upperBound(ids, cursor.internalHex) : 0;
    for (; pos < ids.length && next === null; pos++) {
      const record = tablet.docs.get(ids[pos] as string) as DocRecord;
      const rev = revisionAt(record, snapshot);
      if (!rev?.value) continue;
      rows.push(
        writeRow(tablet, rev.ts, undefined, rev.value, documentFields(rev.value, columns), format),
      );
      if (rows.length >= deployment.knobs.snapshotListLimit)
        next = { tablet: tablet.id, id: record.id };
    }
    const following = tablets[ti + 1];
    if (next === null && following)
      next = { tablet: following.id, id: minimumDocumentId(following.tableNumber) };
  }
  const cursorJson = next === null ? 'null' : JSON.stringify(JSON.stringify(next));
  return json(
    `{"values":[${rows.join(',')}],"snapshot":${snapshot},"cursor":${cursorJson},"hasMore":${next !== null}}`,
  );
}

/**
 * Every revision after the exclusive cursor, ascending. The row limit counts rows read (system and
 * unselected ones too) and rows returned, and a page always runs to the end of its last timestamp.
 */
export function documentDeltas(ctx: RouteContext): RouteResponse {
  const deployment = ctx.deployment;
  const args = authorizedArgs(ctx);
  const cursor = int64Arg(args.cursor, 'cursor', ctx.method === 'GET');
  if (cursor === undefined) {
    throw new SimError(
      400,
      'DocumentDeltasCursorRequired',
      '/api/document_deltas requires a cursor',
    );
  }
  const oldest = deployment.now() - BigInt(deployment.knobs.retentionSeconds) * 1_000_000_000n;
  if (cursor < oldest) {
    throw new SimError(
      400,
      'InvalidWindowToReadDocuments',
      `Trying to synchronize from timestamp ${cursor}, which is older than the database’s retention window. This may happen if you paused your Fivetran or Airbyte connector for a long period of time. Please perform a full sync of the connector.`,
    );
  }
  const selection = parseSelection(args);
  const readTs = deployment.readTs();
  const limit = deployment.knobs.documentDeltasLimit;
  const picked: LogEntry[] = [];
  let read = 0;
  let lastTs: bigint | undefined;
  let hasMore = false;
  const log = deployment.log;
  for (let i = deployment.firstLogIndexAfter(cursor); i < log.length; i++) {
    const entry = log[i] as LogEntry;
    if (entry.ts > readTs) break;
    if ((read >= limit || picked.length >= limit) && entry.ts !== lastTs) {
      hasMore = true;
      break;
    }
    read++;
    lastTs = entry.ts;
    const tablet = entry.record.tablet;
    if (tablet.system || tablet.droppedTs !== undefined) continue;
    if (selection.includes(tablet.component, tablet.name)) picked.push(entry);
  }
  const limitReached = read >= limit || picked.length >= limit;
  const nextCursor = hasMore || limitReached ? (lastTs as bigint) : readTs;
  const format = formatArg(args);
  const rows = picked.map((entry) => deltaRow(entry, selection, format));
  return json(`{"values":[${rows.join(',')}],"cursor":${nextCursor},"hasMore":${hasMore}}`);
}

function deltaRow(entry: LogEntry, selection: Selection, format: Format): string {
  const tablet = entry.record.tablet;
  if (entry.value === null) {
    return writeRow(tablet, entry.ts, true, { _id: entry.record.id }, ['_id'], format);
  }
  const columns = selection.columns(tablet.component, tablet.name);
  return writeRow(
    tablet,
    entry.ts,
    false,
    entry.value,
    documentFields(entry.value, columns),
    format,
  );
}

function boolQuery(query: URLSearchParams, name: string): boolean {
  const raw = query.get(name);
  if (raw === null) return false;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new SimError(
    400,
    'BadQueryArgs',
    `Failed to deserialize query string: ${name}: provided string was not \`true\` or \`false\``,
  );
}

type Schema = Record<string, unknown>;

/** Leaf schemas as the backend's json_schemas module writes them, per format. */
const int64Schema = (format: Format): Schema =>
  format === 'clean'
    ? { $description: 'int64 represented as base10 string', type: 'string' }
    : format === 'encoded'
      ? {
          $description: 'int64',
          type: 'object',
          properties: {
            $integer: { $description: 'int64 -> little-endian -> base64', type: 'string' },
          },
        }
      : { $description: 'int64', type: 'integer' };

const bytesSchema = (format: Format): Schema =>
  format === 'clean'
    ? { $description: 'base64 bytes', type: 'string' }
    : { type: 'object', $description: 'base64 bytes', properties: { $bytes: { type: 'string' } } };

/** A Float64 shape that has held NaN, ±inf or -0: the formats that cannot write it as a number say how. */
function specialFloatSchema(format: Format): Schema {
  const other =
    format === 'clean'
      ? { type: 'string', $description: '-inf, inf, or NaN' }
      : {
          type: 'object',
          // export_json writes -0 as a plain number; only encoded needs $float for it.
          $description: format === 'encoded' ? '-0, -inf, inf, or NaN' : '-inf, inf, or NaN',
          properties: {
            $float: { $description: 'float64 -> little-endian -> base64', type: 'string' },
          },
        };
  return { $description: 'float64', anyOf: [{ type: 'number' }, other] };
}

const isSpecialFloat = (x: number) => !Number.isFinite(x) || Object.is(x, -0);

function schemaOf(value: Value, format: Format): Schema {
  if (value === null) return { type: 'null' };
  switch (typeof value) {
    case 'boolean':
      return { type: 'boolean' };
    case 'string':
      return { type: 'string' };
    case 'number':
      return isSpecialFloat(value) ? specialFloatSchema(format) : { type: 'number' };
    case 'bigint':
      return int64Schema(format);
  }
  if (value instanceof Uint8Array) return bytesSchema(format);
  if (Array.isArray(value))
    return { type: 'array', items: unionOf(value.map((v) => schemaOf(v, format))) };
  return objectSchema([value], format);
}

/**
 * Distinct schemas as an anyOf. Float64 shapes merge as in the backend: one special value
 * anywhere makes the whole field special, so the plain number schema is dropped beside it.
 */
function unionOf(schemas: Schema[]): Schema {
  const byJson = new Map(schemas.map((s) => [JSON.stringify(s), s]));
  if ([...byJson.values()].some((s) => s.$description === 'float64'))
    byJson.delete(JSON.stringify({ type: 'number' }));
  const unique = [...byJson.values()];
  if (unique.length === 0) return {};
  return unique.length === 1 ? (unique[0] as Schema) : { anyOf: unique };
}

function objectSchema(docs: readonly Document[], format: Format, table?: string): Schema {
  // Distinct schemas per field (keyed by their JSON), so a large table costs one pass.
  const fields = new Map<string, Map<string, Schema>>();
  const counts = new Map<string, number>();
  for (const doc of docs) {
    for (const [k, v] of Object.entries(doc)) {
      const schema = schemaOf(v, format);
      const seen = fields.get(k) ?? new Map<string, Schema>();
      seen.set(JSON.stringify(schema), schema);
      fields.set(k, seen);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  const properties: Record<string, Schema> = {};
  for (const key of [...fields.keys()].sort(byteOrder))
    properties[key] = unionOf([...(fields.get(key)?.values() ?? [])]);
  if (table !== undefined) {
    properties._id = { $description: `Id(${table})`, type: 'string' };
    properties._creationTime = { type: 'number' };
  }
  const required = [...fields.keys()].filter((k) => counts.get(k) === docs.length).sort(byteOrder);
  if (table !== undefined)
    for (const k of ['_creationTime', '_id']) if (!required.includes(k)) required.push(k);
  return {
    type: 'object',
    properties,
    additionalProperties: false,
    required: required.sort(byteOrder),
  };
}

/** Draft-07 schemas inferred from each table's live documents (docs/convex-api.md §4.3). */
export function jsonSchemas(ctx: RouteContext): RouteResponse {
  const deltaSchema = boolQuery(ctx.query, 'deltaSchema');
  const byComponent = boolQuery(ctx.query, 'byComponent');
  requireExportAccess(extractIdentity(ctx.headers, ctx.query, ctx.keys), ctx.deployment.knobs);
  const format = formatArg(Object.fromEntries(ctx.query.entries()));
  const deployment = ctx.deployment;
  const out: Record<string, Record<string, Schema>> = {};
  for (const tablet of deployment.tabletsAt(deployment.readTs())) {
    const schema = objectSchema(
      deployment.documents(tablet.name, tablet.component),
      format,
      tablet.name,
    );
    schema.$schema = 'http://json-schema.org/draft-07/schema#';
    if (deltaSchema) {
      Object.assign(schema.properties as Schema, {
        _table: { type: 'string' },
        _component: { type: 'string' },
        _ts: { type: 'integer' },
        _deleted: { type: 'boolean' },
      });
    }
    const group = byComponent ? tablet.component : '';
    out[group] = { ...out[group], [tablet.name]: schema };
  }
  return json(JSON.stringify(byComponent ? out : (out[''] ?? {})));
}

export function testStreamingExportConnection(ctx: RouteContext): RouteResponse {
  requireExportAccess(extractIdentity(ctx.headers, ctx.query, ctx.keys), ctx.deployment.knobs);
  return json('null');
}

export function getTableColumnNames(ctx: RouteContext): RouteResponse {
  requireExportAccess(extractIdentity(ctx.headers, ctx.query, ctx.keys), ctx.deployment.knobs);
  const deployment = ctx.deployment;
  const byComponent: Record<string, { name: string; columns: string[] }[]> = {};
  for (const tablet of deployment.tabletsAt(deployment.readTs())) {
    const columns = new Set(['_creationTime', '_id']);
    for (const doc of deployment.documents(tablet.name, tablet.component))
      for (const k of Object.keys(doc)) columns.add(k);
    const group = byComponent[tablet.component] ?? [];
    group.push({ name: tablet.name, columns: [...columns].sort(byteOrder) });
    byComponent[tablet.component] = group;
  }
  return json(JSON.stringify({ byComponent }));
}
