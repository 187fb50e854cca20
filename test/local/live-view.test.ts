import { describe, expect, it } from 'vitest';
import { FlowStats, percentile } from '../../local/flow-stats.js';
import { progressBar, renderDashboard, snapshotLine } from '../../local/live-view.js';
import type { ChangeEvent } from '../../shared/events/change-event.js';

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const tsAt = (ms: number) => `${BigInt(ms) * 1_000_000n + 123_456n}`;

function event(op: ChangeEvent['op'], table: string, id: string, commitMs: number): ChangeEvent {
  const ts = tsAt(commitMs);
  return {
    v: 1,
    generation: 1,
    op,
    component: '',
    table,
    id,
    ts,
    eventId: `${id}@${ts}`,
    doc: op === 'delete' ? null : {},
  };
}

const snapshotPage = (table: string, count: number) =>
  Array.from({ length: count }, (_, i) => event('snapshot', table, `${table}${i}`, T0 - 60_000));

const header = { convex: 'simulator', aws: 'moto · kinesalite', resources: 'stream s' };

describe('FlowStats', () => {
  it('measures snapshot rate and ETA over the recent window, and counts finished tables', () => {
    const stats = new FlowStats({ tables: ['a', 'b', 'c'], documents: 10_000 });
    stats.published(snapshotPage('a', 1_000), T0);
    stats.published(snapshotPage('a', 1_000), T0 + 500);
    stats.published(snapshotPage('b', 1_000), T0 + 1_000);
    // 2,000 documents in the 1 s since the first sample; 7,000 left at 2,000/s.
    expect(stats.snapshotRate(T0 + 1_000)).toBe(2_000);
    expect(stats.snapshotEtaSeconds(T0 + 1_000)).toBe(3.5);
    expect(stats.tablesDone()).toBe(1);
    // Samples older than the window drop out: the rate follows the current speed.
    stats.published(snapshotPage('b', 100), T0 + 10_000);
    expect(stats.snapshotRate(T0 + 10_000)).toBeCloseTo(100 / 9, 5);
    stats.snapshotFinished(T0 + 10_500);
    expect(stats.tablesDone()).toBe(3);
    expect(stats.snapshotRate(T0 + 11_000)).toBe(0);
  });

  it('has no ETA without a document count', () => {
    const stats = new FlowStats({ tables: ['a'] });
    stats.published(snapshotPage('a', 10), T0);
    stats.published(snapshotPage('a', 10), T0 + 100);
    expect(stats.snapshotRate(T0 + 100)).toBe(100);
    expect(stats.snapshotEtaSeconds(T0 + 100)).toBeUndefined();
  });

  it('counts changes per table and measures commit-to-stream lag from the exact timestamp', () => {
    const stats = new FlowStats(undefined);
    stats.published(
      [event('upsert', 'users', 'u1', T0), event('delete', 'users', 'u2', T0 + 100)],
      T0 + 250,
    );
    stats.published([event('upsert', 'orders', 'o1', T0 + 1_000)], T0 + 1_040);
    expect(stats.changeSeq).toBe(3);
    expect(stats.changesByTable.get('users')).toEqual({ upsert: 1, delete: 1 });
    expect(stats.recent.map((c) => [c.seq, c.op, c.lagMs])).toEqual([
      [1, 'upsert', 250],
      [2, 'delete', 150],
      [3, 'upsert', 40],
    ]);
    expect(stats.lagPercentile(50)).toBe(150);
    expect(stats.lagPercentile(100)).toBe(250);
  });

  it('keeps only the latest changes for the view, numbered so none is printed twice', () => {
    const stats = new FlowStats(undefined);
    for (let i = 0; i < 20; i++) stats.published([event('upsert', 't', `d${i}`, T0)], T0 + i);
    expect(stats.recent).toHaveLength(8);
    expect(stats.recent[0]?.seq).toBe(13);
    expect(stats.recent.at(-1)?.seq).toBe(20);
  });

  it('adds up import batches', () => {
    const stats = new FlowStats(undefined);
    stats.imported({ imported: 5, quarantined: 1, failedIds: ['m1'], requests: 2 });
    stats.imported({ imported: 3, quarantined: 0, failedIds: [], requests: 1 });
    expect(stats.imports).toEqual({
      batches: 2,
      imported: 8,
      quarantined: 1,
      retried: 1,
      requests: 3,
    });
  });
});

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([], 50)).toBeUndefined();
  });
});

describe('live view', () => {
  it('draws the progress bar in proportion', () => {
    expect(progressBar(0, 10)).toBe('[░░░░░░░░░░]');
    expect(progressBar(0.5, 10)).toBe('[█████░░░░░]');
    expect(progressBar(2, 10)).toBe('[██████████]');
  });

  it('describes the snapshot before, during and after the copy', () => {
    const stats = new FlowStats({ tables: ['a', 'b'], documents: 4_000 });
    expect(snapshotLine(stats, T0)).toBe('waiting for the first page…');
    stats.published(snapshotPage('a', 1_000), T0);
    stats.published(snapshotPage('a', 1_000), T0 + 1_000);
    expect(snapshotLine(stats, T0 + 1_000)).toBe(
      '[███████████████░░░░░░░░░░░░░░░]  50% · 2,000/4,000 docs · 0/2 tables · 1,000 docs/s · ETA 2 s',
    );
    stats.snapshotFinished(T0 + 2_500);
    expect(snapshotLine(stats, T0 + 3_000)).toBe(
      '[██████████████████████████████] done: 2,000 docs · 2/2 tables in 2.5 s',
    );
  });

  it('shows changes, imports, recent changes and the last error', () => {
    const stats = new FlowStats({ tables: ['users'], documents: 0 });
    stats.snapshotFinished(T0);
    stats.published([event('upsert', 'users', 'u1', T0)], T0 + 120);
    stats.imported({ imported: 2, quarantined: 0, failedIds: [], requests: 1 });
    stats.lastError = 'importer: Convex is unavailable';
    const frame = renderDashboard(header, stats, T0 + 1_000).join('\n');
    expect(frame).toContain('Changes   1 published · lag p50 120 ms · p95 120 ms');
    expect(frame).toContain('users +1');
    expect(frame).toContain('Import    2 imported · 0 quarantined · 0 retrying · 1 requests');
    expect(frame).toContain('Recent    12:00:00.120  upsert  users  u1  lag 120 ms');
    expect(frame).toContain('Last error: importer: Convex is unavailable');
  });
});
