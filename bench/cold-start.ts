import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { LAMBDA_BUNDLING, LAMBDA_ENTRIES, LAMBDA_NODE_OPTIONS } from '../infra/bundling.js';
import { percentile } from '../local/flow-stats.js';
import { toChangeEvent } from '../shared/adapters/convex-legacy-feed.js';
import { ConvexClient } from '../shared/convex/client.js';
import { serializeEvent } from '../shared/events/change-event.js';
import { SNAPSHOT_TABLE } from './bench-sim.js';
import type { BenchContext } from './context.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

export interface PackageBytes {
  /** npm package, or the project folder for our own code. */
  readonly name: string;
  readonly bytes: number;
}

export interface BundleMeasure {
  readonly bytes: number;
  readonly sourceMapBytes: number;
  /** Median wall time to import the bundle in a fresh Node process (its module initialisation). */
  readonly initMsMedian: number;
  readonly initMsRuns: readonly number[];
  /** Median CPU time (user + system) of the same imports: steadier on a busy machine. */
  readonly initCpuMsMedian: number;
  /** Bytes in the bundle per package (esbuild's metafile), largest first. */
  readonly packages: readonly PackageBytes[];
  /** One real invocation in a fresh process: the handler's result, summarised. */
  readonly invocation: { readonly ok: boolean; readonly summary: string; readonly ms: number };
}

/** Build settings as infra/bundling.ts states them (the subset the bundles use). */
export interface BundlingSettings {
  readonly target: string;
  readonly minify: boolean;
  readonly sourceMap: boolean;
  readonly sourcesContent?: boolean;
  readonly keepNames: boolean;
  readonly mainFields?: readonly string[];
  readonly banner: string;
}

/**
 * The settings before the cold-start work (2026-11-28), built in every run so the README's
 * before/after comes from one run on one machine.
 */
export const PREVIOUS_BUNDLING: BundlingSettings = {
  target: 'node22',
  minify: true,
  sourceMap: true,
  keepNames: true,
  banner: LAMBDA_BUNDLING.banner,
};

export interface BundleComparison {
  readonly nodeOptions: string;
  readonly previous: Record<keyof typeof LAMBDA_ENTRIES, BundleMeasure>;
  readonly deployed: Record<keyof typeof LAMBDA_ENTRIES, BundleMeasure>;
}

/** What each handler is invoked with once, to show the bundle runs, not only loads. */
export interface ProbeSetup {
  /** The function's environment for one build (`label`), as the CDK app would set it. */
  readonly env: (name: keyof typeof LAMBDA_ENTRIES, label: string) => Record<string, string>;
  readonly events: (name: keyof typeof LAMBDA_ENTRIES, label: string) => unknown;
  /** Invocation time budget (getRemainingTimeInMillis at the start). */
  readonly budgetMs: Record<keyof typeof LAMBDA_ENTRIES, number>;
  /** Whether the handler's result shows the work was done. */
  readonly check: Record<keyof typeof LAMBDA_ENTRIES, (result: unknown) => string | undefined>;
  /** What the invocation did, for the report. */
  readonly describe: Record<keyof typeof LAMBDA_ENTRIES, (result: unknown, ms: number) => string>;
}

function packageOf(path: string): string {
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (inModules) return inModules[1] as string;
  return `${path.split('/')[0]}/`;
}

/** The module a fresh Node process runs: import (timed), then optionally one invocation. */
function probeSource(file: string, event: unknown, budgetMs: number): string {
  return `const t0 = performance.now();
const c0 = process.cpuUsage();
const mod = await import(${JSON.stringify(pathToFileURL(file).href)});
const initMs = performance.now() - t0;
const cpu = process.cpuUsage(c0);
let invocation = null;
const event = ${JSON.stringify(event ?? null)};
if (event !== null) {
  const deadline = Date.now() + ${budgetMs};
  const context = { functionName: 'probe', functionVersion: '$LATEST', awsRequestId: 'probe-' + process.pid,
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:probe', memoryLimitInMB: '512',
    logGroupName: 'probe', logStreamName: 'probe', callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => deadline - Date.now() };
  const t1 = performance.now();
  const result = await mod.handler(event, context);
  invocation = { ms: performance.now() - t1, result };
}
process.stdout.write('\\n@@probe ' + JSON.stringify({ initMs, cpuMs: (cpu.user + cpu.system) / 1000, invocation }) + '\\n');
process.exit(0);
`;
}

interface ProbeOutput {
  readonly initMs: number;
  readonly cpuMs: number;
  readonly invocation: { ms: number; result: unknown } | null;
}

async function probe(
  file: string,
  env: Record<string, string>,
  event: unknown,
  budgetMs: number,
): Promise<ProbeOutput> {
  const script = `${file}.probe.mjs`;
  await writeFile(script, probeSource(file, event, budgetMs));
  const { stdout } = await run(process.execPath, [script], {
    env: { ...process.env, ...env, NODE_OPTIONS: LAMBDA_NODE_OPTIONS },
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('@@probe '));
  if (!line) throw new Error(`probe of ${file} printed no result:\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice('@@probe '.length)) as ProbeOutput;
}

async function buildAndMeasure(
  dir: string,
  label: string,
  settings: BundlingSettings,
  setup: ProbeSetup,
  runs: number,
): Promise<Record<keyof typeof LAMBDA_ENTRIES, BundleMeasure>> {
  const out = {} as Record<keyof typeof LAMBDA_ENTRIES, BundleMeasure>;
  for (const [name, entry] of Object.entries(LAMBDA_ENTRIES) as [
    keyof typeof LAMBDA_ENTRIES,
    string,
  ][]) {
    const file = join(dir, `${label}-${name}.mjs`);
    const built = await build({
      entryPoints: [join(root, entry)],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: settings.target,
      minify: settings.minify,
      sourcemap: settings.sourceMap,
      ...(settings.sourcesContent !== undefined ? { sourcesContent: settings.sourcesContent } : {}),
      keepNames: settings.keepNames,
      ...(settings.mainFields ? { mainFields: [...settings.mainFields] } : {}),
      banner: { js: settings.banner },
      metafile: true,
      logLevel: 'silent',
    });
    const output = Object.values(built.metafile.outputs).find((o) => o.entryPoint !== undefined);
    const perPackage = new Map<string, number>();
    for (const [path, input] of Object.entries(output?.inputs ?? {})) {
      const key = packageOf(path);
      perPackage.set(key, (perPackage.get(key) ?? 0) + input.bytesInOutput);
    }
    const probes: ProbeOutput[] = [];
    for (let i = 0; i < runs; i++) probes.push(await probe(file, setup.env(name, label), null, 0));
    // One more fresh process that also runs the handler once, end to end.
    const invoked = await probe(
      file,
      setup.env(name, label),
      setup.events(name, label),
      setup.budgetMs[name],
    );
    const problem = invoked.invocation
      ? setup.check[name](invoked.invocation.result)
      : 'not invoked';
    const initMsRuns = probes.map((p) => p.initMs);
    out[name] = {
      bytes: (await stat(file)).size,
      sourceMapBytes: settings.sourceMap ? (await stat(`${file}.map`)).size : 0,
      initMsMedian: percentile(initMsRuns, 50) as number,
      initMsRuns,
      initCpuMsMedian: percentile(
        probes.map((p) => p.cpuMs),
        50,
      ) as number,
      packages: [...perPackage]
        .map(([pkg, bytes]) => ({ name: pkg, bytes }))
        .sort((a, b) => b.bytes - a.bytes),
      invocation: {
        ok: problem === undefined,
        summary:
          problem ?? setup.describe[name](invoked.invocation?.result, invoked.invocation?.ms ?? 0),
        ms: invoked.invocation?.ms ?? 0,
      },
    };
    if (problem !== undefined)
      throw new Error(`${label} ${name} bundle: the invocation did not do its work: ${problem}`);
  }
  return out;
}

const COLD_TABLES = { import: 'bench_coldstart', export: 'bench_coldstart_export' } as const;
const COLD_EXPORT_DOCS = 10;

/**
 * The probes' environment and events: the importer gets one valid message for a keyed table; the
 * exporter, a fresh export id per build over a 10-document table, must publish those 10 events to
 * the stream within its budget (then it keeps following until the safety margin).
 */
export async function coldStartSetup(
  ctx: BenchContext,
  awsEnv: Record<string, string>,
  dlqUrl: string,
  streamName: string,
): Promise<ProbeSetup> {
  await ctx.sim.admin('/_sim/transaction', {
    writes: Array.from({ length: COLD_EXPORT_DOCS }, (_, i) => ({
      op: 'insert',
      table: COLD_TABLES.export,
      doc: { i },
    })),
  });
  const common = {
    ...awsEnv,
    CONVEX_URL: ctx.sim.url,
    CONVEX_DEPLOY_KEY: ctx.sim.deployKey,
    BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  const now = String(Date.now());
  // Each build imports into its own table, so each first invocation creates its key index.
  const importTable = (label: string) => `${COLD_TABLES.import}_${label}`;
  return {
    env: (name, label) =>
      name === 'import'
        ? {
            ...common,
            BRIDGE_DLQ_URL: dlqUrl,
            BRIDGE_IMPORT_TABLES: JSON.stringify({
              [importTable(label)]: { primaryKey: [['key']] },
            }),
          }
        : {
            ...common,
            BRIDGE_STREAM_NAME: streamName,
            BRIDGE_STATE_TABLE: ctx.stateTable,
            BRIDGE_OVERSIZE_BUCKET: ctx.bucket,
            BRIDGE_EXPORT_ID: `coldstart-${label}-${randomUUID().slice(0, 8)}`,
            BRIDGE_INCLUDE_TABLES: COLD_TABLES.export,
            BRIDGE_SAFETY_MARGIN_MS: '1000',
          },
    events: (name, label) =>
      name === 'import'
        ? {
            Records: [
              {
                messageId: 'probe-1',
                receiptHandle: 'probe-1',
                body: JSON.stringify({
                  table: importTable(label),
                  op: 'upsert',
                  data: { key: 'k-0' },
                }),
                attributes: {
                  ApproximateReceiveCount: '1',
                  SentTimestamp: now,
                  SenderId: 'probe',
                  ApproximateFirstReceiveTimestamp: now,
                },
                messageAttributes: {},
                md5OfBody: '',
                eventSource: 'aws:sqs',
                eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:probe',
                awsRegion: 'us-east-1',
              },
            ],
          }
        : { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
    budgetMs: { import: 60_000, export: 3_000 },
    describe: {
      import: (_r, ms) => `1 message imported (index created) in ${Math.round(ms)} ms`,
      export: (r) =>
        `${(r as { events: number }).events} events published, then followed until the margin`,
    },
    check: {
      import: (r) => {
        const failures = (r as { batchItemFailures?: unknown[] } | null)?.batchItemFailures;
        return Array.isArray(failures) && failures.length === 0
          ? undefined
          : `expected no batchItemFailures, got ${JSON.stringify(r)}`;
      },
      export: (r) => {
        const events = (r as { events?: number } | null)?.events;
        return events === COLD_EXPORT_DOCS
          ? undefined
          : `expected ${COLD_EXPORT_DOCS} events published, got ${JSON.stringify(r)}`;
      },
    },
  };
}

/**
 * Builds both bundles with the deployed settings (infra/bundling.ts) and with the previous ones,
 * then, per bundle, times its import in `runs` fresh processes and invokes it once in another,
 * all with the functions' NODE_OPTIONS (source maps on, as deployed).
 */
export async function measureBundles(setup: ProbeSetup, runs: number): Promise<BundleComparison> {
  const dir = await mkdtemp(join(tmpdir(), 'bridge-bundles-'));
  try {
    const previous = await buildAndMeasure(dir, 'previous', PREVIOUS_BUNDLING, setup, runs);
    const deployed = await buildAndMeasure(dir, 'deployed', LAMBDA_BUNDLING, setup, runs);
    return { nodeOptions: LAMBDA_NODE_OPTIONS, previous, deployed };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface TransformCost {
  readonly events: number;
  /** CPU (user + system) per event: parse the page, validate, build and serialise the event. */
  readonly cpuMicrosPerEvent: number;
  readonly bytesPerEvent: number;
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
      bytes += Buffer.byteLength(serializeEvent(toChangeEvent(doc, true, 1)));
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
