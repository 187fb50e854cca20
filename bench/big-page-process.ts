// Runs one export of a single 16,000-write transaction in a process of its own, so its peak
// resident memory (maxRSS) is the exporter's alone, and prints what it measured as JSON.
import { exportChanges } from '../lambdas/export/export-changes.js';
import { DynamoDbExportStore } from '../shared/adapters/dynamodb-export-store.js';
import { KinesisEventPublisher } from '../shared/adapters/kinesis-publisher.js';
import { S3ClaimCheckStore } from '../shared/adapters/s3-claim-check.js';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
} from '../shared/aws/clients.js';
import { ConvexClient } from '../shared/convex/client.js';
import { MemoryMetrics, silentLog } from '../shared/observability/ports.js';
import type { BigPageJob, BigPageResult } from './memory.js';

const job = JSON.parse(process.argv[2] ?? '{}') as BigPageJob;
const deps = {
  source: new ConvexClient({
    url: job.simUrl,
    deployKey: job.deployKey,
    allowInsecureLoopback: true,
  }),
  store: new DynamoDbExportStore(createDynamoDbClient(), job.stateTable, job.exportId),
  publisher: new KinesisEventPublisher(createKinesisClient(), {
    streamName: job.streamName,
    claimCheck: new S3ClaimCheckStore(createS3Client(), job.bucket),
  }),
  metrics: new MemoryMetrics(),
  log: silentLog,
};
const mb = (bytes: number) => bytes / (1024 * 1024);
const rssBeforeMb = mb(process.memoryUsage().rss);
let heapPeak = process.memoryUsage().heapUsed;
const sampler = setInterval(() => {
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
}, 5);
const outcome = await exportChanges(deps, {
  owner: 'bench-big-page',
  remainingMs: () => Number.POSITIVE_INFINITY,
  safetyMarginMs: 10_000,
  follow: false,
  pollIntervalMs: 500,
  leaseTtlMs: 600_000,
  filter: { includeTables: [job.table] },
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
