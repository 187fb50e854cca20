import { DataSyncNotServedError } from '../convex/errors.js';
import { METRICS } from '../names.js';
import type {
  ChangeFeed,
  FeedPage,
  FeedPosition,
  FeedReadOptions,
  FeedResync,
  FeedSource,
} from '../ports/change-feed.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';

/** BRIDGE_SOURCE: where a new export (or a new generation) starts. */
export type SourceSetting = FeedSource | 'auto';

/**
 * One feed over both Convex sources. Every read goes to the source its position belongs to, so an
 * existing export keeps its source until it is migrated, whatever BRIDGE_SOURCE says now.
 *
 * With `auto`, a new export starts on Data Sync; its first request tells whether the deployment
 * serves it (older backends answer 404, docs/convex-api.md §1.1), and if not, that read and every
 * later start go to the legacy endpoints. Asking on the first read rather than when the deps are
 * built keeps a start-up with Convex unreachable a failed run that the state records, and the
 * answer is a page we use, not a probe. The answer is kept for as long as the feed lives.
 *
 * With `metrics`, each page that reports a source status (Data Sync) records it as
 * SourceSnapshotting / SourceUpToDate (0 or 1).
 */
export class SourceChoosingFeed implements ChangeFeed {
  private served: boolean | undefined;

  constructor(
    private readonly feeds: Readonly<Record<FeedSource, ChangeFeed>>,
    readonly setting: SourceSetting,
    private readonly sinks: { readonly metrics?: MetricsSink; readonly log?: LogSink } = {},
  ) {}

  /** The source new exports start on, as far as known (`auto` before its first read: Data Sync). */
  get chosen(): FeedSource {
    if (this.setting === 'auto') return this.served === false ? 'legacy' : 'data-sync';
    return this.setting;
  }

  start(): FeedPosition {
    return this.feeds[this.chosen].start();
  }

  async read(position: FeedPosition, options: FeedReadOptions): Promise<FeedPage | FeedResync> {
    const out = await this.readFrom(position, options);
    const status = out.kind === 'page' ? out.sourceStatus?.status : undefined;
    if (this.sinks.metrics && status !== undefined) {
      const m = this.sinks.metrics;
      m.add(METRICS.sourceSnapshotting, status === 'snapshotting' ? 1 : 0, 'Count');
      m.add(METRICS.sourceUpToDate, status === 'upToDate' ? 1 : 0, 'Count');
    }
    return out;
  }

  private async readFrom(position: FeedPosition, options: FeedReadOptions) {
    // Only `auto`'s start may change source: a sync that has a cursor is served by definition.
    const fresh = position.source === 'data-sync' && position.cursor === undefined;
    if (this.setting !== 'auto' || !fresh)
      return this.feeds[position.source].read(position, options);
    if (this.served === false) return this.feeds.legacy.read(this.feeds.legacy.start(), options);
    try {
      const out = await this.feeds['data-sync'].read(position, options);
      this.served = true;
      return out;
    } catch (error) {
      if (!(error instanceof DataSyncNotServedError)) throw error;
      this.served = false;
      this.sinks.log?.info(
        'this deployment does not serve Data Sync (404): the export reads the legacy endpoints',
      );
      return this.feeds.legacy.read(this.feeds.legacy.start(), options);
    }
  }
}
