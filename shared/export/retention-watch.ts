import { METRICS } from '../names.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import type { ExportState } from './export-state.js';
import { positionTs } from './generation.js';
import { lagSeconds } from './page-batch.js';

/** Convex's change-log retention by default (docs/convex-api.md §4.2). */
export const DEFAULT_RETENTION_SECONDS = 14 * 24 * 3600;

/** Past this share of the retention window the cursor's age is worth an operator's look. */
export const RETENTION_WARNING_SHARE = 0.5;

/**
 * How much of Convex's retention window the cursor's age uses (0 fresh, 1 expired), while the
 * export follows the change log; undefined while it copies a snapshot or has no position time.
 */
export function retentionUsed(
  state: ExportState | undefined,
  nowMs: number,
  retentionSeconds: number,
): { readonly share: number; readonly ageSeconds: number } | undefined {
  if (state === undefined || state.position.phase === 'snapshot') return undefined;
  const ts = positionTs(state);
  if (ts === undefined) return undefined;
  const ageSeconds = Math.max(0, lagSeconds(nowMs, ts));
  return { share: ageSeconds / retentionSeconds, ageSeconds };
}

/** Reports the share as a metric and warns (once per watcher) past half the window. */
export class RetentionWatch {
  private warned = false;

  constructor(
    private readonly sinks: { readonly metrics: MetricsSink; readonly log: LogSink },
    private readonly retentionSeconds: number,
  ) {}

  check(state: ExportState, nowMs: number): void {
    const used = retentionUsed(state, nowMs, this.retentionSeconds);
    if (used === undefined) return;
    this.sinks.metrics.add(
      METRICS.cursorRetentionUsed,
      Math.round(used.share * 1000) / 10,
      'Percent',
    );
    if (this.warned || used.share < RETENTION_WARNING_SHARE) return;
    this.warned = true;
    this.sinks.log.warn(
      'the export cursor is older than half of Convex’s retention window: if it expires, the export must resync (docs/runbook.md, CursorAge)',
      {
        cursorAgeHours: Math.round(used.ageSeconds / 360) / 10,
        retentionHours: this.retentionSeconds / 3600,
      },
    );
  }
}
