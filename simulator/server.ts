import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { handleAdmin } from './admin-routes.js';
import type { KeyConfig } from './auth.js';
import { dataSync, dataSyncCursorFromDeltas, listActiveSyncs } from './data-sync-routes.js';
import { Deployment } from './deployment.js';
import {
  documentDeltas,
  getTableColumnNames,
  jsonSchemas,
  listSnapshot,
  testStreamingExportConnection,
} from './export-routes.js';
import { type FaultAction, Faults } from './faults.js';
import { runQuery } from './function-routes.js';
import {
  addPrimaryKeyIndexes,
  clearTables,
  importAirbyteRecords,
  primaryKeyIndexesReady,
  replaceTables,
} from './import-routes.js';
import { DEFAULT_KNOBS, type Knobs } from './knobs.js';
import type { RouteContext, RouteHandler, RouteResponse } from './request.js';
import { SimError } from './sim-error.js';

export const SIMULATED_BACKEND_VERSION = '1.29.0';

type Routes = Record<string, Partial<Record<'GET' | 'POST' | 'PUT', RouteHandler>>>;

const text =
  (body: string): RouteHandler =>
  () => ({ status: 200, body, contentType: 'text/plain; charset=utf-8' });

/** Routes and methods exactly as docs/convex-api.md §1.1; note the PUTs and the GET-with-body. */
const ROUTES: Routes = {
  '/': { GET: text('This Convex deployment is running. See https://docs.convex.dev/.') },
  '/version': { GET: text(SIMULATED_BACKEND_VERSION) },
  '/instance_name': { GET: text('simulated-deployment') },
  '/api/list_snapshot': { GET: listSnapshot, POST: listSnapshot },
  '/api/document_deltas': { GET: documentDeltas, POST: documentDeltas },
  '/api/json_schemas': { GET: jsonSchemas },
  '/api/test_streaming_export_connection': { GET: testStreamingExportConnection },
  '/api/get_table_column_names': { GET: getTableColumnNames },
  '/api/data_sync_cursor_from_deltas': { POST: dataSyncCursorFromDeltas },
  '/api/v1/data/sync': { POST: dataSync },
  '/api/v1/data/list_active_syncs': { GET: listActiveSyncs },
  '/api/query': { POST: runQuery },
  '/api/streaming_import/import_airbyte_records': { POST: importAirbyteRecords },
  '/api/streaming_import/add_primary_key_indexes': { PUT: addPrimaryKeyIndexes },
  '/api/streaming_import/primary_key_indexes_ready': { GET: primaryKeyIndexesReady },
  '/api/streaming_import/clear_tables': { PUT: clearTables },
  '/api/streaming_import/replace_tables': { POST: replaceTables },
};

/** Missing on backends older than Data Sync: knob `dataSyncEnabled: false` answers them 404. */
const DATA_SYNC_PATHS = new Set([
  '/api/v1/data/sync',
  '/api/v1/data/list_active_syncs',
  '/api/data_sync_cursor_from_deltas',
]);

const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** `<client-name>-<semver>`, the longest suffix that parses as semver wins (common/src/version.rs). */
export function isValidClientVersion(value: string): boolean {
  for (let i = value.indexOf('-'); i >= 0; i = value.indexOf('-', i + 1)) {
    if (i > 0 && SEMVER.test(value.slice(i + 1))) return true;
  }
  return false;
}

export interface SimulatorOptions {
  readonly deployKey: string;
  /** Keys with `ViewData` but not `ImportBackups`. */
  readonly readOnlyKeys?: readonly string[];
  readonly port?: number;
  readonly host?: string;
  readonly knobs?: Partial<Knobs>;
}

export interface Simulator {
  readonly url: string;
  readonly deployment: Deployment;
  readonly knobs: Knobs;
  readonly faults: Faults;
  /** Requests answered, keyed `METHOD path status` (or `… reset`, `… truncated`). */
  readonly stats: Map<string, number>;
  close(): Promise<void>;
}

function envelope(error: SimError): RouteResponse {
  return {
    status: error.status,
    body: JSON.stringify({ code: error.code, message: error.message }),
    contentType: 'application/json',
  };
}

async function readBody(
  req: IncomingMessage,
  limit: number,
): Promise<{ body: Buffer; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) tooLarge = true;
    if (!tooLarge) chunks.push(chunk as Buffer);
  }
  return { body: Buffer.concat(chunks), tooLarge };
}

/** Starts a local Convex stand-in on 127.0.0.1 (port 0 picks a free one). */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const knobs: Knobs = { ...DEFAULT_KNOBS, ...options.knobs };
  const deployment = new Deployment(knobs);
  const faults = new Faults();
  const stats = new Map<string, number>();
  const keys: KeyConfig = {
    deployKey: options.deployKey,
    readOnlyKeys: options.readOnlyKeys ?? [],
  };
  const count = (key: string) => stats.set(key, (stats.get(key) ?? 0) + 1);

  const send = (res: ServerResponse, response: RouteResponse, truncate: boolean) => {
    const body = Buffer.from(response.body ?? '', 'utf8');
    const headers: Record<string, string | number> = { 'content-length': body.length };
    if (response.contentType) headers['content-type'] = response.contentType;
    res.writeHead(response.status, headers);
    if (truncate && body.length > 1) {
      res.write(body.subarray(0, Math.floor(body.length / 2)));
      res.socket?.destroy();
      return;
    }
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://simulator');
    const path = url.pathname;
    if (path.startsWith('/_sim/')) {
      const { body } = await readBody(req, 256 * 1024 * 1024);
      try {
        const input = body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined;
        const out = handleAdmin(
          { deployment, faults, stats },
          method,
          path,
          url.searchParams,
          input,
        );
        send(res, { ...out, contentType: 'application/json' }, false);
      } catch (error) {
        const e =
          error instanceof SimError
            ? error
            : new SimError(400, 'BadAdminRequest', (error as Error).message);
        send(res, envelope(e), false);
      }
      return;
    }
    const route = DATA_SYNC_PATHS.has(path) && !knobs.dataSyncEnabled ? undefined : ROUTES[path];
    const limit = path.endsWith('/import_airbyte_records')
      ? knobs.importBodyLimitBytes
      : knobs.defaultBodyLimitBytes;
    const { body, tooLarge } = await readBody(req, limit);
    const clientVersion = req.headers['convex-client'];
    let response: RouteResponse;
    let fault: FaultAction | undefined;
    if (typeof clientVersion === 'string' && !isValidClientVersion(clientVersion)) {
      response = envelope(
        new SimError(
          400,
          'InvalidClientVersion',
          `Failed to parse client version string: '${clientVersion}'. Expected format is {client_name}-{semver}, e.g. my-client-1.2.3`,
        ),
      );
    } else if (!route) {
      response = { status: 404 };
    } else {
      const handler = route[method as 'GET' | 'POST' | 'PUT'];
      if (!handler) {
        response = { status: 405 };
      } else {
        fault = faults.next(path);
        if (faults.latencyMs > 0) {
          if (faults.latencyMs >= knobs.requestTimeoutMs) {
            await sleep(knobs.requestTimeoutMs);
            count(`${method} ${path} 408`);
            send(res, { status: 408 }, false);
            return;
          }
          await sleep(faults.latencyMs);
        }
        if (fault?.kind === 'delay') await sleep(fault.ms);
        if (fault?.kind === 'reset') {
          count(`${method} ${path} reset`);
          req.socket.destroy();
          return;
        }
        if (fault?.kind === 'hang') {
          count(`${method} ${path} hang`);
          return;
        }
        if (fault?.kind === 'status') {
          const { status, code, message } = fault;
          response = code ? envelope(new SimError(status, code, message ?? code)) : { status };
        } else {
          const ctx: RouteContext = {
            method,
            path,
            query: url.searchParams,
            headers: req.headers,
            body,
            bodyTooLarge: tooLarge,
            deployment,
            keys,
            fault,
          };
          try {
            response = handler(ctx);
          } catch (error) {
            if (!(error instanceof SimError))
              process.stderr.write(
                `simulator: internal error on ${path}: ${(error as Error).stack}\n`,
              );
            response = envelope(
              error instanceof SimError
                ? error
                : new SimError(
                    500,
                    'InternalServerError',
                    "Your request couldn't be completed. Try again later.",
                  ),
            );
          }
        }
      }
    }
    const truncate = fault?.kind === 'truncate';
    count(`${method} ${path} ${truncate ? 'truncated' : response.status}`);
    send(res, response, truncate);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      process.stderr.write(`simulator: ${(error as Error).stack}\n`);
      if (!res.headersSent) send(res, { status: 500 }, false);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deployment,
    knobs,
    faults,
    stats,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
