/**
 * A real exporter process for the SIGKILL test: `convex-bridge export --follow` as the CLI wires
 * it (with the stream tail, the recovery read).
 * CRASH_DEDUP=off runs it at-least-once as before: no tail, and a publisher that retries an
 * unknown PutRecords outcome blindly (for the before/after comparison).
 */
import { KinesisEventPublisher } from '../../shared/adapters/kinesis-publisher.js';
import { S3ClaimCheckStore } from '../../shared/adapters/s3-claim-check.js';
import { createKinesisClient, createS3Client } from '../../shared/aws/clients.js';
import { loadExportConfig } from '../../shared/export/config.js';
import { type ExportDeps, exportChanges } from '../../shared/export/export-changes.js';
import { MemoryMetrics, silentLog } from '../../shared/ports/observability.js';
import { buildExportDeps, exportOptionsFrom } from '../../shared/wiring/export.js';

const config = loadExportConfig(process.env);
const metrics = new MemoryMetrics();
const wired: ExportDeps = await buildExportDeps(config, { metrics, log: silentLog });
const kinesis = createKinesisClient();
const dedup = process.env.CRASH_DEDUP !== 'off';
if (dedup && wired.tail === undefined) throw new Error('the export wiring must add a stream tail');
const deps: ExportDeps = dedup
  ? wired
  : {
      feed: wired.feed,
      store: wired.store,
      metrics,
      log: silentLog,
      publisher: new KinesisEventPublisher(kinesis, {
        streamName: config.streamName,
        claimCheck: new S3ClaimCheckStore(createS3Client(), config.oversizeBucket),
        tail: false,
      }),
    };
let n = 0;
for (;;) {
  const outcome = await exportChanges(deps, {
    ...exportOptionsFrom(config),
    owner: `crash-victim:${process.pid}:${n++}`,
    remainingMs: () => Number.POSITIVE_INFINITY,
    follow: true,
  });
  if (outcome.status !== 'lease-held') break;
  await new Promise((r) => setTimeout(r, Math.min(config.leaseTtlMs / 4, 5_000)));
}
