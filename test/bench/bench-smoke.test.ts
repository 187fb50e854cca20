import { describe, expect, it } from 'vitest';
import { throughputChart } from '../../bench/chart.js';
import { runBenchmarks, SMOKE_RUN } from '../../bench/harness.js';
import { markdownReport } from '../../bench/report.js';

const positive = (value: number) => Number.isFinite(value) && value > 0;

describe('benchmarks (smoke run at a tiny scale; no timing is asserted)', () => {
  it('runs every measurement and reports it as JSON, Markdown and PNG', {
    timeout: 180_000,
  }, async () => {
    const steps: string[] = [];
    const r = await runBenchmarks(SMOKE_RUN, (step) => steps.push(step));
    expect(steps.length).toBeGreaterThanOrEqual(8);

    // Export: both phases, four variants each, all of them moving the same events.
    expect(r.exportThroughput.map((t) => t.kind)).toEqual(['snapshot', 'deltas']);
    const [snapshot, deltas] = r.exportThroughput;
    expect(snapshot?.fetchOnly.events).toBe(SMOKE_RUN.snapshotDocs);
    for (const t of r.exportThroughput) {
      for (const m of [t.fetchOnly, t.publishOnly, t.sequential, t.ours]) {
        expect(m.events).toBe(t.fetchOnly.events);
        expect(positive(m.eventsPerSecond)).toBe(true);
      }
      expect(t.oursVsCeiling).toBeCloseTo(
        t.ours.eventsPerSecond /
          Math.min(t.fetchOnly.eventsPerSecond, t.publishOnly.eventsPerSecond),
      );
      expect(t.oursVsSequential).toBeCloseTo(t.ours.eventsPerSecond / t.sequential.eventsPerSecond);
    }
    // Writes to one document within a transaction collapse, so deltas hold at most the writes.
    expect(deltas?.fetchOnly.events).toBeGreaterThan(0);
    expect(deltas?.fetchOnly.events).toBeLessThanOrEqual(SMOKE_RUN.deltaChanges);

    const [latency] = r.exportLatency;
    expect(latency?.changes).toBe(SMOKE_RUN.latencyChanges);
    expect(latency && latency.p50Ms <= latency.p95Ms && latency.p95Ms <= latency.p99Ms).toBe(true);

    const i = r.importThroughput;
    expect(i.messageBytes).toBe(1024);
    expect(i.standard.requests).toBe(SMOKE_RUN.importMessages / SMOKE_RUN.standardBatch);
    expect(i.fifo.requests).toBe(SMOKE_RUN.importMessages / 10);
    expect(i.ceiling.requests).toBeGreaterThanOrEqual(1);
    expect([i.ceiling, i.standard, i.fifo].every((m) => positive(m.messagesPerSecond))).toBe(true);

    const c = r.coldStart;
    expect(c.bundles.export.bytes).toBeGreaterThan(100_000);
    expect(c.bundles.import.bytes).toBeGreaterThan(100_000);
    expect(positive(c.bundles.export.initMsMedian)).toBe(true);
    expect(positive(c.transform.cpuMicrosPerEvent)).toBe(true);
    expect(c.bigPage.events).toBe(SMOKE_RUN.bigPageWrites);
    expect(c.bigPage.maxRssMb).toBeGreaterThanOrEqual(c.bigPage.rssBeforeMb);

    const table = markdownReport(r);
    expect(table).toMatch(/\| snapshot \| 3,000 \|/);
    expect(table).toMatch(/\| deltas \| [\d,]+ \|/);
    expect(table).toContain('| 100 ms |');
    expect(table).toContain('Lambda handler, FIFO batches of 10');
    expect(table).toContain('µs CPU per event');

    const png = await throughputChart(r);
    expect(png.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    expect(png.readUInt32BE(16)).toBe(1100); // IHDR width
  });
});
