import { METRICS } from '../names.js';
import type {
  ChangeFeed,
  FeedPage,
  FeedPosition,
  FeedReadOptions,
  FeedResync,
  FeedSource,
} from '../ports/change-feed.js';
import type { MetricsSink } from '../ports/observability.js';

/**
 * One feed over both Convex sources: a new export (or generation) starts on the chosen source,
 * and every read goes to the source its position belongs to, so an existing export keeps its
 * source until it is migrated, whatever BRIDGE_SOURCE says now. With `metrics`, each page that
 * reports a source status (Data Sync) records it as SourceSnapshotting / SourceUpToDate (0 or 1).
 */
export class SourceChoosingFeed implements ChangeFeed {
  constructor(
    private readonly feeds: Readonly<Record<FeedSource, ChangeFeed>>,
    /** The source new exports start on. */
    readonly chosen: FeedSource,
    private readonly metrics?: MetricsSink,
  ) {}

  start(): FeedPosition {
    return this.feeds[this.chosen].start();
  }

  async read(position: FeedPosition, options: FeedReadOptions): Promise<FeedPage | FeedResync> {
    const out = await this.feeds[position.source].read(position, options);
    const status = out.kind === 'page' ? out.sourceStatus?.status : undefined;
    if (this.metrics && status !== undefined) {
      this.metrics.add(METRICS.sourceSnapshotting, status === 'snapshotting' ? 1 : 0, 'Count');
      this.metrics.add(METRICS.sourceUpToDate, status === 'upToDate' ? 1 : 0, 'Count');
    }
    return out;
  }
}
