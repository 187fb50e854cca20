import type { FeedPosition, LegacyFeedPosition } from '../../shared/ports/change-feed.js';

/** The position as a legacy one; these fakes and checks speak only the legacy source. */
export function legacyPosition<P extends FeedPosition | undefined>(
  position: P,
): P extends undefined ? LegacyFeedPosition | undefined : LegacyFeedPosition {
  if (position !== undefined && position.source !== 'legacy')
    throw new Error(`expected a legacy position, got ${JSON.stringify(position)}`);
  return position as never;
}
