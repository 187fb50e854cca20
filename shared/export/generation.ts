import type { FeedPosition } from '../ports/change-feed.js';
import type { ExportState } from './export-state.js';

/**
 * The log time (ns) the export's cursor stands at, when known: the legacy delta cursor, or what
 * the source last said (Data Sync's snapshotTs). None while a legacy snapshot is copied.
 */
export function cursorTs(state: ExportState | undefined): string | undefined {
  const p = state?.position;
  if (p?.source === 'legacy') return p.phase === 'deltas' ? p.deltaCursor : undefined;
  return state?.cursorTs;
}

/** The cursor's log time, else (nothing said yet) the newest event published. */
export function positionTs(state: ExportState): string | undefined {
  return cursorTs(state) ?? state.newestEventTs;
}

/**
 * The state that starts generation N+1 from `start` (a fresh snapshot): the cursors and the
 * published-event bookkeeping go, the gap is recorded, and the stream mark starts again at now
 * so a recovery never takes the old generation's records (whose eventIds the new snapshot
 * repeats) for the new one's. `resync-start` is published with the new generation's first batch.
 */
export function nextGeneration(
  state: ExportState,
  start: FeedPosition,
  reason: { readonly code: string; readonly message: string },
  at: string,
): ExportState {
  const generation = state.generation + 1;
  const gapFrom = positionTs(state);
  return {
    position: start,
    generation,
    updatedAt: at,
    lastResync: {
      reason: reason.code,
      message: reason.message,
      at,
      generation,
      ...(gapFrom !== undefined ? { gapFrom } : {}),
    },
    // Every shard is read from now on: positions of the old generation (held back at finds that
    // never came up) would let a recovery take its records, whose eventIds the new snapshot
    // repeats, for the new generation's.
    ...(state.streamMark !== undefined ? { streamMark: { shards: {}, at, notBefore: at } } : {}),
    ...(state.clearsHandled !== undefined ? { clearsHandled: state.clearsHandled } : {}),
    ...(state.schemaDigests !== undefined ? { schemaDigests: state.schemaDigests } : {}),
    ...(state.schemaCheckedAt !== undefined ? { schemaCheckedAt: state.schemaCheckedAt } : {}),
    ...(state.migration !== undefined ? { migration: state.migration } : {}),
    ...(state.lastRecovery !== undefined ? { lastRecovery: state.lastRecovery } : {}),
  };
}
