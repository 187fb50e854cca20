import { afterAll, beforeAll, beforeEach } from 'vitest';
import { ConvexClient, type ConvexClientOptions } from '../../shared/convex/client.js';
import { type AdminWrite, applyAdminTransaction } from '../../simulator/admin-routes.js';
import type { Knobs } from '../../simulator/knobs.js';
import { type Simulator, startSimulator } from '../../simulator/server.js';
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
