import { METRICS } from '../names.js';
import type { FeedPosition } from '../ports/change-feed.js';
import { isLandedControl, type ShardPosition, type StreamTail } from '../ports/event-publisher.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import type { ExportRun } from './export-run.js';
import type { ExportState } from './export-state.js';
import { emptyMark } from './stream-mark.js';

export interface RecoverDeps {
  readonly feed: { start(): FeedPosition };
  readonly tail?: StreamTail;
  readonly metrics: MetricsSink;
  readonly log: LogSink;
}

/**
 * Reads what landed in the stream after the checkpoint's mark (a crashed run's unsaved batch, a
 * taken-over run's last writes) and returns those eventIds, to be skipped when they come up again.
 * Without a mark (a new export, or a state written by an older version) it saves one first, so the
 * next recovery can; an unreadable stream only costs duplicates, never events.
 */
export async function recoverLanded(
  deps: RecoverDeps,
  run: ExportRun,
  now: () => number,
  limitPerShard: number,
): Promise<{ readonly landed: Map<string, ShardPosition> } | 'lease-lost'> {
  const landed = new Map<string, ShardPosition>();
  const { tail, log } = deps;
  if (tail === undefined) return { landed };
  const state = run.state;
  const mark = state.streamMark;
  if (mark === undefined) {
    const fresh = isFreshStart(state, deps.feed.start());
    if (!fresh)
      log.warn(
        'the checkpoint has no stream mark (written by an older version of the bridge): events published after it are published again this once (at-least-once)',
      );
    const at = run.timestamp();
    // A fresh start (a new export, or a resync's new generation) must never take an earlier
    // generation's records, whose eventIds the new snapshot repeats, for its own.
    const streamMark = emptyMark(at, fresh ? at : undefined);
    const saved = await run.save({ ...state, streamMark, updatedAt: at });
    return saved ? { landed } : 'lease-lost';
  }
  if (state.position.source === 'data-sync') {
    // A Data Sync replay is not a copy of what the crashed run published: a page read again
    // from the same cursor may be cut elsewhere, and a cold start begins a new sync. Skipping
    // what was found then lost documents in consumers in our crash tests (docs/events.md), so
    // this source recovers at-least-once: everything after the checkpoint is published again.
    log.info(
      'recovery on the Data Sync source publishes everything after the checkpoint again (at-least-once)',
    );
    return { landed };
  }
  const started = now();
  let scan: Awaited<ReturnType<StreamTail['landedSince']>>;
  try {
    scan = await tail.landedSince(mark, { limitPerShard });
  } catch (error) {
    log.warn(
      'could not read the stream after the checkpoint: events published after it are published again (at-least-once)',
      { error: String(error) },
    );
    return { landed };
  }
  const ms = now() - started;
  for (const [eventId, at] of scan.found) {
    // A control event's copy found by a scan that stopped short may sit after document events
    // the scan missed, which are published again: its copies must then follow them again too,
    // or a consumer would apply those replayed events after the truncate (docs/events.md).
    if (!scan.complete && isLandedControl(at)) continue;
    landed.set(eventId, at);
  }
  deps.metrics.add(METRICS.recoveredRecords, scan.found.size, 'Count');
  if (!scan.complete)
    log.warn(
      'recovery could not read every shard after the checkpoint to its tip (limit, trimmed records or a read error): some events may be published again',
      { shards: scan.shards, records: scan.records },
    );
  if (scan.records === 0) return { landed };
  const report = {
    at: run.timestamp(),
    records: scan.records,
    found: scan.found.size,
    calls: scan.calls,
    bytes: scan.bytes,
    ms,
    complete: scan.complete,
  };
  log.info('recovery: events already in the stream after the checkpoint will be skipped', report);
  const saved = await run.save({ ...state, lastRecovery: report, updatedAt: report.at });
  return saved ? { landed } : 'lease-lost';
}

/** Nothing published yet in this generation: no mark is expected. */
function isFreshStart(state: ExportState, start: FeedPosition): boolean {
  return (
    state.newestEventTs === undefined && JSON.stringify(state.position) === JSON.stringify(start)
  );
}
