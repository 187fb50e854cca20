import type { InProgressTablet, NamedTablet, SyncCursor } from './data-sync-cursor.js';
import {
  type Deployment,
  type DocRecord,
  type LogEntry,
  revisionAt,
  type Tablet,
  upperBound,
} from './deployment.js';
import type { Selection } from './selection.js';
import { SimError } from './sim-error.js';
import { type Document, valueSize } from './values.js';

/**
 * The Data Sync engine, after the backend's DataSyncIterator (docs/convex-api.md §5).
 *
 * A cursor *captures* a document when its table was walked to the end at `syncedTs`, or it is in
 * the table being walked with an id at or before the walk's position. Each page does one of two
 * things:
 * - walk by id: read the next documents of the table in progress as they were at `syncedTs`
 *   (not a pinned snapshot of the whole deployment: `syncedTs` moves between walk pages);
 * - follow the log: replay every revision after `syncedTs` of captured documents only, whole
 *   transactions at a time, and move `syncedTs` to the last transaction read (or to the latest
 *   timestamp when the log runs out).
 * A page walks while a table is in progress and `syncedTs` lags the latest timestamp by less than
 * `dataSyncByIdFreshnessSeconds`; otherwise it follows the log. A document written during the
 * walk is either captured (its later revisions come from the log, deletions as tombstones) or
 * read by the walk at a later `syncedTs`; so it can appear several times at increasing revisions,
 * and once every table is walked the applied values equal the deployment at `syncedTs`.
 */

export interface SyncEntry {
  readonly tablet: Tablet;
  readonly ts: bigint;
  readonly id: string;
  /** null: a tombstone. */
  readonly value: Document | null;
}

export type SyncStatus =
  | { readonly type: 'snapshotting' }
  | { readonly type: 'stale' | 'upToDate'; readonly snapshotTs: bigint };

export interface SyncPage {
  /** Tables whose walk began on this page; consumers drop what they hold for them first. */
  readonly truncates: readonly NamedTablet[];
  readonly entries: readonly SyncEntry[];
  readonly cursor: SyncCursor;
  readonly status: SyncStatus;
  /** Selected tables now, for progress. */
  readonly totalTables: number;
}

const NS_PER_S = 1_000_000_000n;

const named = (t: Tablet): NamedTablet => ({ tablet: t.id, component: t.component, table: t.name });

export const cursorExpired = () =>
  new SimError(
    400,
    'DataSyncCursorExpired',
    "The data sync cursor is outside the deployment's data retention window and can no longer be resumed. Restart the sync from scratch by calling /data/sync without a cursor.",
  );

/** Selected user tablets that exist now, in tablet-id order (the walk order). */
export function targetTablets(deployment: Deployment, latest: bigint, selection: Selection) {
  return deployment.tabletsAt(latest).filter((t) => selection.includes(t.component, t.name));
}

function startTable(
  synced: ReadonlySet<string>,
  targets: readonly Tablet[],
): InProgressTablet | null {
  const next = targets.find((t) => !synced.has(t.id));
  return next ? { ...named(next), currentId: null, docsInTable: 0 } : null;
}

/** One page of a sync; `cursor` undefined starts one (cold start) at the latest timestamp. */
export function nextSyncPage(
  deployment: Deployment,
  previous: SyncCursor | undefined,
  selection: Selection,
  newSyncId: () => string,
): SyncPage {
  const latest = deployment.readTs();
  const targets = targetTablets(deployment, latest, selection);
  const byId = new Map(targets.map((t) => [t.id, t]));

  // The selection is diffed against the cursor on every page: tables no longer selected (or
  // dropped by a replace) are forgotten without a truncate; new ones are walked when their turn comes.
  const synced = new Set(
    (previous?.synced ?? []).map((t) => t.tablet).filter((id) => byId.has(id)),
  );
  let inProgress = previous ? previous.inProgress : startTable(synced, targets);
  if (previous && (inProgress === null || !byId.has(inProgress.tablet)))
    inProgress = startTable(synced, targets);
  const syncedTs = previous?.syncedTs ?? latest;
  if (syncedTs > latest) {
    throw new SimError(
      400,
      'InvalidDataSyncCursor',
      "data sync cursor is ahead of the deployment's latest timestamp",
    );
  }
  const oldest = deployment.now() - BigInt(deployment.knobs.retentionSeconds) * NS_PER_S;
  if (syncedTs < oldest) throw cursorExpired();

  const state: WorkingCursor = {
    syncedTs,
    synced,
    inProgress,
    docsSynced: previous?.docsSynced ?? 0,
  };
  const freshness = BigInt(Math.round(deployment.knobs.dataSyncByIdFreshnessSeconds * 1e9));
  const entries =
    inProgress && latest - syncedTs < freshness
      ? walkPage(deployment, state, targets, byId)
      : logPage(deployment, state, latest);

  const before = new Set([
    ...(previous?.synced ?? []).map((t) => t.tablet),
    ...(previous?.inProgress ? [previous.inProgress.tablet] : []),
  ]);
  const captured = [...state.synced, ...(state.inProgress ? [state.inProgress.tablet] : [])];
  const truncates = targets.filter((t) => captured.includes(t.id) && !before.has(t.id)).map(named);
  const cursor: SyncCursor = {
    syncId: previous?.syncId ?? newSyncId(),
    syncedTs: state.syncedTs,
    synced: targets.filter((t) => state.synced.has(t.id)).map(named),
    inProgress: state.inProgress,
    docsSynced: state.docsSynced,
  };
  let status: SyncStatus = { type: 'snapshotting' };
  if (!state.inProgress)
    status = { type: state.syncedTs < latest ? 'stale' : 'upToDate', snapshotTs: state.syncedTs };
  return { truncates, entries, cursor, status, totalTables: targets.length };
}

interface WorkingCursor {
  syncedTs: bigint;
  synced: Set<string>;
  inProgress: InProgressTablet | null;
  docsSynced: number;
}

/** The next documents of the table in progress as of `syncedTs`; at its end the next table starts. */
function walkPage(
  deployment: Deployment,
  state: WorkingCursor,
  targets: readonly Tablet[],
  byId: ReadonlyMap<string, Tablet>,
): SyncEntry[] {
  const current = state.inProgress as InProgressTablet;
  const tablet = byId.get(current.tablet) as Tablet;
  const { dataSyncPageSizeLimit, dataSyncMaxRowsRead, dataSyncPageBytesLimit } = deployment.knobs;
  const limit = Math.max(1, Math.min(dataSyncPageSizeLimit, dataSyncMaxRowsRead));
  const ids = deployment.sortedIds(tablet);
  const entries: SyncEntry[] = [];
  let bytes = 0;
  let currentId = current.currentId;
  let limited = false;
  for (let pos = currentId === null ? 0 : upperBound(ids, currentId); pos < ids.length; pos++) {
    const record = tablet.docs.get(ids[pos] as string) as DocRecord;
    const rev = revisionAt(record, state.syncedTs);
    if (!rev?.value) continue; // not in the table at syncedTs: the log brings it if captured
    entries.push({ tablet, ts: rev.ts, id: record.id, value: rev.value });
    currentId = record.internalHex;
    bytes += valueSize(rev.value);
    // Checked after the push, so one document larger than the byte target still moves the walk.
    if (bytes >= dataSyncPageBytesLimit || entries.length >= limit) {
      limited = true;
      break;
    }
  }
  state.docsSynced += entries.length;
  if (limited) {
    state.inProgress = { ...current, currentId, docsInTable: current.docsInTable + entries.length };
  } else {
    state.synced.add(tablet.id);
    state.inProgress = startTable(state.synced, targets);
  }
  return entries;
}

/**
 * Captured revisions after `syncedTs`, whole transactions only. Rows read count every log row
 * (system and unselected tables too); a transaction bigger than every limit still comes whole
 * when it is the page's first.
 */
function logPage(deployment: Deployment, state: WorkingCursor, latest: bigint): SyncEntry[] {
  const { dataSyncPageSizeLimit, dataSyncMaxRowsRead, dataSyncPageBytesLimit } = deployment.knobs;
  const log = deployment.log;
  const entries: SyncEntry[] = [];
  let batch: SyncEntry[] = [];
  let batchBytes = 0;
  let pageBytes = 0;
  let batchTs: bigint | undefined;
  let newSyncedTs = latest;
  let rowsRead = 0;
  let committedAny = false;
  let hitLimit = false;
  for (let i = deployment.firstLogIndexAfter(state.syncedTs); i < log.length; i++) {
    const row = log[i] as LogEntry;
    if (row.ts > latest) break;
    if (row.ts !== batchTs) {
      if (batchTs !== undefined) {
        entries.push(...batch);
        batch = [];
        pageBytes += batchBytes;
        batchBytes = 0;
        newSyncedTs = batchTs;
        committedAny = true;
        if (
          rowsRead >= dataSyncMaxRowsRead ||
          entries.length >= dataSyncPageSizeLimit ||
          pageBytes >= dataSyncPageBytesLimit
        ) {
          hitLimit = true;
          break;
        }
      }
      batchTs = row.ts;
    }
    rowsRead++;
    if (isCaptured(row.record, state)) {
      batch.push({ tablet: row.record.tablet, ts: row.ts, id: row.record.id, value: row.value });
      batchBytes += row.value ? valueSize(row.value) : 0;
    }
    // Past the read budget mid-transaction: drop the partial one, it is read again next page.
    if (rowsRead >= dataSyncMaxRowsRead && committedAny) {
      hitLimit = true;
      break;
    }
  }
  if (!hitLimit) {
    entries.push(...batch);
    newSyncedTs = latest;
  }
  state.syncedTs = newSyncedTs;
  state.docsSynced += entries.length;
  return entries;
}

function isCaptured(record: DocRecord, state: WorkingCursor): boolean {
  if (state.synced.has(record.tablet.id)) return true;
  const current = state.inProgress;
  return (
    current !== null &&
    current.tablet === record.tablet.id &&
    current.currentId !== null &&
    record.internalHex <= current.currentId
  );
}

/**
 * A cursor continuing a legacy document_deltas position: every selected table that exists now
 * counts as walked at `deltasCursor`, so only log entries after it follow, with no truncates.
 */
export function cursorFromDeltas(
  deployment: Deployment,
  deltasCursor: bigint,
  selection: Selection,
  syncId: string,
): SyncCursor {
  const latest = deployment.readTs();
  if (deltasCursor < 0n) {
    throw new SimError(
      400,
      'InvalidDataSyncCursor',
      `Invalid document_deltas cursor ${deltasCursor}: timestamps are never negative`,
    );
  }
  if (deltasCursor > latest) {
    throw new SimError(
      400,
      'InvalidDataSyncCursor',
      `The document_deltas cursor ${deltasCursor} is ahead of the deployment's latest timestamp`,
    );
  }
  const oldest = deployment.now() - BigInt(deployment.knobs.retentionSeconds) * NS_PER_S;
  if (deltasCursor < oldest) throw cursorExpired();
  return {
    syncId,
    syncedTs: deltasCursor,
    synced: targetTablets(deployment, latest, selection).map(named),
    inProgress: null,
    docsSynced: 0,
  };
}
