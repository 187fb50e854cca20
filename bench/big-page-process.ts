// Runs one export of a single 16,000-write transaction in a process of its own, wired exactly as
// the Lambda is (config from the environment), so its peak resident memory (maxRSS) is the
// exporter's alone; prints what it measured as JSON.
import { loadExportConfig } from '../shared/export/config.js';
import { exportChanges } from '../shared/export/export-changes.js';
import { MemoryMetrics, silentLog } from '../shared/ports/observability.js';
import { buildExportDeps, exportOptionsFrom } from '../shared/wiring/export.js';
import type { BigPageResult } from './memory.js';

const mb = (bytes: number) => bytes / (1024 * 1024);
const config = loadExportConfig(process.env);
const deps = await buildExportDeps(config, { metrics: new MemoryMetrics(), log: silentLog });
const rssBeforeMb = mb(process.memoryUsage().rss);
let heapPeak = process.memoryUsage().heapUsed;
const sampler = setInterval(() => {
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
}, 5);
const outcome = await exportChanges(deps, {
  ...exportOptionsFrom(config),
  owner: 'bench-big-page',
  remainingMs: () => Number.POSITIVE_INFINITY,
  follow: false,
});
clearInterval(sampler);
const result: BigPageResult = {
  events: outcome.status === 'caught-up' ? outcome.events : -1,
  pages: outcome.status === 'caught-up' ? outcome.pages : -1,
  rssBeforeMb,
  maxRssMb: process.resourceUsage().maxRSS / 1024,
  heapPeakMb: mb(heapPeak),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
