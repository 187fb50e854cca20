import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { z } from 'zod';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
  createSqsClient,
} from '../shared/aws/clients.js';
import { intSetting, parseEnv } from '../shared/config/parse-env.js';
import { loadExportConfig } from '../shared/export/config.js';
import {
  type ExportDeps,
  ExportResyncRequiredError,
  exportChanges,
  lagSeconds,
} from '../shared/export/export-changes.js';
import { type ExportState, initialExportState } from '../shared/export/export-state.js';
import { nextGeneration, positionTs } from '../shared/export/generation.js';
import type { FeedPosition } from '../shared/ports/change-feed.js';
import { MemoryMetrics } from '../shared/ports/observability.js';
import {
  type EnsureReport,
  ensureBucket,
  ensureQueues,
  ensureStateTable,
  ensureStream,
  formatReport,
  queueNameFromUrl,
  unusable,
} from '../shared/setup/ensure-resources.js';
import { buildExportDeps, exportOptionsFrom } from '../shared/wiring/export.js';
import { followExport } from '../shared/wiring/follow-export.js';
import { EXIT, forTerminal, print, stderrLog, UsageError } from './output.js';
import { exportStore } from './status-command.js';

const owner = () => `cli:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

const followSchema = z.object({
  /** The longest wait between tries while a service is down (export --follow). */
  BRIDGE_FOLLOW_RETRY_MAX_MS: intSetting(1_000, 600_000, 30_000),
});

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

/** A line about the follower's own state (waiting, resumed) on stderr; stdout keeps results. */
const note = (text: string) => process.stderr.write(`export: ${forTerminal(text)}\n`);

function heartbeatInterval(raw: string | undefined): number {
  if (raw === undefined) return 30_000;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 86_400)
    throw new UsageError(`--heartbeat must be a number of seconds from 0 to 86400, got '${raw}'`);
  return Math.round(value * 1000);
}

const decimal = (n: number) => (n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US'));

/** One line saying the follower is alive: what it published, how fresh it is, whether it waits. */
function heartbeat(
  metrics: MemoryMetrics,
  state: ExportState | undefined,
  waitingSince: number | undefined,
  now: number,
): string {
  const t = metrics.totals;
  const [snap, up, del] = ['SnapshotEvents', 'UpsertEvents', 'DeleteEvents'].map(
    (name) => t.get(name) ?? 0,
  ) as [number, number, number];
  const parts = [
    `following · ${(snap + up + del).toLocaleString('en-US')} events published (snapshot ${snap}, upsert ${up}, delete ${del})`,
  ];
  const lag = metrics.last.get('LagSeconds');
  if (lag !== undefined) parts.push(`lag ${decimal(lag)} s at the last publish`);
  const p = state?.position;
  const cursorTs = state && p?.phase !== 'snapshot' ? positionTs(state) : undefined;
  if (cursorTs !== undefined) parts.push(`cursor age ${decimal(lagSeconds(now, cursorTs))} s`);
  parts.push(`phase ${p?.phase ?? 'starting'}`);
  if (waitingSince !== undefined)
    parts.push(`waiting for a service for ${seconds(now - waitingSince)}`);
  return parts.join(' · ');
}

/** `export [--follow]`: run the exporter here until caught up, or keep following until Ctrl-C. */
export async function exportCommand(flags: {
  follow: boolean;
  verbose: boolean;
  quiet?: boolean;
  heartbeat?: string | undefined;
}): Promise<number> {
  const heartbeatMs = heartbeatInterval(flags.heartbeat);
  const config = loadExportConfig(process.env);
  const followSettings = flags.follow ? parseEnv(followSchema, process.env) : undefined;
  const metrics = new MemoryMetrics();
  const log = stderrLog(flags.verbose);
  const built = await buildExportDeps(config, { metrics, log });
  // The heartbeat reports the cursor as last checkpointed.
  let saved: ExportState | undefined;
  const deps: ExportDeps = {
    ...built,
    store: {
      acquire: (o, ttl) => built.store.acquire(o, ttl),
      read: () => built.store.read(),
      release: (lease) => built.store.release(lease),
      checkpoint: async (lease, state, ttl) => {
        const next = await built.store.checkpoint(lease, state, ttl);
        saved = state;
        return next;
      },
    },
  };
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const run = {
    ...exportOptionsFrom(config),
    owner: owner(),
    remainingMs: () => Number.POSITIVE_INFINITY,
    signal: stop.signal,
  };
  const totals = () => {
    const t = metrics.totals;
    return `(snapshot ${t.get('SnapshotEvents') ?? 0}, upsert ${t.get('UpsertEvents') ?? 0}, delete ${t.get('DeleteEvents') ?? 0})`;
  };
  try {
    if (followSettings) {
      let waitingSince: number | undefined;
      const beat =
        flags.quiet || heartbeatMs === 0
          ? undefined
          : setInterval(
              () => note(heartbeat(metrics, saved, waitingSince, Date.now())),
              heartbeatMs,
            );
      beat?.unref();
      // Outages are waited out (capped backoff, lease kept); Ctrl-C stops and releases the lease.
      const outcome = await followExport(deps, run, {
        retry: { baseMs: 1_000, maxMs: followSettings.BRIDGE_FOLLOW_RETRY_MAX_MS },
        events: {
          waiting: (w) => {
            waitingSince ??= Date.now() - w.downForMs;
            note(
              `waiting: ${w.reason} (try ${w.attempt} failed, down for ${seconds(w.downForMs)}, next try in ${seconds(w.retryInMs)}${w.leaseKept ? ', lease kept' : ''})`,
            );
          },
          resumed: (r) => {
            waitingSince = undefined;
            note(`resumed after ${seconds(r.downForMs)} down`);
          },
          leaseHeld: (h) =>
            note(
              `waiting: the export lease is held by ${h.holder ?? 'another run'}; trying again in ${seconds(h.retryInMs)}`,
            ),
        },
      }).finally(() => clearInterval(beat));
      if (outcome.status === 'lease-lost') {
        print(`export stopped after ${outcome.events} events: another run took the lease over`);
        return EXIT.leaseHeld;
      }
      const events = metrics.totals;
      const published =
        (events.get('SnapshotEvents') ?? 0) +
        (events.get('UpsertEvents') ?? 0) +
        (events.get('DeleteEvents') ?? 0);
      print(
        `export stopped: ${published} events ${totals()}${
          outcome.status === 'stopped-while-waiting'
            ? ', while waiting for a service to come back'
            : 'state' in outcome
              ? `; phase ${outcome.state.position.phase}`
              : ''
        }`,
      );
      return EXIT.ok;
    }
    const outcome = await exportChanges(deps, { ...run, follow: false });
    if (outcome.status === 'lease-held') {
      print(`export lease is held by ${outcome.holder ?? 'another run'}; try again later`);
      return EXIT.leaseHeld;
    }
    if (outcome.status === 'lease-lost') {
      print(`export stopped after ${outcome.events} events: another run took the lease over`);
      return EXIT.leaseHeld;
    }
    print(
      `export ${outcome.status}: ${outcome.events} events in ${outcome.pages} pages ${totals()}; ` +
        `phase ${outcome.state.position.phase}`,
    );
    return EXIT.ok;
  } catch (error) {
    if (error instanceof ExportResyncRequiredError) {
      print(error.message);
      return EXIT.resyncRequired;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * `setup`: create whatever is configured and missing (local emulators, trials); report what exists,
 * naming settings that differ. Exit 1 only when a resource exists in a form the bridge cannot use.
 */
export async function setupCommand(): Promise<number> {
  const env = process.env;
  const queues = Boolean(env.BRIDGE_QUEUE_URL || env.BRIDGE_DLQ_URL);
  if (queues && (!env.BRIDGE_QUEUE_URL || !env.BRIDGE_DLQ_URL))
    throw new UsageError(
      'set both BRIDGE_QUEUE_URL and BRIDGE_DLQ_URL to create the import queues',
    );
  if (!env.BRIDGE_STREAM_NAME && !env.BRIDGE_STATE_TABLE && !env.BRIDGE_OVERSIZE_BUCKET && !queues)
    throw new UsageError(
      'nothing to set up: set BRIDGE_STREAM_NAME, BRIDGE_STATE_TABLE, BRIDGE_OVERSIZE_BUCKET and/or BRIDGE_QUEUE_URL with BRIDGE_DLQ_URL',
    );
  // One line per resource as soon as it is known; existing resources are never changed.
  const problems: string[] = [];
  const report = (label: string, r: EnsureReport) => {
    print(`${label}: ${formatReport(r)}`);
    const bad = unusable(r);
    if (bad.length > 0)
      problems.push(
        `${label} cannot be used: ${bad.map((d) => `${d.setting} is ${d.found}, the bridge needs ${d.wanted}`).join('; ')}`,
      );
  };
  if (env.BRIDGE_STREAM_NAME)
    report(
      `stream ${env.BRIDGE_STREAM_NAME}`,
      await ensureStream(createKinesisClient(), env.BRIDGE_STREAM_NAME),
    );
  if (env.BRIDGE_STATE_TABLE)
    report(
      `state table ${env.BRIDGE_STATE_TABLE}`,
      await ensureStateTable(createDynamoDbClient(), env.BRIDGE_STATE_TABLE),
    );
  if (env.BRIDGE_OVERSIZE_BUCKET)
    report(
      `oversize bucket ${env.BRIDGE_OVERSIZE_BUCKET}`,
      await ensureBucket(createS3Client(), env.BRIDGE_OVERSIZE_BUCKET),
    );
  if (env.BRIDGE_QUEUE_URL && env.BRIDGE_DLQ_URL) {
    const { queueUrl, dlqUrl, queue, dlq } = await ensureQueues(
      createSqsClient(),
      queueNameFromUrl(env.BRIDGE_QUEUE_URL),
      queueNameFromUrl(env.BRIDGE_DLQ_URL),
    );
    report(`import queue: ${queueUrl}`, queue);
    report(`dead-letter queue: ${dlqUrl}`, dlq);
  }
  if (problems.length > 0) {
    for (const problem of problems) process.stderr.write(`convex-bridge: ${problem}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

/** `resync`: throw away the cursors and start again from a fresh snapshot (after confirmation). */
export async function resyncCommand(flags: { yes: boolean }): Promise<number> {
  if (!flags.yes) {
    if (!process.stdin.isTTY)
      throw new UsageError(
        'resync restarts the export from a fresh snapshot; pass --yes to confirm',
      );
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(
      'This re-publishes every document as a snapshot event. Type "resync" to confirm: ',
    );
    rl.close();
    if (answer.trim() !== 'resync') {
      print('resync cancelled');
      return EXIT.usage;
    }
  }
  const store = exportStore();
  const me = owner();
  const held = await store.acquire(me, 30_000);
  if (!held) {
    print('an exporter holds the lease right now; stop it (or wait for the tick to end) and retry');
    return EXIT.leaseHeld;
  }
  // The same path as an automatic resync: the next generation, announced by resync-start.
  const current = held.state;
  const at = new Date().toISOString();
  const next =
    current === undefined
      ? initialExportState(1)
      : nextGeneration(
          current,
          sourceStart(current.position),
          { code: 'operator', message: 'convex-bridge resync' },
          at,
        );
  await store.checkpoint(held.lease, next, 1);
  await store.release(held.lease);
  print(
    `export reset to a fresh snapshot (generation ${next.generation}); consumers get resync-start, the new snapshot, then snapshot-complete`,
  );
  return EXIT.ok;
}

/** Where a new generation of an export on this source starts: its source's fresh snapshot. */
function sourceStart(position: FeedPosition): FeedPosition {
  return position.source === 'data-sync'
    ? { source: 'data-sync', phase: 'snapshot' }
    : { source: 'legacy', phase: 'snapshot' };
}
