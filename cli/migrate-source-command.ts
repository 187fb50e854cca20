import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConvexSourceMigration } from '../shared/adapters/convex-source-migration.js';
import { DynamoDbExportStore } from '../shared/adapters/dynamodb-export-store.js';
import { createDynamoDbClient, createSecretsManagerClient } from '../shared/aws/clients.js';
import { loadExportConfig } from '../shared/export/config.js';
import type { ExportState } from '../shared/export/export-state.js';
import { connectToConvex } from '../shared/wiring/convex.js';
import { EXIT, print } from './output.js';

/** Long enough for one Convex call with its retries; the checkpoint extends nothing after it. */
const LEASE_TTL_MS = 120_000;

const nsToIso = (ns: string) => new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();

/**
 * `migrate-source [--dry-run]`: moves a legacy export that follows its change log onto Data Sync
 * without a re-copy, under the export's lease (so no exporter runs meanwhile), and records it.
 * The same selection as the exporter's (its BRIDGE_* table settings), so nothing is read twice or
 * missed. `--dry-run` asks Convex but changes nothing and takes no lease.
 */
export async function migrateSourceCommand(flags: { dryRun: boolean }): Promise<number> {
  const config = loadExportConfig(process.env);
  const store = new DynamoDbExportStore(createDynamoDbClient(), config.stateTable, config.exportId);
  const convex = await connectToConvex(config.convex, () => createSecretsManagerClient());
  const migration = new ConvexSourceMigration(convex);
  const filter = Object.keys(config.filter).length > 0 ? { filter: config.filter } : {};

  if (flags.dryRun) {
    const { state } = await store.read();
    const blocked = precondition(state, config.exportId);
    if (blocked) return report(blocked);
    const outcome = await migration.migrate((state as ExportState).position, filter);
    if ('refused' in outcome) {
      print(`would keep the legacy source: ${outcome.refused}`);
      return EXIT.failed;
    }
    print(`would move export '${config.exportId}' onto Data Sync (${describeFrom(state)})`);
    return EXIT.ok;
  }

  const owner = `cli:migrate-source:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const held = await store.acquire(owner, LEASE_TTL_MS);
  if (!held) {
    const { lease } = await store.read();
    print(
      `the export lease is held by ${lease?.owner ?? 'another run'}; stop the exporter (or wait for its run to end) and try again`,
    );
    return EXIT.leaseHeld;
  }
  try {
    const blocked = precondition(held.state, config.exportId);
    if (blocked) return report(blocked);
    const state = held.state as ExportState;
    const outcome = await migration.migrate(state.position, filter);
    if ('refused' in outcome) {
      print(`kept the legacy source: ${outcome.refused}`);
      return EXIT.failed;
    }
    const at = new Date().toISOString();
    const p = state.position;
    await store.checkpoint(
      held.lease,
      {
        ...state,
        position: outcome.position,
        // Data Sync's cursor is opaque: keep the log time it stands at for status and lag.
        ...(p.source === 'legacy' && p.phase === 'deltas' ? { cursorTs: p.deltaCursor } : {}),
        migration: { at, outcome: 'migrated' },
        updatedAt: at,
      },
      LEASE_TTL_MS,
    );
    print(
      `moved export '${config.exportId}' onto Data Sync: it continues after ${describeFrom(state)}, copying nothing again`,
    );
    return EXIT.ok;
  } finally {
    await store.release(held.lease);
  }
}

type Blocked = { readonly message: string; readonly code: number };

/** Why there is nothing to migrate (or nothing yet), before asking Convex. */
function precondition(state: ExportState | undefined, exportId: string): Blocked | undefined {
  if (state === undefined)
    return {
      message: `export '${exportId}' has no state yet: a new export starts on the source BRIDGE_SOURCE chooses`,
      code: EXIT.failed,
    };
  if (state.position.source === 'data-sync')
    return { message: `export '${exportId}' already reads Data Sync`, code: EXIT.ok };
  if (state.resyncNeeded)
    return {
      message: `kept the legacy source: the export needs a resync first (${state.resyncNeeded.code}); run \`convex-bridge resync\`, whose new snapshot starts on the source BRIDGE_SOURCE chooses`,
      code: EXIT.resyncRequired,
    };
  return undefined;
}

function report(blocked: Blocked): number {
  print(blocked.message);
  return blocked.code;
}

function describeFrom(state: ExportState | undefined): string {
  const p = state?.position;
  if (p?.source !== 'legacy' || p.phase !== 'deltas') return 'its legacy position';
  return `legacy delta cursor ${p.deltaCursor} (${nsToIso(p.deltaCursor)})`;
}
