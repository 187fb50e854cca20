import type { z } from 'zod';
import { ENV } from '../env.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withRetry } from '../retry.js';
import {
  type DeltaCursor,
  type SnapshotCursor,
  type SnapshotTs,
  toDeltaCursor,
  toSnapshotCursor,
  toSnapshotTs,
} from '../values/int64.js';
import { int64Number, parseLossless, stringifyLossless } from '../values/lossless-json.js';
import { CONVEX_CLIENT_HEADER } from '../version.js';
import { type ElementMapper, StreamingObjectParser } from './data-sync-page-parser.js';
import {
  BodyRejectedError,
  nodeStreamingTransport,
  type StreamingTransport,
} from './data-sync-transport.js';
import { type DeployKeyProvider, staticDeployKey } from './deploy-key.js';
import { parseDeploymentUrl, validateDeployKey } from './deployment-url.js';
import {
  type ConvexApiError,
  classifyHttpFailure,
  DataSyncNotServedError,
  FatalConvexError,
  MalformedResponseError,
  ResyncRequiredError,
  RetryableConvexError,
} from './errors.js';
import { nodeHttpTransport, type Transport } from './http-transport.js';
import {
  activeSyncsSchema,
  type DataSyncPage,
  type DataSyncStatus,
  type DeltaPage,
  dataSyncCursorSchema,
  dataSyncPageSchema,
  deltaPageSchema,
  type ExportedDocument,
  errorEnvelopeSchema,
  indexesReadySchema,
  jsonSchemasSchema,
  queryResultSchema,
  type SnapshotPage,
  snapshotPageSchema,
  toDataSyncValue,
  toExportedDocument,
} from './responses.js';

/** The Convex CLI's per-table document count, a system query an admin key may call. */
export const TABLE_SIZE_QUERY = '_system/cli/tableSize:default';

/** `json` is Convex's clean format (int64 as strings); the others keep types invertible. */
export type ValueFormat = 'json' | 'convex_encoded_json' | 'export_json';

/** Which documents an export call reads. Omit for every table of every component. */
export type ExportSelection =
  | { readonly tableName: string; readonly component?: string }
  | { readonly component: string }
  | { readonly selection: Readonly<Record<string, unknown>> };

export interface ConvexClientOptions {
  readonly url: string;
  /**
   * The key itself, or a provider the client asks before each request and, once, for a fresh read
   * when Convex refuses the key: a rotated key then works without a new client.
   */
  readonly deployKey: string | DeployKeyProvider;
  /** Allows http:// to 127.0.0.1/localhost, for the local simulator. */
  readonly allowInsecureLoopback?: boolean;
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  readonly transport?: Transport;
  /**
   * Carries Data Sync pages, whose bodies are parsed as they arrive. Without it they go through
   * `transport` when one is given (a test's stub), else through node:http streaming.
   */
  readonly streamingTransport?: StreamingTransport;
  /** Called before each backoff sleep; for metrics and logs. */
  readonly onRetry?: (info: {
    endpoint: string;
    attempt: number;
    delayMs: number;
    error: ConvexApiError;
  }) => void;
  /** Called when Convex refused the key and the provider was asked to read it again. */
  readonly onKeyRefresh?: (info: { endpoint: string; changed: boolean }) => void;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface CallOptions {
  /** Cancels the call and any pending retry, e.g. when the Lambda budget runs out. */
  readonly signal?: AbortSignal;
}

export interface AirbyteImportRequest {
  readonly tables: Readonly<Record<string, { primaryKey: string[][] | null; jsonSchema: unknown }>>;
  readonly messages: ReadonlyArray<{ tableName: string; data: Readonly<Record<string, unknown>> }>;
}

interface Call {
  readonly endpoint: string;
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly query?: Readonly<Record<string, string>>;
  /** Already-serialised JSON; int64 values must be written as bare integers by the caller. */
  readonly body?: string;
  /** Parse a 2xx body as it arrives (a fresh parser per attempt) instead of gathering it first. */
  readonly stream?: () => StreamingObjectParser;
}

/** A Data Sync selection object (docs/convex-api.md §3): component paths, tables, `_other`. */
export type DataSyncSelection = Readonly<Record<string, unknown>>;

/** One page of `GET /api/v1/data/list_active_syncs`. */
export interface ActiveSyncs {
  readonly syncs: readonly {
    readonly syncId: string;
    /** Epoch milliseconds of the sync's latest page. */
    readonly lastUpdated: number;
    readonly status: Readonly<Record<string, unknown>>;
  }[];
  readonly nextCursor?: string;
}

const DATA_SYNC = '/api/v1/data/sync';
const LIST_ACTIVE_SYNCS = '/api/v1/data/list_active_syncs';
const CURSOR_FROM_DELTAS = '/api/data_sync_cursor_from_deltas';
const DATA_SYNC_ENDPOINTS = new Set([DATA_SYNC, LIST_ACTIVE_SYNCS, CURSOR_FROM_DELTAS]);
/** Any string Convex cannot decrypt as a cursor: the probe's answer is a 400, and no sync begins. */
const PROBE_CURSOR = 'convex-stream-bridge-probe';

/** Typed client for Convex's streaming export and streaming import HTTP APIs. */
export class ConvexClient {
  private readonly origin: URL;
  private readonly keys: DeployKeyProvider;
  /** Every key this client has held, so a rotated-out key is redacted as well as the current one. */
  private readonly seenKeys = new Set<string>();
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly transport: Transport;
  private readonly streamingTransport: StreamingTransport | undefined;
  private readonly options: ConvexClientOptions;

  constructor(options: ConvexClientOptions) {
    this.origin = parseDeploymentUrl(
      options.url,
      options.allowInsecureLoopback ? { allowInsecureLoopback: true } : {},
    );
    if (typeof options.deployKey === 'string') {
      const key = validateDeployKey(options.deployKey);
      this.seenKeys.add(key);
      this.keys = staticDeployKey(key);
    } else {
      this.keys = options.deployKey;
    }
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.transport = options.transport ?? nodeHttpTransport;
    // A stubbed `transport` carries Data Sync too, unless a streaming one is given as well.
    this.streamingTransport =
      options.streamingTransport ?? (options.transport ? undefined : nodeStreamingTransport);
    this.options = options;
  }

  /** One page of a consistent snapshot. Pass back `snapshot` and `cursor` from the previous page. */
  async listSnapshot(
    args: {
      snapshot?: SnapshotTs;
      cursor?: SnapshotCursor;
      selection?: ExportSelection;
      format?: ValueFormat;
    } = {},
    call: CallOptions = {},
  ): Promise<SnapshotPage> {
    const body: Record<string, unknown> = { format: args.format ?? 'json', ...args.selection };
    if (args.snapshot !== undefined) body.snapshot = int64Number(args.snapshot);
    if (args.cursor !== undefined) body.cursor = args.cursor;
    const endpoint = '/api/list_snapshot';
    const raw = await this.request(
      { endpoint, method: 'POST', body: stringifyLossless(body) },
      call,
    );
    const page = this.validate(endpoint, snapshotPageSchema, raw);
    return {
      values: this.toDocuments(endpoint, page.values, false),
      snapshot: toSnapshotTs(page.snapshot),
      cursor: page.cursor === null ? null : toSnapshotCursor(page.cursor),
      hasMore: page.hasMore,
    };
  }

  /** Every revision committed strictly after `cursor`, in commit order, never splitting a transaction. */
  async documentDeltas(
    args: { cursor: DeltaCursor; selection?: ExportSelection; format?: ValueFormat },
    call: CallOptions = {},
  ): Promise<DeltaPage> {
    const body = {
      format: args.format ?? 'json',
      ...args.selection,
      cursor: int64Number(args.cursor),
    };
    const endpoint = '/api/document_deltas';
    const raw = await this.request(
      { endpoint, method: 'POST', body: stringifyLossless(body) },
      call,
    );
    const page = this.validate(endpoint, deltaPageSchema, raw);
    return {
      values: this.toDocuments(endpoint, page.values, true),
      cursor: toDeltaCursor(page.cursor),
      hasMore: page.hasMore,
    };
  }

  /**
   * One Data Sync page (docs/convex-api.md §5). Values stay in `export_json` as Convex sends them,
   * every number with its exact text; the body is parsed row by row as it arrives (64 MiB pages).
   * `DataSyncCursorExpired` is a ResyncRequiredError; a deployment without Data Sync answers
   * DataSyncNotServedError.
   */
  async dataSync(
    args: { cursor?: string; selection?: DataSyncSelection } = {},
    call: CallOptions = {},
  ): Promise<DataSyncPage> {
    const body: Record<string, unknown> = {};
    if (args.cursor !== undefined) body.cursor = args.cursor;
    if (args.selection !== undefined) body.selection = args.selection;
    const endpoint = DATA_SYNC;
    const toValue: ElementMapper = (member, element, index) => {
      if (member !== 'values') return element;
      try {
        return toDataSyncValue(element);
      } catch (error) {
        throw new MalformedResponseError(
          `Convex ${endpoint} returned a malformed row at values[${index}]: ${(error as Error).message}`,
          { endpoint, status: 200 },
        );
      }
    };
    const raw = await this.request(
      {
        endpoint,
        method: 'POST',
        body: JSON.stringify(body),
        stream: () => new StreamingObjectParser(toValue),
      },
      call,
    );
    const page = this.validate(endpoint, dataSyncPageSchema, raw);
    return {
      status: page.status as DataSyncStatus,
      truncates: page.truncates,
      values: (raw as { values: DataSyncPage['values'] }).values,
      syncId: page.syncId,
      hasMore: page.pagination.hasMore,
      nextCursor: page.pagination.nextCursor,
    };
  }

  /** Syncs that read a page in the last 3 days, newest first (docs/convex-api.md §5). */
  async listActiveSyncs(
    args: { limit?: number; cursor?: string } = {},
    call: CallOptions = {},
  ): Promise<ActiveSyncs> {
    const query: Record<string, string> = {};
    if (args.limit !== undefined) query.limit = String(args.limit);
    if (args.cursor !== undefined) query.cursor = args.cursor;
    const endpoint = LIST_ACTIVE_SYNCS;
    const raw = await this.request({ endpoint, method: 'GET', query }, call);
    const page = this.validate(endpoint, activeSyncsSchema, raw);
    return {
      syncs: page.syncs,
      ...(page.pagination.hasMore && page.pagination.nextCursor !== undefined
        ? { nextCursor: page.pagination.nextCursor }
        : {}),
    };
  }

  /**
   * The Data Sync cursor that continues a `document_deltas` cursor with the same selection, so a
   * legacy export moves over without a re-copy (docs/convex-api.md §5). Refusals: 400
   * `InvalidDataSyncCursor` (negative or ahead of the deployment), `DataSyncCursorExpired`
   * (ResyncRequiredError), 404 on older backends (DataSyncNotServedError).
   */
  async dataSyncCursorFromDeltas(
    args: { cursor: DeltaCursor; selection?: DataSyncSelection },
    call: CallOptions = {},
  ): Promise<string> {
    const body: Record<string, unknown> = { cursor: int64Number(args.cursor) };
    if (args.selection !== undefined) body.selection = args.selection;
    const endpoint = CURSOR_FROM_DELTAS;
    const raw = await this.request(
      { endpoint, method: 'POST', body: stringifyLossless(body) },
      call,
    );
    return this.validate(endpoint, dataSyncCursorSchema, raw).cursor;
  }

  /**
   * Whether the deployment serves Data Sync, asked without starting a sync: a cursor Convex cannot
   * read is refused with a 400 where the route exists, and older backends answer 404 (§1.1).
   * A refused key or plan fails here as it would on the first page.
   */
  async dataSyncServed(call: CallOptions = {}): Promise<boolean> {
    try {
      await this.request(
        {
          endpoint: DATA_SYNC,
          method: 'POST',
          body: JSON.stringify({ cursor: PROBE_CURSOR }),
          stream: () => new StreamingObjectParser(),
        },
        call,
      );
      return true;
    } catch (error) {
      if (error instanceof DataSyncNotServedError) return false;
      if (error instanceof FatalConvexError && error.status === 400 && !isKeyRefusal(error))
        return true;
      throw error;
    }
  }

  async jsonSchemas(
    args: { deltaSchema?: boolean; byComponent?: boolean; format?: ValueFormat } = {},
    call: CallOptions = {},
  ): Promise<Record<string, Record<string, unknown>>> {
    const query: Record<string, string> = { format: args.format ?? 'json' };
    if (args.deltaSchema !== undefined) query.deltaSchema = String(args.deltaSchema);
    if (args.byComponent !== undefined) query.byComponent = String(args.byComponent);
    const endpoint = '/api/json_schemas';
    const raw = await this.request({ endpoint, method: 'GET', query }, call);
    return this.validate(endpoint, jsonSchemasSchema, raw);
  }

  /**
   * Live documents in a table, from the system query the Convex CLI uses. For progress estimates
   * only: it is not part of the streaming export API, so callers must cope with it failing.
   */
  async countDocuments(tableName: string, call: CallOptions = {}): Promise<number> {
    const endpoint = '/api/query';
    const body = JSON.stringify({ path: TABLE_SIZE_QUERY, args: { tableName }, format: 'json' });
    const raw = await this.request({ endpoint, method: 'POST', body }, call);
    const result = this.validate(endpoint, queryResultSchema, raw);
    if (result.status === 'error') {
      throw new FatalConvexError(`Convex ${TABLE_SIZE_QUERY} failed: ${result.errorMessage}`, {
        endpoint,
        status: 200,
        serverMessage: result.errorMessage,
      });
    }
    const count = Number(String(result.value));
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new MalformedResponseError(
        `Convex ${TABLE_SIZE_QUERY} returned ${String(result.value)}, not a document count`,
        { endpoint, status: 200 },
      );
    }
    return count;
  }

  /** Succeeds when the key may read data and streaming export is enabled on the plan. */
  async testStreamingExportConnection(call: CallOptions = {}): Promise<void> {
    await this.request({ endpoint: '/api/test_streaming_export_connection', method: 'GET' }, call);
  }

  async addPrimaryKeyIndexes(
    indexes: Readonly<Record<string, string[][]>>,
    call: CallOptions = {},
  ): Promise<void> {
    const endpoint = '/api/streaming_import/add_primary_key_indexes';
    await this.request({ endpoint, method: 'PUT', body: JSON.stringify({ indexes }) }, call);
  }

  /** A GET with a JSON body, as Convex defines it. */
  async primaryKeyIndexesReady(
    tables: readonly string[],
    call: CallOptions = {},
  ): Promise<boolean> {
    const endpoint = '/api/streaming_import/primary_key_indexes_ready';
    const raw = await this.request(
      { endpoint, method: 'GET', body: JSON.stringify({ tables }) },
      call,
    );
    return this.validate(endpoint, indexesReadySchema, raw).indexesReady;
  }

  /** Empties tables atomically. Convex emits no delete events for the rows removed. */
  async clearTables(tableNames: readonly string[], call: CallOptions = {}): Promise<void> {
    const endpoint = '/api/streaming_import/clear_tables';
    await this.request({ endpoint, method: 'PUT', body: JSON.stringify({ tableNames }) }, call);
  }

  /**
   * Imports records. Pass a pre-serialised body when the caller sized it against the 20 MiB limit.
   * Not atomic: Convex may commit a prefix before failing (docs/convex-api.md §6.5).
   */
  async importAirbyteRecords(
    request: AirbyteImportRequest | string,
    call: CallOptions = {},
  ): Promise<void> {
    const body = typeof request === 'string' ? request : JSON.stringify(request);
    await this.request(
      { endpoint: '/api/streaming_import/import_airbyte_records', method: 'POST', body },
      call,
    );
  }

  private toDocuments(
    endpoint: string,
    rows: readonly Record<string, unknown>[],
    deltas: boolean,
  ): ExportedDocument[] {
    const out = new Array<ExportedDocument>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      try {
        out[i] = toExportedDocument(rows[i] as Record<string, unknown>, deltas);
      } catch (error) {
        throw new MalformedResponseError(
          `Convex ${endpoint} returned a malformed document at values[${i}]: ${(error as Error).message}`,
          { endpoint, status: 200 },
        );
      }
    }
    return out;
  }

  private validate<T>(endpoint: string, schema: z.ZodType<T>, raw: unknown): T {
    const result = schema.safeParse(raw);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const where = issue ? issue.path.map(String).join('.') || '(root)' : '(root)';
    throw new MalformedResponseError(
      `Convex ${endpoint} returned an unexpected response shape at ${where}: ${issue?.message ?? 'invalid'}`,
      { endpoint, status: 200 },
    );
  }

  /**
   * One API call with its retries. When Convex refuses the key, the provider reads it again once:
   * a different key gets one more try, the same key (or a second refusal) fails the call.
   */
  private async request(spec: Call, call: CallOptions): Promise<unknown> {
    const key = await this.currentKey(false);
    try {
      return await this.requestWithKey(spec, call, key);
    } catch (error) {
      if (!isKeyRefusal(error) || call.signal?.aborted) throw error;
      const fresh = await this.currentKey(true);
      this.options.onKeyRefresh?.({ endpoint: spec.endpoint, changed: fresh !== key });
      if (fresh === key) throw error;
      return await this.requestWithKey(spec, call, fresh);
    }
  }

  private async currentKey(refresh: boolean): Promise<string> {
    const raw = refresh ? await this.keys.refresh() : await this.keys.get();
    const key = validateDeployKey(raw, this.keys.source);
    this.seenKeys.add(key);
    return key;
  }

  private async requestWithKey(spec: Call, call: CallOptions, key: string): Promise<unknown> {
    return withRetry(
      this.retry,
      {
        isRetryable: (error) => error instanceof RetryableConvexError,
        onRetry: (error, attempt, delayMs) =>
          this.options.onRetry?.({
            endpoint: spec.endpoint,
            attempt,
            delayMs,
            error: error as ConvexApiError,
          }),
        ...(this.options.sleep ? { sleep: this.options.sleep } : {}),
        ...(call.signal ? { signal: call.signal } : {}),
      },
      () => this.attempt(spec, call.signal, key),
    );
  }

  private async attempt(spec: Call, outer: AbortSignal | undefined, key: string): Promise<unknown> {
    const { endpoint } = spec;
    const url = new URL(endpoint, this.origin);
    for (const [k, v] of Object.entries(spec.query ?? {})) url.searchParams.set(k, v);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = outer ? AbortSignal.any([timeout, outer]) : timeout;
    const headers: Record<string, string> = {
      authorization: `Convex ${key}`,
      'convex-client': CONVEX_CLIENT_HEADER,
      accept: 'application/json',
    };
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    const request = {
      method: spec.method,
      url,
      headers,
      signal,
      ...(spec.body !== undefined ? { body: spec.body } : {}),
    };
    let response: { status: number; body: string };
    let parser: StreamingObjectParser | undefined;
    try {
      if (spec.stream && this.streamingTransport) {
        const fresh = spec.stream();
        parser = fresh;
        response = await this.streamingTransport(request, (chunk) => fresh.write(chunk));
      } else {
        response = await this.transport(request);
      }
    } catch (error) {
      if (outer?.aborted) throw error;
      if (error instanceof BodyRejectedError) throw this.unparsable(endpoint, error.cause);
      const reason = timeout.aborted
        ? `timed out after ${this.timeoutMs} ms (BRIDGE_CONVEX_TIMEOUT_MS)`
        : `failed before a complete response: ${this.redact(describe(error))} (CONVEX_URL=${this.redact(this.origin.origin)})`;
      // No `cause`: Node's network errors name the host, which must not reach logs.
      throw new RetryableConvexError(`Convex ${endpoint} ${reason}`, { endpoint });
    }
    const { status, body } = response;
    if (status >= 200 && status < 300 && spec.stream) {
      try {
        if (parser) return parser.end();
        const whole = spec.stream();
        whole.write(Buffer.from(body, 'utf8'));
        return whole.end();
      } catch (error) {
        throw this.unparsable(endpoint, error);
      }
    }
    if (status >= 200 && status < 300) {
      if (body.trim() === '') return null;
      try {
        return parseLossless(body);
      } catch (error) {
        throw new MalformedResponseError(
          `Convex ${endpoint} returned ${status} with a body that is not JSON`,
          {
            endpoint,
            status,
          },
          { cause: error },
        );
      }
    }
    throw this.httpError(endpoint, status, body);
  }

  /** A 2xx body that is not the JSON expected; a malformed row keeps its own message. */
  private unparsable(endpoint: string, error: unknown): ConvexApiError {
    if (error instanceof MalformedResponseError) return error;
    return new MalformedResponseError(
      `Convex ${endpoint} returned a body that is not the JSON expected: ${(error as Error).message}`,
      { endpoint, status: 200 },
      { cause: error },
    );
  }

  private httpError(endpoint: string, status: number, body: string): ConvexApiError {
    let code: string | undefined;
    let serverMessage: string | undefined;
    try {
      const envelope = errorEnvelopeSchema.safeParse(JSON.parse(body));
      if (envelope.success) {
        code = envelope.data.code;
        serverMessage = this.redact(envelope.data.message);
      }
    } catch {
      // Proxies answer with HTML or nothing; the status alone then decides.
    }
    const details = {
      endpoint,
      status,
      ...(code !== undefined ? { code } : {}),
      ...(serverMessage !== undefined ? { serverMessage } : {}),
    };
    const hint = keyRefusalHint(status, code, this.keys.source) || dataSyncHint(endpoint, code);
    const text = `Convex ${endpoint} failed with ${status}${code ? ` ${code}` : ''}${serverMessage ? `: ${serverMessage}` : ''}${hint ? ` (${hint})` : ''}`;
    if (status === 404 && DATA_SYNC_ENDPOINTS.has(endpoint)) {
      return new DataSyncNotServedError(
        `${text}: this deployment does not serve Data Sync (a backend older than it); set ${ENV.source}=legacy or auto`,
        details,
      );
    }
    switch (classifyHttpFailure(status, code)) {
      case 'retryable':
        return new RetryableConvexError(text, details);
      case 'resync':
        return new ResyncRequiredError(text, details);
      default:
        return new FatalConvexError(text, details);
    }
  }

  /** Keeps the deploy key and deployment host out of every message we build. */
  private redact(text: string): string {
    let out = text;
    for (const key of this.seenKeys) out = out.split(key).join('[redacted]');
    for (const host of [this.origin.host, this.origin.hostname])
      out = out.split(host).join('[deployment]');
    return out;
  }
}

/** Answers about the Authorization header or the key's identity (docs/convex-api.md §1.2). */
const KEY_HEADER_CODES = new Set(['HeaderParseFailure', 'InvalidHeaderFailure', 'InvalidAdminKey']);

/** Convex refused the key: a rotated key read again may help (once). */
function isKeyRefusal(error: unknown): error is FatalConvexError {
  if (!(error instanceof FatalConvexError) || error instanceof MalformedResponseError) return false;
  return (
    error.status === 401 ||
    error.status === 403 ||
    (error.status === 400 && error.code !== undefined && KEY_HEADER_CODES.has(error.code))
  );
}

/** Which setting to fix, for refusals that are about the key (not the plan or the request). */
function keyRefusalHint(status: number, code: string | undefined, source: string): string {
  if (status === 401 || (status === 400 && code !== undefined && KEY_HEADER_CODES.has(code)))
    return `the deploy key from ${source} was refused; put a deploy key of this deployment there`;
  if (status === 403 && code === 'OperationNotPermitted')
    return `the deploy key from ${source} lacks the permission; a read-only key cannot import`;
  if (status === 403 && code === 'BadDeployKey')
    return `the deploy key from ${source} has no admin rights on this deployment; use a deploy key of it`;
  return '';
}

const SELECTION_SETTINGS = [
  ENV.includeTables,
  ENV.excludeTables,
  ENV.includeComponents,
  ENV.excludeComponents,
].join(', ');

/** Which setting or command fixes a Data Sync refusal that retrying cannot (docs/convex-api.md §5). */
function dataSyncHint(endpoint: string, code: string | undefined): string {
  if (code === 'InvalidDataSyncSelection')
    return `Convex refused the table selection; check ${SELECTION_SETTINGS}`;
  if (code === 'InvalidDataSyncCursor' && endpoint === DATA_SYNC)
    return 'Convex cannot read the stored Data Sync cursor (damaged, or from another deployment); run `convex-bridge resync` to start a new sync';
  if (code === 'InvalidDataSyncCursor' && endpoint === CURSOR_FROM_DELTAS)
    return 'the legacy delta cursor is negative or ahead of the deployment';
  return '';
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${code} ${error.message}` : error.message;
  }
  return String(error);
}
