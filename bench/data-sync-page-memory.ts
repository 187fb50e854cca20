// Peak resident memory of a process handling one 64 MiB Data Sync page (Convex's byte target per
// page, docs/convex-api.md §5), each measurement in a process of its own so maxRSS is its alone:
//   idle      loads the same modules and does nothing: the baseline;
//   feed      the Data Sync feed reads the page (streamed, parsed row by row) and serialises every
//             event as the publisher would;
//   buffered  the same page gathered as one string and parsed whole, as the legacy endpoints'
//             client does: what the streaming parse saves;
//   exporter  (with local AWS) the exporter wired as the Lambda is, publishing the page.
// `npx tsx bench/data-sync-page-memory.ts` runs it on its own (simulator in a child process; the
// exporter step only when AWS_ENDPOINT_URL points at local stand-ins); `npm run bench` runs it too.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const mb = (bytes: number) => bytes / (1024 * 1024);
const TABLE = 'bench_ds_page';

export type PageMode = 'idle' | 'feed' | 'buffered' | 'exporter';

export interface PageProcessResult {
  readonly mode: PageMode;
  /** Values (document revisions) the page held; -1 for idle. */
  readonly values: number;
  /** Resident memory once the modules were loaded, before the page. */
  readonly rssBeforeMb: number;
  /** The process's resident-memory high-water mark over its whole life. */
  readonly maxRssMb: number;
  readonly heapPeakMb: number;
  readonly seconds: number;
}

export interface DataSyncPageMemory {
  /** Bytes of the page's JSON body as Convex (the simulator) sends it. */
  readonly pageBytes: number;
  readonly values: number;
  readonly docBytes: number;
  readonly results: readonly PageProcessResult[];
}

interface Sim {
  readonly url: string;
  readonly deployKey: string;
  admin(path: string, body?: unknown): Promise<unknown>;
}

/**
 * Fills a table with `values` documents of about `docBytes` each (an int64, a float and a string,
 * so the page exercises exact number text), then measures each mode in its own process.
 */
export async function dataSyncPageMemory(
  sim: Sim,
  options: { values: number; docBytes: number; modes: readonly PageMode[] },
  env: Record<string, string> = {},
): Promise<DataSyncPageMemory> {
  const perTransaction = 1_024;
  for (let done = 0; done < options.values; done += perTransaction) {
    const writes = Array.from(
      { length: Math.min(perTransaction, options.values - done) },
      (_, i) => ({
        op: 'insert',
        table: TABLE,
        doc: {
          n: { $integer: int64Base64(2n ** 60n + BigInt(done + i)) },
          f: 1.5,
          text: randomBytes(Math.ceil((options.docBytes * 3) / 4))
            .toString('base64')
            .slice(0, options.docBytes),
        },
      }),
    );
    await sim.admin('/_sim/transaction', { writes });
  }
  // The page target is 64 MiB and 16,384 values; make sure this page is the whole table.
  await sim.admin('/_sim/knobs', {
    dataSyncPageSizeLimit: Math.max(16_384, options.values),
    dataSyncMaxRowsRead: Math.max(32_768, options.values),
  });
  const pageBytes = await measurePageBytes(sim);
  const script = fileURLToPath(import.meta.url);
  const results: PageProcessResult[] = [];
  for (const mode of options.modes) {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', script, '--child', mode], {
      env: {
        ...process.env,
        ...env,
        CONVEX_URL: sim.url,
        CONVEX_DEPLOY_KEY: sim.deployKey,
        BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
        BRIDGE_INCLUDE_TABLES: TABLE,
        BRIDGE_SOURCE: 'data-sync',
        BRIDGE_CONVEX_TIMEOUT_MS: '300000',
      },
      maxBuffer: 1024 * 1024,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as PageProcessResult;
    if (mode !== 'idle' && result.values < options.values)
      throw new Error(`${mode}: read ${result.values} of ${options.values} values in the page`);
    results.push(result);
  }
  return { pageBytes, values: options.values, docBytes: options.docBytes, results };
}

function int64Base64(value: bigint): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64LE(value);
  return bytes.toString('base64');
}

const selection = {
  _other: 'excluded',
  '': { _other: 'excluded', [TABLE]: { _other: 'included' } },
};

/** The body's size, counted as it streams past (a sync of its own, never read again). */
function measurePageBytes(sim: Sim): Promise<number> {
  const body = JSON.stringify({ selection });
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${sim.url}/api/v1/data/sync`,
      {
        method: 'POST',
        headers: {
          authorization: `Convex ${sim.deployKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        res.on('end', () =>
          res.statusCode === 200 ? resolve(bytes) : reject(new Error(`page: ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One measurement, in this process (started by `dataSyncPageMemory`). */
async function child(mode: PageMode): Promise<void> {
  // Everything any mode uses is loaded first, so the baseline holds the same code.
  const [
    { loadExportConfig },
    { connectToConvex },
    feedModule,
    events,
    lossless,
    transport,
    exporter,
  ] = await Promise.all([
    import('../shared/export/config.js'),
    import('../shared/wiring/convex.js'),
    import('../shared/adapters/convex-data-sync-feed.js'),
    import('../shared/events/change-event.js'),
    import('../shared/values/lossless-json.js'),
    import('../shared/convex/http-transport.js'),
    mode === 'exporter'
      ? Promise.all([
          import('../shared/wiring/export.js'),
          import('../shared/export/export-changes.js'),
          import('../shared/ports/observability.js'),
        ])
      : Promise.resolve(undefined),
  ]);
  const started = performance.now();
  const rssBeforeMb = mb(process.memoryUsage().rss);
  let heapPeak = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }, 5);
  let values = -1;
  const config = () =>
    loadExportConfig({
      ...process.env,
      BRIDGE_STREAM_NAME: process.env.BRIDGE_STREAM_NAME ?? 'unused',
      BRIDGE_STATE_TABLE: process.env.BRIDGE_STATE_TABLE ?? 'unused',
      BRIDGE_OVERSIZE_BUCKET: process.env.BRIDGE_OVERSIZE_BUCKET ?? 'unused',
    });
  if (mode === 'feed') {
    const convex = await connectToConvex(config().convex, () => {
      throw new Error('no secret in this benchmark');
    });
    const feed = new feedModule.ConvexDataSyncFeed(convex, 'json');
    const page = await feed.read(feed.start(), {
      filter: { includeTables: [TABLE] },
      signal: AbortSignal.timeout(300_000),
      generation: 1,
    });
    if (page.kind !== 'page') throw new Error(`resync: ${page.code}`);
    // The publisher serialises each event into its record; count them as it would.
    let bytes = 0;
    for (const event of page.events) bytes += events.serializeEvent(event).length;
    values = page.events.filter(events.isChangeEvent).length;
    if (bytes === 0) throw new Error('nothing serialised');
  } else if (mode === 'buffered') {
    const response = await transport.nodeHttpTransport({
      method: 'POST',
      url: new URL('/api/v1/data/sync', process.env.CONVEX_URL),
      headers: {
        authorization: `Convex ${process.env.CONVEX_DEPLOY_KEY}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ selection }),
      signal: AbortSignal.timeout(300_000),
    });
    const parsed = lossless.parseLossless(response.body) as { values: unknown[] };
    values = parsed.values.length;
  } else if (mode === 'exporter' && exporter) {
    const [wiring, exportChanges, observability] = exporter;
    const c = config();
    const deps = await wiring.buildExportDeps(c, {
      metrics: new observability.MemoryMetrics(),
      log: observability.silentLog,
    });
    const outcome = await exportChanges.exportChanges(deps, {
      ...wiring.exportOptionsFrom(c),
      owner: 'bench-data-sync-page',
      remainingMs: () => Number.POSITIVE_INFINITY,
      follow: false,
    });
    values = 'events' in outcome ? outcome.events : -1;
  }
  clearInterval(sampler);
  const result: PageProcessResult = {
    mode,
    values,
    rssBeforeMb,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    heapPeakMb: mb(heapPeak),
    seconds: (performance.now() - started) / 1000,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * `npx tsx bench/data-sync-page-memory.ts [--values N] [--doc-bytes N] [--exporter]`: prints a
 * table; `--exporter` also starts moto and kinesalite and runs the exporter on the page.
 */
async function standalone(argv: string[]): Promise<void> {
  const arg = (name: string, fallback: number) => {
    const i = argv.indexOf(name);
    return i < 0 ? fallback : Number(argv[i + 1]);
  };
  const values = arg('--values', 16_384);
  // 16,384 documents of this size make a page of about 64 MiB (values plus their JSON framing).
  const docBytes = arg('--doc-bytes', 3_900);
  const { startBenchSim } = await import('./bench-sim.js');
  const sim = await startBenchSim({
    deployKey: `bench:local|${randomBytes(18).toString('base64url')}`,
    snapshotDocs: 0,
    deltaChanges: 0,
    latencyMs: 0,
  });
  const withExporter = argv.includes('--exporter');
  const aws = withExporter ? await startExporterResources() : undefined;
  try {
    const modes: PageMode[] = ['idle', 'feed', 'buffered', ...(aws ? (['exporter'] as const) : [])];
    const out = await dataSyncPageMemory(sim, { values, docBytes, modes }, aws?.env);
    process.stdout.write(`${formatPageMemory(out)}\n`);
  } finally {
    await sim.stop();
    await aws?.stop();
  }
}

/** Local moto and kinesalite with a stream, state table and bucket, for the exporter step. */
async function startExporterResources() {
  const [{ startLocalAws }, clients, setup] = await Promise.all([
    import('../local/local-aws.js'),
    import('../shared/aws/clients.js'),
    import('../shared/setup/ensure-resources.js'),
  ]);
  const aws = await startLocalAws();
  Object.assign(process.env, aws.env);
  const names = {
    BRIDGE_STREAM_NAME: 'bench-ds-page',
    BRIDGE_STATE_TABLE: 'bench-ds-state',
    BRIDGE_OVERSIZE_BUCKET: 'bench-ds-oversize',
  };
  await setup.ensureStream(clients.createKinesisClient(), names.BRIDGE_STREAM_NAME, 2);
  await setup.ensureStateTable(clients.createDynamoDbClient(), names.BRIDGE_STATE_TABLE);
  await setup.ensureBucket(clients.createS3Client(), names.BRIDGE_OVERSIZE_BUCKET);
  return { env: { ...aws.env, ...names }, stop: () => aws.stop() };
}

/** Markdown rows for the report. */
export function formatPageMemory(out: DataSyncPageMemory): string {
  const lines = [
    `One Data Sync page of ${out.values.toLocaleString('en-US')} values, ${mb(out.pageBytes).toFixed(1)} MiB of JSON:`,
    '',
    '| process | peak RSS (MiB) | RSS before the page (MiB) | heap peak (MiB) | seconds |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const r of out.results)
    lines.push(
      `| ${r.mode} | ${r.maxRssMb.toFixed(0)} | ${r.rssBeforeMb.toFixed(0)} | ${r.heapPeakMb.toFixed(0)} | ${r.seconds.toFixed(1)} |`,
    );
  return lines.join('\n');
}

// Run as a script (standalone or as one measurement's process); imported, it only exports.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') await child(argv[1] as PageMode);
  else await standalone(argv);
}
