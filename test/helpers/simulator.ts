import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { ConvexClient, type ConvexClientOptions } from '../../shared/convex/client.js';
import { type AdminWrite, applyAdminTransaction } from '../../simulator/admin-routes.js';
import type { Knobs } from '../../simulator/knobs.js';
import { type Simulator, startSimulator } from '../../simulator/server.js';
import { writeValue } from '../../simulator/values.js';
import { type RawRequest, type RawResponse, rawRequest } from './raw-http.js';

export const DEPLOY_KEY = 'prod:sim-deployment|eyJ2MiI6ImFkbWluLWtleS1mb3ItdGVzdHMifQ==';
export const READ_ONLY_KEY = 'prod:sim-deployment|cmVhZC1vbmx5LWtleQ==';

export interface SimulatorFixture {
  readonly sim: Simulator;
  /** A request authenticated with the admin key unless `headers.authorization` says otherwise. */
  call(path: string, request?: RawRequest): Promise<RawResponse>;
  /** Unauthenticated, exactly as given. */
  raw(path: string, request?: RawRequest): Promise<RawResponse>;
  write(writes: AdminWrite[]): { ts: bigint; ids: string[] };
  client(options?: Partial<ConvexClientOptions>): ConvexClient;
}

/**
 * One simulator per test file, with knobs restored and faults cleared before each test so tests
 * cannot leak settings into each other. Data persists within a file; tests use their own tables.
 */
export function useSimulator(knobs: Partial<Knobs> = {}): SimulatorFixture {
  let sim: Simulator | undefined;
  let baseline: Knobs | undefined;
  beforeAll(async () => {
    sim = await startSimulator({ deployKey: DEPLOY_KEY, readOnlyKeys: [READ_ONLY_KEY], knobs });
    baseline = { ...sim.knobs };
  });
  beforeEach(() => {
    if (!sim || !baseline) return;
    Object.assign(sim.knobs, baseline);
    sim.faults.clear();
    sim.stats.clear();
  });
  afterAll(async () => {
    await sim?.close();
  });
  const current = () => {
    if (!sim) throw new Error('simulator not started');
    return sim;
  };
  return {
    get sim() {
      return current();
    },
    call: (path, request = {}) =>
      rawRequest(current().url, path, {
        ...request,
        headers: { authorization: `Convex ${DEPLOY_KEY}`, ...request.headers },
      }),
    raw: (path, request = {}) => rawRequest(current().url, path, request),
    write: (writes) => applyAdminTransaction(current().deployment, writes),
    client: (options = {}) =>
      new ConvexClient({
        url: current().url,
        deployKey: DEPLOY_KEY,
        allowInsecureLoopback: true,
        timeoutMs: 5_000,
        retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5 },
        ...options,
      }),
  };
}

/** All stats entries for one path, e.g. `{ 'POST /api/document_deltas 200': 2 }`. */
export function requestsTo(sim: Simulator, path: string): Record<string, number> {
  return Object.fromEntries([...sim.stats].filter(([key]) => key.split(' ')[1] === path));
}

export function countRequests(sim: Simulator, path: string): number {
  return Object.values(requestsTo(sim, path)).reduce((a, b) => a + b, 0);
}

/** One Data Sync value with `ts` as exact text; numbers inside `value` stay LosslessNumbers. */
export interface SyncValue {
  readonly component: string;
  readonly table: string;
  readonly ts: string;
  readonly deleted: boolean;
  readonly value: Record<string, unknown> & { _id: string };
}

export interface SyncPage {
  readonly status: { type: 'snapshotting' | 'stale' | 'upToDate'; snapshotTs?: string };
  readonly truncates: { component: string; table: string }[];
  readonly values: SyncValue[];
  readonly syncId: string;
  readonly pagination: { hasMore: boolean; nextCursor: string };
}

/** A /api/v1/data/sync body parsed without rounding: `ts` and `snapshotTs` as exact decimal text. */
export function parseSyncPage(text: string): SyncPage {
  const raw = parseLossless(text) as Record<string, unknown>;
  const status = raw.status as { type: SyncPage['status']['type']; snapshotTs?: unknown };
  return {
    ...(raw as unknown as SyncPage),
    status:
      status.snapshotTs === undefined
        ? { type: status.type }
        : { type: status.type, snapshotTs: String(status.snapshotTs) },
    values: (raw.values as Record<string, unknown>[]).map(
      (v) => ({ ...v, ts: String(v.ts) }) as unknown as SyncValue,
    ),
  };
}

/**
 * What a consumer of Data Sync holds: per table, each document's export_json text. Truncates
 * apply before the page's values; a tombstone removes the document.
 */
export class SyncReplica {
  readonly tables = new Map<string, Map<string, string>>();

  apply(page: SyncPage): void {
    for (const t of page.truncates) this.tables.set(`${t.component}/${t.table}`, new Map());
    for (const v of page.values) {
      const key = `${v.component}/${v.table}`;
      const docs = this.tables.get(key) ?? new Map<string, string>();
      if (v.deleted) docs.delete(v.value._id);
      else docs.set(v.value._id, stringifyLossless(v.value) as string);
      this.tables.set(key, docs);
    }
  }

  /** The table's documents as export_json texts, in id order. */
  table(name: string, component = ''): string[] {
    const docs = this.tables.get(`${component}/${name}`) ?? new Map<string, string>();
    return [...docs.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, text]) => text);
  }
}

/** The deployment's live documents of a table as export_json texts, in id order, to compare with a replica. */
export function exportTexts(sim: Simulator, name: string, component = ''): string[] {
  return sim.deployment
    .documents(name, component)
    .sort((a, b) => ((a._id as string) < (b._id as string) ? -1 : 1))
    .map((doc) => writeValue(doc, 'export'));
}

/** A Data Sync selection of just these root tables, so tests sharing a simulator see only theirs. */
export function onlyTables(...tables: string[]): Record<string, unknown> {
  const included = Object.fromEntries(tables.map((t) => [t, { _other: 'included' }]));
  return { _other: 'excluded', '': { _other: 'excluded', ...included } };
}
