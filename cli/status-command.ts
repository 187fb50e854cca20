import { DynamoDbExportStore } from '../shared/adapters/dynamodb-export-store.js';
import { createDynamoDbClient } from '../shared/aws/dynamodb-client.js';
import { SETTING_EXAMPLES, withoutEmpty } from '../shared/config/setting-examples.js';
import { ENV } from '../shared/env.js';
import { ConfigError } from '../shared/errors.js';
import type { ExportState } from '../shared/export/export-state.js';
import { cursorTs } from '../shared/export/generation.js';
import { lagSeconds } from '../shared/export/page-batch.js';
import {
  DEFAULT_RETENTION_SECONDS,
  RETENTION_WARNING_SHARE,
  retentionUsed,
} from '../shared/export/retention-watch.js';
import { EXIT, forTerminal, print } from './output.js';

// `status` loads only the state store and the DynamoDB client: no Convex client, no other SDK,
// no zod (test/cli/startup.test.ts checks what it loads).

/**
 * The export's state store from the two settings that name it. Read without the config schema
 * library, so `status` starts fast; the messages match parseEnv's.
 */
export function exportStore(): DynamoDbExportStore {
  const env = withoutEmpty(process.env);
  const table = env[ENV.stateTable];
  if (table === undefined)
    throw new ConfigError(
      `invalid configuration:\n  ${ENV.stateTable} is required (the DynamoDB table for cursors and the lease), e.g. ${ENV.stateTable}=${SETTING_EXAMPLES[ENV.stateTable]}`,
    );
  return new DynamoDbExportStore(createDynamoDbClient(), table, env[ENV.exportId] ?? 'default');
}

/** A cursor older than this means no export is keeping up (a follower polls every few seconds). */
const FRESH_CURSOR_SECONDS = 60;

const age = (secondsAgo: number) =>
  secondsAgo < 120
    ? `${Math.round(secondsAgo)} s`
    : secondsAgo < 7_200
      ? `${Math.round(secondsAgo / 60)} min`
      : secondsAgo < 172_800
        ? `${Math.round(secondsAgo / 3_600)} h`
        : `${Math.round(secondsAgo / 86_400)} days`;

/**
 * Caught up, idle or behind. The cursor moves on while an export polls, even with no changes, so
 * its age says whether an export keeps up; the newest event's age only says when Convex last
 * changed. Both old: behind (or stopped). Cursor fresh, newest event old: caught up and idle.
 */
export function exportHealth(
  state: ExportState | undefined,
  leaseHeld: boolean,
  now: number,
): { state: string; summary: string } {
  const p = state?.position;
  if (!state || !p) return { state: 'not started', summary: 'not started: no export has run yet' };
  if (state.resyncNeeded)
    return {
      state: 'resync needed',
      summary: `stopped: Convex refused the cursor (${state.resyncNeeded.code}); run convex-bridge resync`,
    };
  if (p.phase === 'snapshot')
    return {
      state: 'snapshot',
      summary: `copying the snapshot${leaseHeld ? '' : ' (no export is running: no one holds the lease)'}`,
    };
  const at = cursorTs(state);
  if (at === undefined)
    return { state: 'changes', summary: 'following changes (the source has not said how far yet)' };
  const cursorAge = lagSeconds(now, at);
  const running = leaseHeld ? 'an export holds the lease' : 'no export holds the lease';
  if (cursorAge > FRESH_CURSOR_SECONDS)
    return {
      state: 'behind',
      summary: `behind: the cursor is ${age(cursorAge)} old (${running})`,
    };
  const newestAge = state.newestEventTs ? lagSeconds(now, state.newestEventTs) : undefined;
  if (newestAge === undefined || newestAge > FRESH_CURSOR_SECONDS)
    return {
      state: 'idle',
      summary: `caught up, idle: no changes for ${newestAge === undefined ? 'as long as the export ran' : age(newestAge)}; the cursor is ${age(cursorAge)} old`,
    };
  return {
    state: 'caught up',
    summary: `caught up: the cursor is ${age(cursorAge)} old, the newest event ${age(newestAge)}`,
  };
}

/** `status`: caught up, idle or behind; phase, cursors, lag, lease holder, resync condition. */
export async function statusCommand(flags: { json: boolean }): Promise<number> {
  const { state, lease } = await exportStore().read();
  const now = Date.now();
  const p = state?.position;
  const held = lease !== undefined && lease.expiresAt > now;
  const health = exportHealth(state, held, now);
  const retentionSeconds = retentionSetting();
  const used = retentionUsed(state, now, retentionSeconds);
  const warning =
    used !== undefined && used.share >= RETENTION_WARNING_SHARE
      ? `the cursor is ${age(used.ageSeconds)} old, ${Math.round(used.share * 100)} % of Convex's ${age(retentionSeconds)} retention: past it the export must resync (docs/runbook.md, CursorAge)`
      : undefined;
  const report = {
    warning,
    state: health.state,
    summary: health.summary,
    phase: p?.phase ?? 'not started',
    generation: state?.generation,
    source: p?.source,
    syncStatus: state?.sourceStatus?.status,
    syncId: state?.sourceStatus?.syncId,
    snapshotTs: p?.source === 'legacy' && p.phase === 'snapshot' ? p.snapshotTs : undefined,
    snapshotCursor: p?.source === 'legacy' && p.phase === 'snapshot' ? p.snapshotCursor : undefined,
    deltaCursor: p?.source === 'legacy' && p.phase === 'deltas' ? p.deltaCursor : undefined,
    cursorAgeSeconds: ((ts) => (ts === undefined ? undefined : lagSeconds(now, ts)))(
      cursorTs(state),
    ),
    retentionUsedPercent: used === undefined ? undefined : Math.round(used.share * 1000) / 10,
    baseSnapshotTs: state?.baseSnapshotTs,
    newestEventTs: state?.newestEventTs,
    /** Age of the newest event published: grows while Convex is idle, see `state`. */
    lagSeconds: state?.newestEventTs ? lagSeconds(now, state.newestEventTs) : undefined,
    lease:
      lease && held
        ? { holder: lease.owner, expiresInSeconds: (lease.expiresAt - now) / 1000 }
        : undefined,
    resyncNeeded: state?.resyncNeeded,
    lastResync: state?.lastResync,
    migration: state?.migration,
    lastError: state?.lastError,
    // Events the latest recovery found already in the stream after the checkpoint, and skipped.
    recoveredRecords: state?.lastRecovery?.found,
    lastRecovery: state?.lastRecovery,
    updatedAt: state?.updatedAt,
  };
  if (flags.json) {
    print(JSON.stringify(report));
  } else {
    print(`${'state'.padEnd(17)} ${health.summary}`);
    if (warning !== undefined) print(forTerminal(`${'warning'.padEnd(17)} ${warning}`));
    for (const [k, v] of Object.entries(report))
      if (v !== undefined && k !== 'state' && k !== 'summary' && k !== 'warning')
        print(forTerminal(`${k.padEnd(17)} ${typeof v === 'object' ? JSON.stringify(v) : v}`));
  }
  return EXIT.ok;
}

/** BRIDGE_RETENTION_SECONDS, read without the schema library (status stays light). */
function retentionSetting(): number {
  const raw = withoutEmpty(process.env)[ENV.retentionSeconds];
  if (raw === undefined) return DEFAULT_RETENTION_SECONDS;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 3600)
    throw new ConfigError(
      `invalid configuration:\n  ${ENV.retentionSeconds} must be a whole number of seconds ≥ 3600, e.g. ${ENV.retentionSeconds}=${DEFAULT_RETENTION_SECONDS}`,
    );
  return seconds;
}
