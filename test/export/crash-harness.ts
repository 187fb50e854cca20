import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { DEPLOY_KEY, type SimulatorFixture } from '../helpers/simulator.js';
import { deferred, within } from '../helpers/sync.js';

/**
 * Changes that keep coming while exporters are killed: 300 documents first, then per tick an
 * insert, a patch of an existing document most ticks and a delete every ninth; between ticks
 * 2 to 8 ms (5 on average) drawn from `random`, so the schedule replays from its seed.
 */
export function startChangeWriter(f: SimulatorFixture, table: string, random: () => number) {
  const ids = f.write(
    Array.from({ length: 300 }, (_, i) => ({ op: 'insert' as const, table, doc: { i } })),
  ).ids;
  let live = true;
  let ticks = 0;
  const running = (async () => {
    while (live) {
      ticks++;
      const id = ids[ticks % ids.length] as string;
      const writes: Parameters<typeof f.write>[0] = [{ op: 'insert', table, doc: { tick: ticks } }];
      if (f.sim.deployment.findRecord(id) && ticks % 5 !== 0)
        writes.push({ op: 'patch', id, fields: { tick: ticks } });
      try {
        ids.push(...f.write(writes).ids);
        if (ticks % 9 === 0)
          f.write([{ op: 'delete', id: ids.splice(ticks % ids.length, 1)[0] as string }]);
      } catch {
        // A patch may race a delete of the same id; the next tick writes something else.
      }
      await sleep(2 + Math.floor(random() * 7));
    }
  })();
  return {
    /** Stops writing; resolves with the number of ticks written. */
    stop: async (): Promise<number> => {
      live = false;
      await running;
      return ticks;
    },
  };
}

export interface Victim {
  readonly child: ChildProcess;
  /** The exit code; null when killed by a signal. */
  readonly exited: Promise<number | null>;
  stderr(): string;
  close(): Promise<void>;
}

/**
 * The body of the one request an exporter makes before taking the lease: `BRIDGE_SOURCE=auto`
 * or `data-sync` asks whether the deployment serves Data Sync with a cursor Convex cannot read
 * (shared/convex/client.ts, `dataSyncServed`). Retried under injected faults, so it may come
 * several times.
 */
const DATA_SYNC_PROBE = 'convex-stream-bridge-probe';

interface LeaseTap {
  readonly url: string;
  /** Resolves with the first request that is not the Data Sync probe. */
  readonly firstLeasedRequest: Promise<void>;
  close(): Promise<void>;
}

/**
 * A pass-through proxy in front of Convex for one victim: every request is forwarded unchanged
 * and its answer streamed back, and the first one other than the source probe marks the moment
 * the victim holds the lease (it reads nothing from Convex before acquiring it).
 */
async function startLeaseTap(target: string): Promise<LeaseTap> {
  const leased = deferred();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (!body.includes(DATA_SYNC_PROBE)) leased.resolve();
      const upstream = http.request(
        new URL(req.url ?? '/', target),
        { method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      // A client that goes away (a killed process) takes its upstream request with it.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    firstLeasedRequest: leased.promise,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * Starts a real exporter process that reaches Convex through its own tap, and resolves once it
 * holds the lease: its first Convex request after the source probe is that event (the exporter
 * reads nothing before acquiring it), and a request still in flight from an earlier victim
 * cannot be mistaken for this one's. Throws, with the process killed, when it never gets there.
 */
export async function startVictim(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  convexUrl: string,
  describe: string,
): Promise<Victim> {
  const tap = await startLeaseTap(convexUrl);
  const child = spawn(process.execPath, [...args], {
    env: { ...env, CONVEX_URL: tap.url },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const leased = await within(
    Promise.race([tap.firstLeasedRequest.then(() => true), exited.then(() => false)]),
    30_000,
    () => false,
  );
  if (!leased) {
    child.kill('SIGKILL');
    await tap.close();
    throw new Error(`${describe} never took the lease (exit ${child.exitCode}): ${stderr}`);
  }
  return { child, exited, stderr: () => stderr, close: () => tap.close() };
}

/**
 * One compiled exporter (test/export/crash-exporter.ts) for every victim of a test file:
 * spawning through tsx would cost seconds each. Call at the top of the file; `path()` is the
 * bundle to run, removed after the file.
 */
export function bundleCrashExporter(hooks: {
  beforeAll: (fn: () => Promise<void>) => void;
  afterAll: (fn: () => Promise<void>) => void;
}): { path: () => string } {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const dir = `${root}node_modules/.cache/convex-bridge-test`;
  const bundle = `${dir}/crash-exporter-${process.pid}-${Math.random().toString(36).slice(2, 8)}.mjs`;
  hooks.beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    await build({
      entryPoints: [`${root}test/export/crash-exporter.ts`],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'error',
    });
  });
  hooks.afterAll(async () => {
    await rm(bundle, { force: true });
  });
  return { path: () => bundle };
}

/** Waits until `lease` (if any) has expired, exactly: the next run is then sure to get it. */
export async function outliveLease(lease: { readonly expiresAt: number } | undefined) {
  if (lease) while (Date.now() <= lease.expiresAt) await sleep(lease.expiresAt - Date.now() + 1);
}

/**
 * The environment of a victim exporter: the rig's resources, the simulator's key, the tables it
 * exports, a fast poll and a short lease (so the next victim takes over soon after a kill).
 */
export function victimEnv(options: {
  readonly names: { readonly table: string; readonly bucket: string };
  readonly stream: string;
  readonly exportId: string;
  readonly tables: readonly string[];
  readonly api: string;
}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CONVEX_DEPLOY_KEY: DEPLOY_KEY,
    BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
    BRIDGE_STREAM_NAME: options.stream,
    BRIDGE_STATE_TABLE: options.names.table,
    BRIDGE_OVERSIZE_BUCKET: options.names.bucket,
    BRIDGE_EXPORT_ID: options.exportId,
    BRIDGE_INCLUDE_TABLES: options.tables.join(','),
    BRIDGE_POLL_INTERVAL_MS: '50',
    BRIDGE_LEASE_TTL_MS: '1000',
    BRIDGE_SOURCE: options.api,
  };
}
