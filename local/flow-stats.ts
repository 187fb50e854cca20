import { type ChangeOp, isChangeEvent, type StreamEvent } from '../shared/events/change-event.js';

/** What the live view knows about the snapshot's size before copying it (best effort). */
export interface SnapshotEstimate {
  /** Tables the export selects, from Convex's schema list. */
  readonly tables: readonly string[];
  /** Live documents per table, when Convex answered the count query. */
  readonly documents?: number;
}

export interface RecentChange {
  /** 1 for the first change published, counting up; tells readers which changes they have seen. */
  readonly seq: number;
  readonly at: number;
  readonly op: Exclude<ChangeOp, 'snapshot'>;
  readonly table: string;
  readonly id: string;
  readonly lagMs: number;
}

const RATE_WINDOW_MS = 3_000;
const RECENT = 8;
const LAG_SAMPLES = 1_000;

/**
 * Counters behind the live view, fed by what the exporter published and the importer imported.
 * Pure bookkeeping with the clock passed in, so the view's numbers are testable.
 */
export class FlowStats {
  snapshotStartedAt: number | undefined;
  snapshotDoneAt: number | undefined;
  snapshotDocs = 0;
  readonly snapshotByTable = new Map<string, number>();
  readonly changesByTable = new Map<string, { upsert: number; delete: number }>();
  readonly recent: RecentChange[] = [];
  readonly imports = { batches: 0, imported: 0, quarantined: 0, retried: 0, requests: 0 };
  lastError: string | undefined;
  changeSeq = 0;
  /** Parts waiting for a service to come back, with why; shown until they resume. */
  readonly waiting = new Map<string, string>();
  /** Waits and resumptions, numbered so a plain-text view prints each once. */
  readonly notices: { seq: number; at: number; text: string }[] = [];
  noticeSeq = 0;
  private readonly lags: number[] = [];
  private readonly samples: { at: number; docs: number }[] = [];

  constructor(readonly estimate: SnapshotEstimate | undefined) {}

  /** One published page: `now` is when Kinesis acknowledged it. */
  published(events: readonly StreamEvent[], now: number): void {
    for (const event of events) {
      if (!isChangeEvent(event)) continue;
      if (event.op === 'snapshot') {
        this.snapshotStartedAt ??= now;
        this.snapshotDocs++;
        this.snapshotByTable.set(event.table, (this.snapshotByTable.get(event.table) ?? 0) + 1);
        continue;
      }
      const counts = this.changesByTable.get(event.table) ?? { upsert: 0, delete: 0 };
      counts[event.op]++;
      this.changesByTable.set(event.table, counts);
      const lagMs = now - Number(BigInt(event.ts) / 1_000_000n);
      this.lags.push(lagMs);
      if (this.lags.length > LAG_SAMPLES) this.lags.shift();
      this.changeSeq++;
      this.recent.push({
        seq: this.changeSeq,
        at: now,
        op: event.op,
        table: event.table,
        id: event.id,
        lagMs,
      });
      if (this.recent.length > RECENT) this.recent.shift();
    }
    this.samples.push({ at: now, docs: this.snapshotDocs });
    while (this.samples.length > 2 && (this.samples[0]?.at ?? now) < now - RATE_WINDOW_MS)
      this.samples.shift();
  }

  /** `part` (the exporter, the importer) waits for a service: `why` names it and the cause. */
  wait(part: string, why: string, now: number): void {
    this.waiting.set(part, why);
    this.notice(`waiting   ${part}: ${why}`, now);
  }

  /** `part` works again after waiting. */
  resume(part: string, detail: string, now: number): void {
    if (!this.waiting.delete(part)) return;
    this.notice(`resumed   ${part} ${detail}`, now);
  }

  private notice(text: string, now: number): void {
    this.notices.push({ seq: ++this.noticeSeq, at: now, text });
    if (this.notices.length > RECENT) this.notices.shift();
  }

  /** The exporter moved from the snapshot to the change log. */
  snapshotFinished(now: number): void {
    this.snapshotStartedAt ??= now;
    this.snapshotDoneAt ??= now;
  }

  imported(result: {
    imported: number;
    quarantined: number;
    failedIds: readonly string[];
    requests: number;
  }): void {
    this.imports.batches++;
    this.imports.imported += result.imported;
    this.imports.quarantined += result.quarantined;
    this.imports.retried += result.failedIds.length;
    this.imports.requests += result.requests;
  }

  /** Snapshot documents per second over the last few seconds. */
  snapshotRate(now: number): number {
    const first = this.samples[0];
    if (!first || this.snapshotDoneAt !== undefined) return 0;
    const span = now - first.at;
    return span > 0 ? ((this.snapshotDocs - first.docs) * 1000) / span : 0;
  }

  /** Seconds left at the current rate; undefined without a document count or a rate. */
  snapshotEtaSeconds(now: number): number | undefined {
    const total = this.estimate?.documents;
    const rate = this.snapshotRate(now);
    if (total === undefined || rate <= 0) return undefined;
    return Math.max(0, total - this.snapshotDocs) / rate;
  }

  /** Tables whose copy is complete: every table once the snapshot is done, else those counted full. */
  tablesDone(): number {
    const tables = this.estimate?.tables.length ?? this.snapshotByTable.size;
    if (this.snapshotDoneAt !== undefined) return tables;
    // Tables are copied one after another, so every table seen before the current one is done.
    return Math.max(0, this.snapshotByTable.size - 1);
  }

  /** Commit-to-stream latency percentile (ms) over the latest changes. */
  lagPercentile(p: number): number | undefined {
    return percentile(this.lags, p);
  }
}

/** Nearest-rank percentile; undefined for no samples. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}
