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

    // Data Sync on the same deployment: the same documents (and the table's one truncate on a
    // cold start) and the same changes as the legacy deltas, every variant moving all of them.
    expect(r.dataSyncThroughput.map((t) => t.phase)).toEqual(['snapshot', 'changes']);
    const [syncSnapshot, syncChanges] = r.dataSyncThroughput;
    expect(syncSnapshot?.truncates).toBe(1);
    expect(syncSnapshot?.fetchOnly.events).toBe(SMOKE_RUN.snapshotDocs);
    expect(syncChanges?.truncates).toBe(0);
    expect(syncChanges?.fetchOnly.events).toBe(deltas?.fetchOnly.events);
    for (const t of r.dataSyncThroughput) {
      for (const m of [t.fetchOnly, t.publishOnly, t.ours]) {
        expect(m.events).toBe(t.fetchOnly.events);
        expect(positive(m.eventsPerSecond)).toBe(true);
      }
      expect(t.oursVsFetchOnly).toBeCloseTo(t.ours.eventsPerSecond / t.fetchOnly.eventsPerSecond);
      expect(t.oursVsCeiling).toBeCloseTo(
        t.ours.eventsPerSecond /
          Math.min(t.fetchOnly.eventsPerSecond, t.publishOnly.eventsPerSecond),
      );
    }

    const [latency] = r.exportLatency;
    expect(latency?.changes).toBe(SMOKE_RUN.latencyChanges);
    expect(latency && latency.p50Ms <= latency.p95Ms && latency.p95Ms <= latency.p99Ms).toBe(true);

    const i = r.importThroughput;
    expect(i.messageBytes).toBe(1024);
    expect(i.sequential.requests).toBe(SMOKE_RUN.importMessages / SMOKE_RUN.standardBatch);
    expect(i.ceiling.requests).toBeGreaterThanOrEqual(1);
    expect(positive(i.ceiling.messagesPerSecond) && positive(i.planCpuMicrosPerMessage)).toBe(true);
    expect(i.sequential.vsCeiling).toBeCloseTo(
      i.sequential.messagesPerSecond / i.ceiling.messagesPerSecond,
    );
    // Every configuration through the modelled event source mapping, each message imported once.
    expect(i.esm.map((e) => e.config)).toEqual(SMOKE_RUN.importConfigs);
    for (const e of i.esm) {
      const t = e.throughput;
      expect(t.messages).toBe(SMOKE_RUN.importMessages);
      expect(positive(t.messagesPerSecond) && positive(t.queueOnlyPerSecond)).toBe(true);
      expect(Number.isFinite(t.handlerCpuMicrosPerMessage)).toBe(true);
      expect(t.vsCeiling).toBeCloseTo(t.messagesPerSecond / i.ceiling.messagesPerSecond);
      // One request per invocation, and no batch above the configured size.
      expect(t.requests).toBe(t.invocations);
      expect(t.meanBatch).toBeLessThanOrEqual(e.config.batchSize);
      expect(t.invocations).toBeGreaterThanOrEqual(
        Math.ceil(SMOKE_RUN.importMessages / e.config.batchSize),
      );
      expect(e.latency.map((l) => l.ratePerSecond)).toEqual(
        e.config.latency ? SMOKE_RUN.importLoads.map((l) => l.ratePerSecond) : [],
      );
      for (const l of e.latency) {
        expect(l.p50Ms <= l.p95Ms && l.p95Ms <= l.p99Ms && l.p99Ms <= l.maxMs).toBe(true);
        expect(l.p50Ms).toBeGreaterThan(0);
        expect(l.peakPollers).toBeGreaterThanOrEqual(Math.min(5, e.config.maxConcurrency));
        expect(l.peakPollers).toBeLessThanOrEqual(e.config.maxConcurrency);
      }
    }
    // The same pollers on moto's SQS: everything imported and deleted.
    expect(i.moto.rowsVisible).toBe(SMOKE_RUN.motoMessages);
    expect(i.moto.leftInQueue).toBe(0);

    // Cold start: both builds of both bundles load, and one real invocation each did its work.
    const c = r.coldStart;
    for (const build of [c.bundles.previous, c.bundles.deployed]) {
      for (const m of [build.export, build.import]) {
        expect(m.bytes).toBeGreaterThan(100_000);
        expect(positive(m.initMsMedian) && positive(m.initCpuMsMedian)).toBe(true);
        expect(m.invocation.ok).toBe(true);
        expect(m.packages.reduce((sum, p) => sum + p.bytes, 0)).toBeLessThanOrEqual(m.bytes);
        expect(m.packages.some((p) => p.name === 'shared/')).toBe(true);
      }
    }
    expect(c.bundles.nodeOptions).toBe('--enable-source-maps');
    expect(positive(c.transform.cpuMicrosPerEvent)).toBe(true);
    expect(c.bigPage.events).toBe(SMOKE_RUN.bigPageWrites);
    expect(c.bigPage.maxRssMb).toBeGreaterThanOrEqual(c.bigPage.rssBeforeMb);

    const table = markdownReport(r);
    expect(table).toMatch(/\| snapshot \| 3,000 \|/);
    expect(table).toMatch(/\| deltas \| [\d,]+ \|/);
    expect(table).toContain('**Export throughput on Data Sync**');
    expect(table).toContain('| snapshot (to first consistent page) | 3,000 (+ 1 truncate) |');
    expect(table).toMatch(/\| changes \| [\d,]+ \|/);
    expect(table).toContain('| 100 ms |');
    expect(table).toContain('event source mapping: FIFO');
    expect(table).toContain('**Import latency**');
    expect(table).toContain('| bundle (minified ESM) |');
    expect(table).toContain('µs CPU per event');

    const png = await throughputChart(r);
    expect(png.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    expect(png.readUInt32BE(16)).toBe(1100); // IHDR width
  });
});
