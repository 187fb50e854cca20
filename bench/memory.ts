import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { initialExportState } from '../shared/export/export-state.js';
import { toDeltaCursor } from '../shared/values/int64.js';
import { type BenchContext, convexEnv, freshStore, freshStream } from './context.js';

const run = promisify(execFile);

export interface BigPageResult {
  readonly events: number;
  readonly pages: number;
  readonly rssBeforeMb: number;
  /** The process's resident-memory high-water mark over its whole life. */
  readonly maxRssMb: number;
  readonly heapPeakMb: number;
}

export interface MemoryResult extends BigPageResult {
  readonly writes: number;
  readonly transactionMb: number;
}

const TABLE = 'bench_bigtx';

/**
 * Convex never splits a transaction across document_deltas pages, so one transaction of 16,000
 * writes (Convex's maximum) arrives as one page; this is the exporter's worst single page.
 */
export async function bigPageMemory(
  ctx: BenchContext,
  options: { writes: number; docBytes: number },
  awsEnv: Record<string, string>,
): Promise<MemoryResult> {
  const filler = 'm'.repeat(options.docBytes);
  const writes = Array.from({ length: options.writes }, (_, i) => ({
    op: 'insert',
    table: TABLE,
    doc: { i, filler },
  }));
  const { ts } = (await ctx.sim.admin('/_sim/transaction', { writes })) as { ts: string };
  const stream = await freshStream(ctx);
  const store = freshStore(ctx);
  const held = await store.acquire('bench-setup', 60_000);
  if (!held) throw new Error('benchmark state lease unavailable');
  await store.checkpoint(
    held.lease,
    {
      ...initialExportState(),
      position: {
        source: 'legacy',
        phase: 'deltas',
        deltaCursor: toDeltaCursor(String(BigInt(ts) - 1n)),
      },
    },
    60_000,
  );
  await store.release(held.lease);
  // The exporter's own settings, as the CDK construct would set them.
  const env = {
    ...awsEnv,
    ...convexEnv(ctx),
    BRIDGE_STREAM_NAME: stream.name,
    BRIDGE_STATE_TABLE: ctx.stateTable,
    BRIDGE_OVERSIZE_BUCKET: ctx.bucket,
    BRIDGE_EXPORT_ID: store.exportId,
    BRIDGE_INCLUDE_TABLES: TABLE,
  };
  const script = fileURLToPath(new URL('./big-page-process.ts', import.meta.url));
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, ...env },
      maxBuffer: 1024 * 1024,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as BigPageResult;
    if (result.events !== options.writes)
      throw new Error(`big page: exported ${result.events} of ${options.writes} writes`);
    return {
      ...result,
      writes: options.writes,
      transactionMb: (options.writes * (options.docBytes + 40)) / (1024 * 1024),
    };
  } finally {
    await stream.drop();
  }
}
