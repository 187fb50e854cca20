import type { ConvexClient } from '../convex/client.js';
import {
  DataSyncNotServedError,
  FatalConvexError,
  MalformedResponseError,
  ResyncRequiredError,
} from '../convex/errors.js';
import type { FeedPosition, SourceMigration, TableFilter } from '../ports/change-feed.js';
import { serverSelection } from './convex-legacy-feed.js';

/**
 * Legacy → Data Sync without a re-copy: Convex turns the `document_deltas` cursor into a Data
 * Sync cursor of the same selection (`POST /api/data_sync_cursor_from_deltas`,
 * docs/convex-api.md §5) from which the sync carries on with the revisions after it, and no
 * truncates. Only from the deltas phase: a snapshot half copied has no delta cursor to convert.
 */
export class ConvexSourceMigration implements SourceMigration {
  constructor(private readonly client: Pick<ConvexClient, 'dataSyncCursorFromDeltas'>) {}

  async migrate(
    from: FeedPosition,
    options: { readonly filter?: TableFilter; readonly signal?: AbortSignal } = {},
  ): Promise<{ readonly position: FeedPosition } | { readonly refused: string }> {
    if (from.source !== 'legacy') return { refused: `the export already reads ${from.source}` };
    if (from.phase !== 'deltas')
      return {
        refused:
          'the legacy export is still copying its snapshot; it can move once it follows changes',
      };
    const selection = options.filter ? serverSelection(options.filter) : undefined;
    try {
      const cursor = await this.client.dataSyncCursorFromDeltas(
        {
          cursor: from.deltaCursor,
          ...(selection && 'selection' in selection ? { selection: selection.selection } : {}),
        },
        options.signal ? { signal: options.signal } : {},
      );
      return { position: { source: 'data-sync', phase: 'changes', cursor } };
    } catch (error) {
      const refused = refusal(error, from.deltaCursor);
      if (refused === undefined) throw error;
      return { refused };
    }
  }
}

/** Why Convex would not convert the cursor, for the answers that mean "not now, not this one". */
function refusal(error: unknown, cursor: string): string | undefined {
  if (error instanceof DataSyncNotServedError)
    return 'this deployment does not serve Data Sync (404: a backend older than it)';
  if (error instanceof ResyncRequiredError)
    return `Convex no longer holds the changes after the legacy cursor ${cursor} (${error.code ?? error.status}: outside its retention window)`;
  if (
    error instanceof FatalConvexError &&
    !(error instanceof MalformedResponseError) &&
    error.code === 'InvalidDataSyncCursor'
  )
    return `Convex refused the legacy cursor ${cursor} (InvalidDataSyncCursor${error.serverMessage ? `: ${error.serverMessage}` : ''})`;
  return undefined;
}
