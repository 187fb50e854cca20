import type { BenchResults } from './harness.js';

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
  lines.push(
    '',
    `**Import throughput** (${n(i.ceiling.messages)} upserts by key of ${n(i.messageBytes)} bytes each)`,
    '',
    '| path | messages/s | import requests per 10,000 messages | vs. ceiling |',
    '| --- | ---: | ---: | ---: |',
    `| ceiling: planned bodies sent straight to the simulator (median of 3 runs) | ${n(i.ceiling.messagesPerSecond)} | ${n(i.ceiling.requestsPer10k)} | 1.00× |`,
    `| Lambda handler, standard queue batches of ${i.standard.batchSize} | **${n(i.standard.messagesPerSecond)}** | ${n(i.standard.requestsPer10k)} | ${ratio(i.standardVsCeiling)} |`,
    `| Lambda handler, FIFO batches of ${i.fifo.batchSize} | **${n(i.fifo.messagesPerSecond)}** | ${n(i.fifo.requestsPer10k)} | ${ratio(i.fifoVsCeiling)} |`,
  );
  const c = r.coldStart;
  lines.push(
    '',
    '**Cold start and cost**',
    '',
    '| measure | export function | import function |',
    '| --- | ---: | ---: |',
    `| bundle (minified ESM, as deployed) | ${kib(c.bundles.export.bytes)} | ${kib(c.bundles.import.bytes)} |`,
    `| source map | ${kib(c.bundles.export.sourceMapBytes)} | ${kib(c.bundles.import.sourceMapBytes)} |`,
    `| module initialisation (median of ${c.bundles.export.initMsRuns.length} fresh processes) | ${n(c.bundles.export.initMsMedian, 1)} ms | ${n(c.bundles.import.initMsMedian, 1)} ms |`,
    '',
    `Export transform (parse + validate + build + serialise): **${n(c.transform.cpuMicrosPerEvent, 1)} µs CPU per event** (${n(c.transform.events)} events, ${n(c.transform.bytesPerEvent)} bytes each). ` +
      `One ${n(c.bigPage.writes)}-write transaction page (~${n(c.bigPage.transactionMb, 1)} MiB of documents): peak RSS **${n(c.bigPage.maxRssMb)} MiB** ` +
      `(${n(c.bigPage.rssBeforeMb)} MiB before the run), heap peak ${n(c.bigPage.heapPeakMb)} MiB.`,
  );
  return `${lines.join('\n')}\n`;
}
