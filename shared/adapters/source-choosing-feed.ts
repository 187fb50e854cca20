import type {
  ChangeFeed,
  FeedPage,
  FeedPosition,
  FeedReadOptions,
  FeedResync,
  FeedSource,
} from '../ports/change-feed.js';

/**
 * One feed over both Convex sources: a new export (or generation) starts on the chosen source,
 * and every read goes to the source its position belongs to, so an existing export keeps its
 * source until it is migrated, whatever BRIDGE_SOURCE says now.
 */
export class SourceChoosingFeed implements ChangeFeed {
  constructor(
    private readonly feeds: Readonly<Record<FeedSource, ChangeFeed>>,
    /** The source new exports start on. */
    readonly chosen: FeedSource,
  ) {}

  start(): FeedPosition {
    return this.feeds[this.chosen].start();
  }

  read(position: FeedPosition, options: FeedReadOptions): Promise<FeedPage | FeedResync> {
    return this.feeds[position.source].read(position, options);
  }
}
