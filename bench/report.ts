import type { BundleMeasure } from './cold-start.js';
import { formatPageMemory } from './data-sync-page-memory.js';
import type { BenchResults } from './harness.js';
import type { ImportEsmConfig } from './import-throughput.js';

const n = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (value: number) => `${value.toFixed(2)}×`;
const kib = (bytes: number) => `${n(bytes / 1024)} KiB`;

/** The results as Markdown: what `npm run bench` prints and what the README shows. */
export function markdownReport(r: BenchResults): string {
  const o = r.options;
  const lines: string[] = [];
  lines.push(
    `Measured ${r.date.slice(0, 10)} on ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, Node ${r.machine.node} (${r.machine.platform}); ` +
      `simulated Convex latency ${o.latencyMs} ms per request; Kinesis = kinesalite (${o.shards} shards), DynamoDB/S3/SQS = moto. Whole run: ${n(r.durationSeconds)} s.`,
    '',
    '**Export throughput** (events/s; every variant moved the same events)',
    '',
    '| phase | events | fetch-only ceiling | publish-only ceiling | sequential baseline | ours | ours / min(ceilings) | ours / baseline |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const t of r.exportThroughput) {
    lines.push(
      `| ${t.kind} | ${n(t.ours.events)} | ${n(t.fetchOnly.eventsPerSecond)} | ${n(t.publishOnly.eventsPerSecond)} | ${n(t.sequential.eventsPerSecond)} | **${n(t.ours.eventsPerSecond)}** | ${ratio(t.oursVsCeiling)} | ${ratio(t.oursVsSequential)} |`,
    );
  }
  lines.push(
    '',
    '**Export throughput on Data Sync** (document events/s; the same deployment and documents, in the same run; the truncate a table sends as it enters the sync is published too)',
    '',
    '| phase | events | fetch-only ceiling | publish-only ceiling | ours | ours / fetch-only | ours / min(ceilings) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const t of r.dataSyncThroughput) {
    const phase = t.phase === 'snapshot' ? 'snapshot (to first consistent page)' : 'changes';
    const truncates =
      t.truncates > 0 ? ` (+ ${n(t.truncates)} truncate${t.truncates === 1 ? '' : 's'})` : '';
    lines.push(
      `| ${phase} | ${n(t.ours.events)}${truncates} | ${n(t.fetchOnly.eventsPerSecond)} | ${n(t.publishOnly.eventsPerSecond)} | **${n(t.ours.eventsPerSecond)}** | ${ratio(t.oursVsFetchOnly)} | ${ratio(t.oursVsCeiling)} |`,
    );
  }
  lines.push(
    '',
    `**Export latency in follow mode** (Convex commit → record readable in the stream; ${n(o.latencyChanges)} changes at ${o.latencyRatePerSecond}/s, one insert per transaction, consumer polling every ${r.exportLatency[0]?.consumerPollMs ?? 0} ms)`,
    '',
    '| exporter poll interval | p50 | p95 | p99 | max |',
    '| ---: | ---: | ---: | ---: | ---: |',
  );
  for (const l of r.exportLatency) {
    lines.push(
      `| ${l.pollIntervalMs} ms | ${n(l.p50Ms)} ms | ${n(l.p95Ms)} ms | ${n(l.p99Ms)} ms | ${n(l.maxMs)} ms |`,
    );
  }
  const i = r.importThroughput;
  const settings = (c: ImportEsmConfig) =>
    `${n(c.batchSize)} / ${c.batchingWindowMs > 0 ? `${n(c.batchingWindowMs / 1000, c.batchingWindowMs % 1000 === 0 ? 0 : 1)} s` : '–'} / ${c.maxConcurrency}${c.fifo ? ' (FIFO)' : ''}`;
  lines.push(
    '',
    `**Import throughput** (${n(i.ceiling.messages)} upserts by key of ${n(i.messageBytes)} bytes each, queued before the run; the queue answers each call in ${i.sqsLatencyMs} ms)`,
    '',
    '| path | batch / window / max concurrency | messages/s | import requests per 10,000 | vs. direct ceiling | queue alone (no import) | handler CPU per message |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    `| direct ceiling: planned bodies sent straight to the simulator (median of 3) | – | ${n(i.ceiling.messagesPerSecond)} | ${n(i.ceiling.requestsPer10k)} | 1.00× | – | ${n(i.planCpuMicrosPerMessage)} µs (planning, untimed) |`,
    `| one handler, batches back to back, no queue (the old measurement) | ${n(i.sequential.batchSize)} / – / 1 | ${n(i.sequential.messagesPerSecond)} | ${n(i.sequential.requestsPer10k)} | ${ratio(i.sequential.vsCeiling)} | – | – |`,
  );
  for (const e of i.esm) {
    lines.push(
      `| event source mapping: ${e.config.label} | ${settings(e.config)} | **${n(e.throughput.messagesPerSecond)}** | ${n(e.throughput.requestsPer10k)} | ${ratio(e.throughput.vsCeiling)} | ${n(e.throughput.queueOnlyPerSecond)} | ${n(e.throughput.handlerCpuMicrosPerMessage)} µs |`,
    );
  }
  const loads = r.options.importLoads;
  lines.push(
    '',
    `**Import latency** (producer's SendMessageBatch → row committed in Convex, ms; steady offered load; ${loads.map((l) => `${n(l.messages)} measured messages at ${n(l.ratePerSecond)}/s`).join(', ')})`,
    '',
    `| batch / window / max concurrency | ${loads.map((l) => `${n(l.ratePerSecond)}/s: p50 | p95 | p99 | requests per 10,000 | concurrent batches`).join(' | ')} |`,
    `| --- | ${loads.map(() => '---: | ---: | ---: | ---: | ---:').join(' | ')} |`,
  );
  for (const e of i.esm) {
    if (e.latency.length === 0) continue;
    lines.push(
      `| ${settings(e.config)} (${e.config.label}) | ${e.latency.map((l) => `${n(l.p50Ms)} | ${n(l.p95Ms)} | **${n(l.p99Ms)}** | ${n(l.requestsPer10k)} | ${l.peakPollers}`).join(' | ')} |`,
    );
  }
  const m = i.moto;
  lines.push(
    '',
    `The same pollers against moto's SQS (${settings(m.config)}, ${n(m.messages)} messages): ${n(m.rowsVisible)} rows imported in ${n(m.invocations)} invocations (${n(m.requests)} import requests), ${n(m.leftInQueue)} messages left in the queue, ${n(m.seconds, 1)} s.`,
  );
  const c = r.coldStart;
  const b = c.bundles;
  const both = (f: (m: BundleMeasure) => string) =>
    `${f(b.previous.export)} | ${f(b.deployed.export)} | ${f(b.previous.import)} | ${f(b.deployed.import)}`;
  lines.push(
    '',
    `**Cold start** (fresh Node processes with NODE_OPTIONS=${b.nodeOptions}, as deployed; before = the previous bundling settings, after = infra/bundling.ts, both built in this run)`,
    '',
    '| measure | export before | export after | import before | import after |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| bundle (minified ESM) | ${both((m) => kib(m.bytes))} |`,
    `| source map | ${both((m) => kib(m.sourceMapBytes))} |`,
    `| module initialisation, median of ${b.deployed.export.initMsRuns.length} (wall) | ${both((m) => `${n(m.initMsMedian, 1)} ms`)} |`,
    `| module initialisation, median (CPU) | ${both((m) => `${n(m.initCpuMsMedian, 1)} ms`)} |`,
    `| one invocation in a fresh process | ${both((m) => (m.invocation.ok ? m.invocation.summary : 'failed'))} |`,
    '',
    '**Bundle bytes by package** (esbuild metafile; top 8 of the after bundles, with the before size)',
    '',
    '| package | export before | export after | import before | import after |',
    '| --- | ---: | ---: | ---: | ---: |',
  );
  const top = new Set<string>();
  for (const bundle of [b.deployed.export, b.deployed.import])
    for (const p of bundle.packages.slice(0, 8)) top.add(p.name);
  for (const t of [b.previous.export, b.previous.import])
    for (const p of t.packages.slice(0, 3)) top.add(p.name);
  const bytesOf = (m: BundleMeasure, name: string) => {
    const p = m.packages.find((x) => x.name === name);
    return p ? kib(p.bytes) : '–';
  };
  for (const name of [...top].sort(
    (x, y) =>
      (b.previous.export.packages.find((p) => p.name === y)?.bytes ?? 0) -
      (b.previous.export.packages.find((p) => p.name === x)?.bytes ?? 0),
  ))
    lines.push(`| ${name} | ${both((m) => bytesOf(m, name))} |`);
  lines.push(
    '',
    `Export transform (parse + validate + build + serialise): **${n(c.transform.cpuMicrosPerEvent, 1)} µs CPU per event** (${n(c.transform.events)} events, ${n(c.transform.bytesPerEvent)} bytes each). ` +
      `One ${n(c.bigPage.writes)}-write transaction page (~${n(c.bigPage.transactionMb, 1)} MiB of documents): peak RSS **${n(c.bigPage.maxRssMb)} MiB** ` +
      `(${n(c.bigPage.rssBeforeMb)} MiB before the run), heap peak ${n(c.bigPage.heapPeakMb)} MiB.`,
    '',
    formatPageMemory(c.dataSyncPage),
  );
  return `${lines.join('\n')}\n`;
}
