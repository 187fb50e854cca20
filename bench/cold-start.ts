import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { LAMBDA_BUNDLING, LAMBDA_ENTRIES } from '../infra/bundling.js';
import { percentile } from '../local/flow-stats.js';
import { toChangeEvent } from '../shared/adapters/convex-legacy-feed.js';
import { ConvexClient } from '../shared/convex/client.js';
import { serializeEvent } from '../shared/events/change-event.js';
import { SNAPSHOT_TABLE } from './bench-sim.js';
import type { BenchContext } from './context.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

export interface BundleMeasure {
  readonly bytes: number;
  readonly sourceMapBytes: number;
  /** Median wall time to import the bundle in a fresh Node process (its module initialisation). */
  readonly initMsMedian: number;
  readonly initMsRuns: readonly number[];
}

export interface TransformCost {
  readonly events: number;
  /** CPU (user + system) per event: parse the page, validate, build and serialise the event. */
  readonly cpuMicrosPerEvent: number;
  readonly bytesPerEvent: number;
}

/** Builds both bundles exactly as the CDK app does, then times their import in fresh processes. */
export async function measureBundles(
  env: Record<string, string>,
  runs: number,
): Promise<Record<keyof typeof LAMBDA_ENTRIES, BundleMeasure>> {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-bundles-'));
  try {
    const out = {} as Record<keyof typeof LAMBDA_ENTRIES, BundleMeasure>;
    for (const [name, entry] of Object.entries(LAMBDA_ENTRIES) as [
      keyof typeof LAMBDA_ENTRIES,
      string,
    ][]) {
      const file = join(dir, `${name}.mjs`);
      await build({
        entryPoints: [join(root, entry)],
        outfile: file,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: LAMBDA_BUNDLING.target,
        minify: LAMBDA_BUNDLING.minify,
        sourcemap: LAMBDA_BUNDLING.sourceMap,
        keepNames: LAMBDA_BUNDLING.keepNames,
        banner: { js: LAMBDA_BUNDLING.banner },
        logLevel: 'silent',
      });
      const initMsRuns: number[] = [];
      const probe = `const t=performance.now();await import(${JSON.stringify(pathToFileURL(file).href)});process.stdout.write(String(performance.now()-t));`;
      for (let i = 0; i < runs; i++) {
        const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], {
          env: { ...process.env, ...env },
        });
        initMsRuns.push(Number(stdout));
      }
      out[name] = {
        bytes: (await stat(file)).size,
        sourceMapBytes: (await stat(`${file}.map`)).size,
        initMsMedian: percentile(initMsRuns, 50) as number,
        initMsRuns,
      };
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * CPU per event of the export transform, on real snapshot pages from the simulator replayed
 * through the client (so parsing and validation count) into serialised change events.
 */
export async function measureTransform(ctx: BenchContext, pages: number): Promise<TransformCost> {
  const res = await fetch(`${ctx.sim.url}/api/list_snapshot`, {
    method: 'POST',
    headers: {
      authorization: `Convex ${ctx.sim.deployKey}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ tableName: SNAPSHOT_TABLE, format: 'json' }),
  });
  const body = await res.text();
  const client = new ConvexClient({
    url: ctx.sim.url,
    deployKey: ctx.sim.deployKey,
    allowInsecureLoopback: true,
    transport: async () => ({ status: 200, contentType: 'application/json', body }),
  });
  let events = 0;
  let bytes = 0;
  const transformAll = async () => {
    const page = await client.listSnapshot({ selection: { tableName: SNAPSHOT_TABLE } });
    for (const doc of page.values) {
      bytes += Buffer.byteLength(serializeEvent(toChangeEvent(doc, true)));
      events++;
    }
  };
  for (let i = 0; i < 5; i++) await transformAll(); // warm up the JIT
  events = 0;
  bytes = 0;
  const before = process.cpuUsage();
  for (let i = 0; i < pages; i++) await transformAll();
  const used = process.cpuUsage(before);
  return {
    events,
    cpuMicrosPerEvent: (used.user + used.system) / events,
    bytesPerEvent: bytes / events,
  };
}
