import { createHash } from 'node:crypto';
import {
  type ChangeEvent,
  type ControlEvent,
  controlEventId,
  isChangeEvent,
  type SchemaEvent,
  type StreamEvent,
  type TruncateEvent,
} from '../events/change-event.js';
import { METRICS } from '../names.js';
import type { FeedPage, TableFilter } from '../ports/change-feed.js';
import type { SchemaSource, TableClear, TableClearLog } from '../ports/lifecycle.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import { compareInt64 } from '../values/int64.js';
import type { ExportState } from './export-state.js';
import type { PageBatch } from './page-batch.js';
import { tablePredicate } from './table-filter.js';

export interface LifecycleDeps {
  readonly clears?: TableClearLog;
  readonly schemas?: SchemaSource;
  readonly metrics: MetricsSink;
  readonly log: LogSink;
}

export interface LifecycleOptions {
  readonly filter?: TableFilter;
  /** Compare Convex's schemas with the published ones at least this often (ms); also on a new table. */
  readonly schemaCheckMs: number;
  readonly now: () => number;
}

/** A batch with its control events in place, and what the state must remember of them. */
export interface DecoratedBatch {
  readonly events: readonly StreamEvent[];
  readonly state: Partial<ExportState>;
}

const tableKey = (component: string, table: string) => `${component}/${table}`;

/**
 * Places the export's own control events among a batch's events (docs/events.md): a new
 * generation's `resync-start` first, then `schema` events for tables whose schema changed, the
 * pages' events with `truncate`s of recorded clears where the change log passes them, and
 * `snapshot-complete` right after the page that completed the snapshot. Everything here is
 * derived from the state and the pages, so a replay after a crash places the same events again.
 */
export class StreamLifecycle {
  private readonly include: (component: string, table: string) => boolean;

  constructor(
    private readonly deps: LifecycleDeps,
    private readonly options: LifecycleOptions,
  ) {
    this.include = tablePredicate(options.filter ?? {});
  }

  async decorate(
    batch: PageBatch,
    state: ExportState,
    signal?: AbortSignal,
  ): Promise<DecoratedBatch> {
    const generation = state.generation;
    const head: ControlEvent[] = [];
    const changes: Partial<{ -readonly [K in keyof ExportState]: ExportState[K] }> = {};
    if (generationDue(state)) {
      head.push({
        v: 1,
        op: 'resync-start',
        generation,
        eventId: controlEventId.resyncStart(generation),
        reason: state.lastResync?.reason ?? 'operator',
        ...(state.lastResync?.gapFrom !== undefined ? { gapFrom: state.lastResync.gapFrom } : {}),
      });
    }
    changes.announcedGeneration = generation;
    const schemas = await this.schemaEvents(batch, state, signal);
    if (schemas !== undefined) {
      head.push(...schemas.events);
      changes.schemaDigests = schemas.digests;
      changes.schemaCheckedAt = new Date(this.options.now()).toISOString();
    }
    const clears = await this.pendingClears(state);
    const body: StreamEvent[] = [];
    let handled = state.clearsHandled ?? 0;
    let pending = clears;
    for (const page of batch.pages) {
      const placed = placeClears(page, pending, state, generation);
      handled += pending.length - placed.remaining.length;
      pending = placed.remaining;
      body.push(...placed.events);
      if (page.snapshotCompletedAt !== undefined) {
        body.push({
          v: 1,
          op: 'snapshot-complete',
          generation,
          eventId: controlEventId.snapshotComplete(generation),
          ts: page.snapshotCompletedAt,
        });
      }
    }
    if (handled !== (state.clearsHandled ?? 0)) changes.clearsHandled = handled;
    const events =
      head.length === 0 && body.length === batch.events.length ? batch.events : [...head, ...body];
    this.count(events);
    return { events, state: changes };
  }

  private count(events: readonly StreamEvent[]): void {
    let controls = 0;
    let truncates = 0;
    let schemas = 0;
    for (const e of events) {
      if (isChangeEvent(e)) continue;
      controls++;
      if (e.op === 'truncate') truncates++;
      if (e.op === 'schema') schemas++;
    }
    if (controls === 0) return;
    this.deps.metrics.add(METRICS.controlEvents, controls, 'Count');
    if (truncates > 0) this.deps.metrics.add(METRICS.truncates, truncates, 'Count');
    if (schemas > 0) this.deps.metrics.add(METRICS.schemaChanges, schemas, 'Count');
  }

  /** Clears not yet handled, in time order; an unreadable log only delays them. */
  private async pendingClears(state: ExportState): Promise<readonly TableClear[]> {
    if (this.deps.clears === undefined) return [];
    let all: readonly TableClear[];
    try {
      all = await this.deps.clears.list();
    } catch (error) {
      this.deps.log.warn('could not read the recorded table clears; trying again next batch', {
        error: String(error),
      });
      return [];
    }
    return all.slice(state.clearsHandled ?? 0);
  }

  /**
   * Schema events for tables whose JSON schema differs from the one last published: checked
   * when the batch holds a table never seen, and every `schemaCheckMs`. A failure to read the
   * schemas is logged and tried again at the next batch; it never holds the export back.
   */
  private async schemaEvents(
    batch: PageBatch,
    state: ExportState,
    signal?: AbortSignal,
  ): Promise<{ events: SchemaEvent[]; digests: Record<string, string> } | undefined> {
    if (this.deps.schemas === undefined) return undefined;
    const known = state.schemaDigests ?? {};
    const checkedAt = state.schemaCheckedAt ? Date.parse(state.schemaCheckedAt) : undefined;
    const due =
      checkedAt === undefined || this.options.now() - checkedAt >= this.options.schemaCheckMs;
    const newTable = batch.events.some(
      (e) => isChangeEvent(e) && known[tableKey(e.component, e.table)] === undefined,
    );
    if (!due && !newTable) return undefined;
    let current: ReadonlyMap<string, Record<string, unknown>>;
    try {
      current = await this.deps.schemas.tableSchemas({
        ...(this.options.filter ? { filter: this.options.filter } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      this.deps.log.warn('could not read the table schemas from Convex; schema events wait', {
        error: String(error),
      });
      return undefined;
    }
    const digests: Record<string, string> = { ...known };
    const events: SchemaEvent[] = [];
    for (const [key, schema] of [...current].sort(([a], [b]) => a.localeCompare(b))) {
      const slash = key.lastIndexOf('/');
      const component = key.slice(0, slash);
      const table = key.slice(slash + 1);
      if (!this.include(component, table)) continue;
      const digest = schemaDigest(schema);
      if (known[key] === digest) continue;
      digests[key] = digest;
      events.push({
        v: 1,
        op: 'schema',
        generation: state.generation,
        eventId: controlEventId.schema(component, table, digest, state.generation),
        component,
        table,
        schema,
      });
    }
    const gone = Object.keys(known).filter((key) => !current.has(key));
    if (gone.length > 0 && state.position.source === 'legacy')
      // The legacy endpoints report no deletes for a dropped, cleared or replaced table
      // (docs/convex-api.md §4.2): consumers keep its rows unless a truncate or resync says so.
      this.deps.log.warn(
        'tables the stream carried no longer exist in Convex; the legacy source does not signal this, so consumers keep their rows (Data Sync does: convex-bridge migrate-source)',
        { tables: gone },
      );
    for (const key of gone) delete digests[key];
    if (events.length > 0)
      this.deps.log.info('table schemas changed', {
        tables: events.map((e) => tableKey(e.component, e.table)),
      });
    return { events, digests };
  }
}

/** A new generation whose start is not in the stream yet (never for the first export). */
function generationDue(state: ExportState): boolean {
  if (state.generation <= 1 || state.announcedGeneration === state.generation) return false;
  // A state written before generations were announced, already publishing: nothing to announce.
  return state.announcedGeneration !== undefined || state.newestEventTs === undefined;
}

/** Stable text of a schema (keys sorted), hashed: equal schemas, equal digests. */
export function schemaDigest(schema: unknown): string {
  return createHash('sha256').update(canonical(schema)).digest('hex').slice(0, 16);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A page's events with the truncates of recorded clears the page's change log passes. On the
 * legacy source a clear's truncate goes before the first change after its `before` time, or at
 * the page's end once the cursor is past it; a snapshot pinned after the clear already reads the
 * emptied table, so that clear needs none. Data Sync reports clears itself (its own truncates):
 * the recorded clear is handled without an event of ours.
 */
export function placeClears(
  page: FeedPage,
  clears: readonly TableClear[],
  state: ExportState,
  generation: number,
): { events: readonly StreamEvent[]; remaining: readonly TableClear[] } {
  if (clears.length === 0) return { events: page.events, remaining: clears };
  const position = state.position;
  if (position.source === 'data-sync') return { events: page.events, remaining: [] };
  if (page.phase === 'snapshot') {
    const snapshotTs = legacySnapshotTs(page) ?? legacySnapshotTs({ next: position });
    if (snapshotTs === undefined) return { events: page.events, remaining: clears };
    // Cleared before the snapshot's time: the copy already shows the emptied table.
    const remaining = clears.filter((c) => compareInt64(c.before, snapshotTs) >= 0);
    return { events: page.events, remaining };
  }
  const sorted = [...clears].sort((a, b) => compareInt64(a.before, b.before));
  const out: StreamEvent[] = [];
  let next = 0;
  const truncate = (c: TableClear): TruncateEvent => ({
    v: 1,
    op: 'truncate',
    generation,
    eventId: controlEventId.truncate(c.component, c.table, c.before, generation),
    component: c.component,
    table: c.table,
    cause: 'clear-tables',
    ts: c.before,
  });
  for (const event of page.events) {
    while (
      next < sorted.length &&
      isChangeEvent(event) &&
      passes(event, sorted[next] as TableClear)
    )
      out.push(truncate(sorted[next++] as TableClear));
    out.push(event);
  }
  const cursor = page.cursorTs;
  while (
    next < sorted.length &&
    cursor !== undefined &&
    compareInt64(cursor, (sorted[next] as TableClear).before) > 0
  )
    out.push(truncate(sorted[next++] as TableClear));
  return { events: out, remaining: sorted.slice(next) };
}

/** The timestamp a legacy snapshot page was read at, from whichever of its fields carries it. */
function legacySnapshotTs(page: Pick<FeedPage, 'next'> & Partial<FeedPage>): string | undefined {
  if (page.snapshotCompletedAt !== undefined) return page.snapshotCompletedAt;
  for (const p of [page.pin, page.next])
    if (p?.source === 'legacy' && p.phase === 'snapshot' && p.snapshotTs !== undefined)
      return p.snapshotTs;
  return undefined;
}

const passes = (event: ChangeEvent, clear: TableClear) => compareInt64(event.ts, clear.before) > 0;
