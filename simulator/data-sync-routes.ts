import { randomUUID } from 'node:crypto';
import { isLosslessNumber } from 'lossless-json';
import { extractIdentity, requireExportAccess } from './auth.js';
import { cursorFromDeltas, nextSyncPage, type SyncPage, type SyncStatus } from './data-sync.js';
import { openCursor, sealCursor } from './data-sync-cursor.js';
import {
  json,
  missingField,
  type RouteContext,
  type RouteResponse,
  readJsonBody,
  requireObject,
} from './request.js';
import { readDataSyncSelection } from './selection.js';
import { SimError } from './sim-error.js';
import { byteOrder, writeFields } from './values.js';

const badJson = (message: string) =>
  new SimError(
    400,
    'BadJsonBody',
    `Failed to deserialize the JSON body into the target type: ${message}`,
  );

/**
 * Identity, then the JSON body (its types and the selection's shape), then the caller checks the
 * plan flag and `ViewData` (axum's extractor order); the selection's names come after the cursor.
 */
function readBody(ctx: RouteContext) {
  const identity = extractIdentity(ctx.headers, ctx.query, ctx.keys);
  const body = requireObject(readJsonBody(ctx, { lossless: true }), '(root)');
  return { identity, body, selection: readDataSyncSelection(body.selection) };
}

/** `airbyte-` / `fivetran-` by the Convex-Client name (docs/convex-api.md §1.5), else none. */
function syncIdPrefix(ctx: RouteContext): string {
  const client = ctx.headers['convex-client'];
  const name = typeof client === 'string' ? client.toLowerCase() : '';
  if (name.startsWith('airbyte-export-')) return 'airbyte-';
  if (name.startsWith('fivetran-import-') || name.startsWith('fivetran-export-'))
    return 'fivetran-';
  return '';
}

function statusJson(status: SyncStatus): string {
  return status.type === 'snapshotting'
    ? '{"type":"snapshotting"}'
    : `{"type":"${status.type}","snapshotTs":${status.snapshotTs}}`;
}

/** The progress list_active_syncs shows: the page status plus counts (ours, not the backend's exact set). */
function progressJson(page: SyncPage): string {
  const { cursor, status, totalTables } = page;
  const current = cursor.inProgress;
  if (status.type !== 'snapshotting' || !current) {
    return `${statusJson(status).slice(0, -1)},"totalTables":${totalTables},"numDocumentsSynced":${cursor.docsSynced}}`;
  }
  return JSON.stringify({
    type: 'snapshotting',
    numTablesSynced: cursor.synced.length,
    totalTables,
    currentComponent: current.component,
    currentTable: current.table,
    numDocumentsInCurrentTable: current.docsInTable,
    numDocumentsSynced: cursor.docsSynced,
  });
}

function pageJson(page: SyncPage, nextCursor: string, selectionColumns: ColumnsOf): string {
  const truncates = page.truncates.map(
    (t) => `{"component":${JSON.stringify(t.component)},"table":${JSON.stringify(t.table)}}`,
  );
  const values = page.entries.map((e) => {
    const head = `"component":${JSON.stringify(e.tablet.component)},"table":${JSON.stringify(e.tablet.name)},"ts":${e.ts}`;
    if (e.value === null) return `{${head},"deleted":true,"value":{"_id":${JSON.stringify(e.id)}}}`;
    const columns = selectionColumns(e.tablet.component, e.tablet.name);
    const keys = Object.keys(e.value).sort(byteOrder);
    const value = writeFields(e.value, columns ? keys.filter(columns) : keys, 'export');
    return `{${head},"deleted":false,"value":${value}}`;
  });
  return `{"status":${statusJson(page.status)},"truncates":[${truncates.join(',')}],"values":[${values.join(',')}],"syncId":${JSON.stringify(page.cursor.syncId)},"pagination":{"hasMore":true,"nextCursor":${JSON.stringify(nextCursor)}}}`;
}

type ColumnsOf = (component: string, table: string) => ((field: string) => boolean) | undefined;

/** `POST /api/v1/data/sync`: one page; `hasMore` is always true, the client paces by `status`. */
export function dataSync(ctx: RouteContext): RouteResponse {
  const { identity, body, selection: checkedSelection } = readBody(ctx);
  const rawCursor = body.cursor;
  if (rawCursor !== undefined && rawCursor !== null && typeof rawCursor !== 'string')
    throw badJson('cursor: invalid type, expected a string');
  requireExportAccess(identity, ctx.deployment.knobs);
  const state = ctx.deployment.dataSync;
  const cursor = typeof rawCursor === 'string' ? openCursor(rawCursor, state.cursorKey) : undefined;
  const selection = checkedSelection();
  const prefix = syncIdPrefix(ctx);
  const page = nextSyncPage(ctx.deployment, cursor, selection, () => `${prefix}${randomUUID()}`);
  const nextCursor = sealCursor(page.cursor, state.cursorKey);
  state.record({
    syncId: page.cursor.syncId,
    lastUpdatedMs: Number(ctx.deployment.now() / 1_000_000n),
    statusJson: progressJson(page),
  });
  return json(pageJson(page, nextCursor, selection.columns));
}

const LIMIT_DEFAULT = 50;
const INT64_MAX = 2n ** 63n - 1n;
const LIMIT_MAX = 100;

function listCursor(raw: string | null): { ms: number; id: string } | undefined {
  if (raw === null) return undefined;
  try {
    const { ms, id } = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    if (Number.isSafeInteger(ms) && typeof id === 'string') return { ms: ms as number, id };
  } catch {
    // falls through to the refusal below
  }
  throw new SimError(400, 'InvalidCursor', 'Failed to parse cursor');
}

/** `GET /api/v1/data/list_active_syncs`: syncs with a page in the last 3 days, newest first. */
export function listActiveSyncs(ctx: RouteContext): RouteResponse {
  const rawLimit = ctx.query.get('limit');
  if (rawLimit !== null && !/^[0-9]+$/.test(rawLimit)) {
    throw new SimError(
      400,
      'BadQueryArgs',
      'Failed to deserialize query string: limit: invalid digit found in string',
    );
  }
  requireExportAccess(extractIdentity(ctx.headers, ctx.query, ctx.keys), ctx.deployment.knobs);
  const limit = rawLimit === null ? LIMIT_DEFAULT : Number(rawLimit);
  if (limit < 1 || limit > LIMIT_MAX) {
    throw new SimError(
      400,
      'LimitOutOfRange',
      `The limit for listing active syncs must be between 1 and ${LIMIT_MAX}`,
    );
  }
  const after = listCursor(ctx.query.get('cursor'));
  let rows = ctx.deployment.dataSync.active(Number(ctx.deployment.now() / 1_000_000n));
  if (after) {
    rows = rows.filter(
      (r) => r.lastUpdatedMs < after.ms || (r.lastUpdatedMs === after.ms && r.syncId > after.id),
    );
  }
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  const hasMore = rows.length > limit && last !== undefined;
  const syncs = page.map(
    (r) =>
      `{"syncId":${JSON.stringify(r.syncId)},"lastUpdated":${r.lastUpdatedMs},"status":${r.statusJson}}`,
  );
  const next =
    hasMore && last
      ? `,"nextCursor":${JSON.stringify(Buffer.from(JSON.stringify({ ms: last.lastUpdatedMs, id: last.syncId })).toString('base64url'))}`
      : '';
  return json(`{"syncs":[${syncs.join(',')}],"pagination":{"hasMore":${hasMore}${next}}}`);
}

/** `POST /api/data_sync_cursor_from_deltas`: a Data Sync cursor that continues a legacy delta cursor. */
export function dataSyncCursorFromDeltas(ctx: RouteContext): RouteResponse {
  const { identity, body, selection } = readBody(ctx);
  const raw = body.cursor;
  if (raw === undefined) throw missingField('cursor');
  const text = isLosslessNumber(raw) ? raw.value : '';
  if (!/^-?[0-9]{1,19}$/.test(text) || BigInt(text) > INT64_MAX || BigInt(text) < -INT64_MAX - 1n)
    throw badJson('cursor: invalid type, expected i64');
  requireExportAccess(identity, ctx.deployment.knobs);
  const cursor = cursorFromDeltas(
    ctx.deployment,
    BigInt(text),
    selection(),
    `${syncIdPrefix(ctx)}${randomUUID()}`,
  );
  return json(
    `{"cursor":${JSON.stringify(sealCursor(cursor, ctx.deployment.dataSync.cursorKey))}}`,
  );
}
