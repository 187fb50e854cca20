import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { SqsMessageQueue } from '../shared/adapters/sqs-message-queue.js';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
  createSecretsManagerClient,
  createSqsClient,
} from '../shared/aws/clients.js';
import { intSetting, parseEnv } from '../shared/config/parse-env.js';
import { ENV } from '../shared/env.js';
import { ConfigError } from '../shared/errors.js';
import { loadExportConfig } from '../shared/export/config.js';
import { ExportResyncRequiredError } from '../shared/export/export-changes.js';
import { tablePredicate } from '../shared/export/table-filter.js';
import { loadImportConfig } from '../shared/import/config.js';
import { drainQueue } from '../shared/import/drain-queue.js';
import type { ExportStateStore } from '../shared/ports/export-state-store.js';
import { type LogSink, MemoryMetrics } from '../shared/ports/observability.js';
import {
  ensureBucket,
  ensureQueues,
  ensureStateTable,
  ensureStream,
} from '../shared/setup/ensure-resources.js';
import { connectToConvex } from '../shared/wiring/convex.js';
import { buildExportDeps, exportOptionsFrom } from '../shared/wiring/export.js';
import { followExport } from '../shared/wiring/follow-export.js';
import { buildImportDeps, importOptionsFrom } from '../shared/wiring/import.js';
import { seedDemoData } from '../simulator/demo-data.js';
import { type Simulator, startSimulator } from '../simulator/server.js';
import { DEMO_IMPORT_TABLES, startDemoSender, startDemoWriter } from './demo-writer.js';
import { FlowStats } from './flow-stats.js';
import { startLocalAws } from './local-aws.js';
import { estimateSnapshot } from './snapshot-estimate.js';
import { startScreen } from './terminal.js';

export interface LocalBridgeOptions {
  /** Extra demo documents (table `events`) so the snapshot takes long enough to watch. */
  readonly docs: number;
  /** Simulated Convex round-trip latency per request. */
  readonly latencyMs: number;
  /** Demo writer changes per second (0 = none). */
  readonly writesPerSecond: number;
  /** Import into a real deployment too (always on against the simulator). */
  readonly importIntoRealDeployment: boolean;
}

type Out = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean; columns?: number };

const NAMES = {
  stream: 'convex-changes',
  stateTable: 'convex-bridge-state',
  bucket: 'convex-bridge-oversize',
  queue: 'convex-bridge-import',
  dlq: 'convex-bridge-import-dlq',
};

const RETRY_AFTER_ERROR_MS = 5_000;

const followSchema = z.object({ BRIDGE_FOLLOW_RETRY_MAX_MS: intSetting(1_000, 600_000, 30_000) });

/**
 * `npm start`: local AWS stand-ins, the simulator with demo data (or a real deployment from
 * CONVEX_URL + CONVEX_DEPLOY_KEY), the exporter following changes, the importer, and a live view.
 * Runs until `signal` fires, then stops everything it started, in order, and resolves.
 */
export async function runLocalBridge(
  options: LocalBridgeOptions,
  env: NodeJS.ProcessEnv,
  out: Out,
  signal: AbortSignal,
): Promise<void> {
  const say = (text: string) => out.write(`${text}\n`);
  const started: { name: string; stop: () => Promise<void> | void }[] = [];
  const url = env[ENV.convexUrl]?.trim();
  const key = env[ENV.deployKey]?.trim();
  if (Boolean(url) !== Boolean(key))
    throw new ConfigError(
      url
        ? `${ENV.convexUrl} is set but ${ENV.deployKey} is not: set both to read a deployment, neither for the demo`
        : `${ENV.deployKey} is set but ${ENV.convexUrl} is not: set both to read a deployment, neither for the demo`,
    );
  const real = Boolean(url && key);
  try {
    say('starting local AWS stand-ins (moto, kinesalite)…');
    const aws = await startLocalAws();
    started.push({ name: 'moto and kinesalite', stop: () => aws.stop() });
    say(
      `started moto at ${aws.env.AWS_ENDPOINT_URL} and kinesalite at ${aws.env.AWS_ENDPOINT_URL_KINESIS}`,
    );
    // The SDK clients read endpoints and credentials from the process environment.
    Object.assign(process.env, aws.env);

    let sim: Simulator | undefined;
    let convexUrl = env[ENV.convexUrl] ?? '';
    let deployKey = env[ENV.deployKey] ?? '';
    if (!real) {
      deployKey = `local:demo|${randomBytes(24).toString('base64url')}`;
      sim = await startSimulator({ deployKey, port: 0 });
      started.push({ name: 'Convex simulator', stop: () => sim?.close() });
      seedDemoData(sim.deployment, { events: options.docs });
      sim.faults.configure({ latencyMs: options.latencyMs });
      convexUrl = sim.url;
      say(`started the Convex simulator at ${sim.url} with demo data`);
    } else {
      say(
        `using the Convex deployment at ${convexUrl} (read-only${options.importIntoRealDeployment ? ', import enabled' : ''})`,
      );
    }
    const importing = !real || options.importIntoRealDeployment;
    const sqs = createSqsClient();
    await ensureStream(createKinesisClient(), NAMES.stream);
    await ensureStateTable(createDynamoDbClient(), NAMES.stateTable);
    await ensureBucket(createS3Client(), NAMES.bucket);
    const queues = await ensureQueues(sqs, NAMES.queue, NAMES.dlq);
    say(
      `created stream ${NAMES.stream}, table ${NAMES.stateTable}, bucket ${NAMES.bucket}, queue ${NAMES.queue} with its DLQ`,
    );
    const bridgeEnv: NodeJS.ProcessEnv = {
      ...env,
      ...aws.env,
      [ENV.convexUrl]: convexUrl,
      [ENV.deployKey]: deployKey,
      [ENV.allowInsecureLoopback]: real ? env[ENV.allowInsecureLoopback] : 'true',
      [ENV.streamName]: NAMES.stream,
      [ENV.stateTable]: NAMES.stateTable,
      [ENV.oversizeBucket]: NAMES.bucket,
      [ENV.pollIntervalMs]: env[ENV.pollIntervalMs] ?? '250',
      [ENV.dlqUrl]: queues.dlqUrl,
      // The demo's table only on the simulator: a real deployment imports what the user lists.
      [ENV.importTables]:
        env[ENV.importTables] ?? (real ? '{}' : JSON.stringify(DEMO_IMPORT_TABLES)),
    };
    delete bridgeEnv[ENV.deployKeySecretId];
    const exportConfig = loadExportConfig(bridgeEnv);

    const convex = await connectToConvex(exportConfig.convex, () => createSecretsManagerClient());
    const stats = new FlowStats(
      await estimateSnapshot(convex, tablePredicate(exportConfig.filter)),
    );
    const log = recordingLog(stats);
    const metrics = new MemoryMetrics();

    const loops: Promise<void>[] = [];
    const exportDeps = await buildExportDeps(exportConfig, { metrics, log });
    const inner = exportDeps.publisher;
    const deps = {
      ...exportDeps,
      publisher: {
        publish: async (...args: Parameters<typeof inner.publish>) => {
          const [events] = args;
          const result = await inner.publish(...args);
          stats.published(events, Date.now());
          return result;
        },
      },
      store: watchPhase(exportDeps.store, () => stats.snapshotFinished(Date.now())),
    };
    const followRetry = parseEnv(followSchema, env);
    loops.push(
      keepRunning('exporter', stats, signal, async () => {
        // Outages are waited out here, with the lease kept; keepRunning reruns after other errors.
        await followExport(
          deps,
          {
            ...exportOptionsFrom(exportConfig),
            owner: `local:${hostname()}:${process.pid}`,
            remainingMs: () => Number.POSITIVE_INFINITY,
            signal,
          },
          {
            retry: { baseMs: 1_000, maxMs: followRetry.BRIDGE_FOLLOW_RETRY_MAX_MS },
            events: {
              waiting: (w) =>
                stats.wait(
                  'exporter',
                  `${w.reason} (try ${w.attempt} failed, next in ${Math.round(w.retryInMs / 1000)} s)`,
                  Date.now(),
                ),
              resumed: (r) =>
                stats.resume('exporter', `after ${Math.round(r.downForMs / 1000)} s`, Date.now()),
              leaseHeld: (h) =>
                stats.wait(
                  'exporter',
                  `the export lease is held by ${h.holder ?? 'another run'}`,
                  Date.now(),
                ),
            },
          },
        );
      }),
    );

    const stopDemo: (() => void)[] = [];
    if (importing) {
      const importConfig = loadImportConfig(bridgeEnv);
      const importDeps = await buildImportDeps(importConfig, { metrics, log });
      loops.push(
        keepRunning('importer', stats, signal, async () => {
          await drainQueue(new SqsMessageQueue(sqs, queues.queueUrl), importDeps, {
            import: importOptionsFrom(importConfig, () => Number.POSITIVE_INFINITY),
            follow: true,
            signal,
            onBatch: (result) => stats.imported(result),
          });
        }),
      );
      if (sim) {
        stopDemo.push(
          startDemoSender(sqs, queues.queueUrl, 2_000, (e) => {
            stats.lastError = `demo sender: ${(e as Error).message}`;
          }),
        );
      }
    }
    if (sim && options.writesPerSecond > 0)
      stopDemo.push(startDemoWriter(sim.deployment, options.writesPerSecond));

    const screen = startScreen(
      out,
      {
        convex: sim
          ? `simulator ${sim.url} · demo writer ${options.writesPerSecond} changes/s · latency ${options.latencyMs} ms`
          : `${convexUrl} (read-only${importing ? ', import on' : ''})`,
        aws: `moto ${aws.env.AWS_ENDPOINT_URL} · kinesalite ${aws.env.AWS_ENDPOINT_URL_KINESIS}`,
        resources: `stream ${NAMES.stream} · state ${NAMES.stateTable} · queue ${NAMES.queue}`,
      },
      stats,
    );
    if (!signal.aborted)
      await new Promise<void>((resolve) =>
        signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    for (const stop of stopDemo) stop();
    screen.stop();
    say('stopping… (Ctrl-C again to force)');
    await Promise.all(loops);
    say('stopped the exporter and importer (each finished its page in flight)');
  } finally {
    for (const part of started.reverse()) {
      await part.stop();
      say(`stopped ${part.name}`);
    }
  }
}

/** Runs `once` again after each failure (as the schedule would rerun a Lambda) until stopped. */
async function keepRunning(
  name: string,
  stats: FlowStats,
  signal: AbortSignal,
  once: () => Promise<void>,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await once();
    } catch (error) {
      if (signal.aborted) return;
      stats.lastError = `${name}: ${(error as Error).message}`;
      if (error instanceof ExportResyncRequiredError) return;
      await sleep(RETRY_AFTER_ERROR_MS, undefined, { signal }).catch(() => {});
    }
  }
}

/** Calls `onDeltas` when a checkpoint moves the export into the change log. */
function watchPhase(store: ExportStateStore, onDeltas: () => void): ExportStateStore {
  return {
    acquire: (owner, ttl) => store.acquire(owner, ttl),
    read: () => store.read(),
    release: (lease) => store.release(lease),
    checkpoint: async (lease, state, ttl) => {
      const next = await store.checkpoint(lease, state, ttl);
      if (state.position.phase !== 'snapshot') onDeltas();
      return next;
    },
  };
}

/** Warnings and errors go to the view's "last error" line; info would only scroll the dashboard. */
function recordingLog(stats: FlowStats): LogSink {
  const keep = (message: string, fields?: Record<string, unknown>) => {
    stats.lastError = `${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`;
  };
  return { info: () => {}, warn: keep, error: keep };
}
