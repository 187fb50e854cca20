import { ConvexDataSyncFeed } from '../shared/adapters/convex-data-sync-feed.js';
import { serverSelection } from '../shared/adapters/convex-legacy-feed.js';
import { isChangeEvent, type StreamEvent } from '../shared/events/change-event.js';
import type {
  ChangeFeed,
  FeedPage,
  FeedPosition,
  FeedReadOptions,
  FeedResync,
  TableFilter,
} from '../shared/ports/change-feed.js';
import { toDeltaCursor } from '../shared/values/int64.js';
import { DELTAS_TABLE, SNAPSHOT_TABLE } from './bench-sim.js';
import { type BenchContext, convexClient, freshStore, timed } from './context.js';
import { type Measured, measured, publishOnly, runExporter, startAt } from './export-throughput.js';

/**
 * `snapshot`: a cold start (no cursor) until the first consistent page, the one that completes the
 * copy. `changes`: a cursor at the start of the change backlog (the legacy deltas cursor turned
 * into a Data Sync one by Convex) until caught up.
 */
export type DataSyncPhase = 'snapshot' | 'changes';

export interface DataSyncThroughput {
  readonly phase: DataSyncPhase;
  readonly fetchOnly: Measured;
  readonly publishOnly: Measured;
  readonly ours: Measured;
  /** Truncates Data Sync sent as the table entered the sync: published, not counted in `events`. */
  readonly truncates: number;
  readonly oursVsFetchOnly: number;
  /** ours / min(fetch-only, publish-only). */
  readonly oursVsCeiling: number;
}

/**
 * Ends the read at the first consistent page: its `snapshotCompletedAt` marks the copy done, and
 * the exporter stops there as it stops at `upToDate`. Changes nothing that is fetched or published.
 */
class UntilCopied implements ChangeFeed {
  constructor(private readonly feed: ChangeFeed) {}

  start(): FeedPosition {
    return this.feed.start();
  }

  async read(position: FeedPosition, options: FeedReadOptions): Promise<FeedPage | FeedResync> {
    const read = await this.feed.read(position, options);
    return read.kind === 'page' && read.snapshotCompletedAt !== undefined
      ? { ...read, caughtUp: true }
      : read;
  }
}

const filterOf = (phase: DataSyncPhase): TableFilter => ({
  includeTables: [phase === 'snapshot' ? SNAPSHOT_TABLE : DELTAS_TABLE],
});

/** The feed and where it starts: nothing for a cold start, Convex's continuation of the backlog. */
async function source(
  ctx: BenchContext,
  phase: DataSyncPhase,
): Promise<{ feed: ChangeFeed; from: FeedPosition }> {
  const client = convexClient(ctx);
  const feed = new ConvexDataSyncFeed(client);
  if (phase === 'snapshot') return { feed: new UntilCopied(feed), from: feed.start() };
  const selection = serverSelection(filterOf(phase));
  const cursor = await client.dataSyncCursorFromDeltas({
    cursor: toDeltaCursor(ctx.sim.deltasFrom),
    ...(selection && 'selection' in selection ? { selection: selection.selection } : {}),
  });
  return { feed, from: { source: 'data-sync', phase: 'changes', cursor } };
}

/** The feed paging the simulator (the client's streaming parser, then events) and nothing else. */
async function fetchOnly(ctx: BenchContext, phase: DataSyncPhase) {
  const { feed, from } = await source(ctx, phase);
  const filter = filterOf(phase);
  const signal = new AbortController().signal;
  const pages: StreamEvent[][] = [];
  const { seconds } = await timed(async () => {
    for (let position = from; ; ) {
      const read = await feed.read(position, { signal, generation: 1, filter });
      if (read.kind === 'resync') throw new Error(`data sync ${phase}: ${read.code}`);
      pages.push(read.events);
      position = read.next;
      if (read.caughtUp) break;
    }
  });
  const events = pages.flat();
  const documents = events.filter(isChangeEvent).length;
  return {
    measured: measured(documents, seconds, pages.length),
    events,
    truncates: events.filter((e) => e.op === 'truncate').length,
  };
}

/** The exporter itself on Data Sync, with the legacy row's publisher and settings. */
async function ours(ctx: BenchContext, phase: DataSyncPhase): Promise<Measured> {
  const { feed, from } = await source(ctx, phase);
  const store = freshStore(ctx);
  if (phase === 'changes') await startAt(store, from);
  return runExporter(ctx, feed, store, phase === 'snapshot' ? SNAPSHOT_TABLE : DELTAS_TABLE);
}

/**
 * The Data Sync rows, on the same seeded deployment as the legacy ones: every variant must move
 * the document events fetch-only fetched, and those must be the deployment's documents (snapshot)
 * or the legacy feed's change count (`expected`).
 */
export async function dataSyncThroughput(
  ctx: BenchContext,
  phase: DataSyncPhase,
  expected: number,
): Promise<DataSyncThroughput> {
  const fetched = await fetchOnly(ctx, phase);
  const documents = fetched.measured.events;
  if (documents !== expected)
    throw new Error(
      `data sync ${phase}: fetched ${documents} document events, expected ${expected}`,
    );
  // Rates count document events, as the exporter's outcome does; the truncates go out too.
  const published = await publishOnly(ctx, fetched.events);
  const publish = measured(documents, published.seconds);
  const our = await ours(ctx, phase);
  if (our.events !== documents)
    throw new Error(
      `data sync ${phase} ours: moved ${our.events} document events, fetched ${documents}`,
    );
  return {
    phase,
    fetchOnly: fetched.measured,
    publishOnly: publish,
    ours: our,
    truncates: fetched.truncates,
    oursVsFetchOnly: our.eventsPerSecond / fetched.measured.eventsPerSecond,
    oursVsCeiling:
      our.eventsPerSecond / Math.min(fetched.measured.eventsPerSecond, publish.eventsPerSecond),
  };
}
