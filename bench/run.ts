// `npm run bench`: every measurement, then results/latest.{json,md,png} and the table on stdout.
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { throughputChart } from './chart.js';
import { FULL_RUN, runBenchmarks, SMOKE_RUN } from './harness.js';
import { markdownReport } from './report.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    smoke: { type: 'boolean', default: false },
  },
});
// A smoke run never overwrites the published results.
const dir =
  values.out ?? new URL(values.smoke ? './results/smoke/' : './results/', import.meta.url).pathname;
const out = dir.endsWith('/') ? dir : `${dir}/`;
const results = await runBenchmarks(values.smoke ? SMOKE_RUN : FULL_RUN, (step) =>
  process.stderr.write(`bench: ${step}\n`),
);
const table = markdownReport(results);
await mkdir(out, { recursive: true });
await writeFile(`${out}latest.json`, `${JSON.stringify(results, null, 2)}\n`);
await writeFile(`${out}latest.md`, table);
await writeFile(`${out}latest.png`, await throughputChart(results));
process.stdout.write(`${table}\nWritten to ${out}latest.{json,md,png}\n`);
