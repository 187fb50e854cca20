import { createHash } from 'node:crypto';
import type { ConvexClient, ValueFormat } from '../convex/client.js';
import { convertExportJson } from '../convex/data-sync-values.js';
import { ResyncRequiredError } from '../convex/errors.js';
import type { DataSyncValue } from '../convex/responses.js';
import { BridgeError } from '../errors.js';
import {
  type ChangeEvent,
  controlEventId,
  type StreamEvent,
  type TruncateEvent,
} from '../events/change-event.js';
import type {
  ChangeFeed,
  DataSyncFeedPosition,
  FeedPage,
  FeedPosition,
  FeedReadOptions,
  FeedResync,
  SourceStatus,
} from '../ports/change-feed.js';
import { serverSelection } from './convex-legacy-feed.js';

/** Where a new Data Sync export starts: no cursor, so Convex begins a sync (and truncates). */
export const DATA_SYNC_START: DataSyncFeedPosition = { source: 'data-sync', phase: 'snapshot' };

/**
 * The change feed over Convex's Data Sync (`POST /api/v1/data/sync`, docs/convex-api.md §5): one
 * request per read, paced by the page's status rather than `hasMore` (always true). A page's
 * truncates go out before its values; `DataSyncCursorExpired` asks for a resync.
 */
export class ConvexDataSyncFeed implements ChangeFeed {
  constructor(
    private readonly client: Pick<ConvexClient, 'dataSync'>,
    private readonly format: ValueFormat = 'json',
  ) {}

  start(): FeedPosition {
    return DATA_SYNC_START;
  }

  async read(position: FeedPosition, options: FeedReadOptions): Promise<FeedPage | FeedResync> {
    if (position.source !== 'data-sync')
      throw new BridgeError(`the Data Sync feed cannot read a ${position.source} position`);
    const selection = options.filter ? serverSelection(options.filter) : undefined;
    try {
      const page = await this.client.dataSync(
        {
          ...(position.cursor !== undefined ? { cursor: position.cursor } : {}),
          ...(selection && 'selection' in selection ? { selection: selection.selection } : {}),
        },
        { signal: options.signal },
      );
      const { status } = page;
      const snapshotting = status.type === 'snapshotting';
      // Pages read from a copying position belong to the copy, including the one that ends it
      // (as the legacy snapshot's last page): their revisions are `snapshot` events.
      const copying = snapshotting || position.phase === 'snapshot';
      const snapshotTs = status.type === 'snapshotting' ? undefined : status.snapshotTs;
      const events: StreamEvent[] = [];
      // Named by the sync and the request's cursor: a replay of the same request gives the same
      // eventIds, and a new sync (a cold start again after a crash) new ones, so its truncates
      // are published (and its documents after them) instead of taken for the old sync's.
      const at = `c${createHash('sha256')
        .update(`${page.syncId}\n${position.cursor ?? ''}`)
        .digest('hex')
        .slice(0, 16)}`;
      for (const t of page.truncates) {
        const truncate: TruncateEvent = {
          v: 1,
          op: 'truncate',
          generation: options.generation,
          eventId: controlEventId.truncate(t.component, t.table, at, options.generation),
          component: t.component,
          table: t.table,
          cause: 'source',
          ...(snapshotTs !== undefined ? { ts: snapshotTs } : {}),
        };
        events.push(truncate);
      }
      for (const value of page.values)
        events.push(this.toChangeEvent(value, copying, options.generation));
      const sourceStatus: SourceStatus = {
        status: status.type,
        syncId: page.syncId,
        ...(snapshotTs !== undefined ? { snapshotTs } : {}),
      };
      return {
        kind: 'page',
        phase: copying ? 'snapshot' : 'changes',
        events,
        next: {
          source: 'data-sync',
          phase: snapshotting ? 'snapshot' : 'changes',
          cursor: page.nextCursor,
        },
        caughtUp: status.type === 'upToDate',
        // The first consistent page after snapshotting completes the copy, at its timestamp.
        ...(position.phase === 'snapshot' && snapshotTs !== undefined
          ? { snapshotCompletedAt: snapshotTs }
          : {}),
        ...(snapshotTs !== undefined ? { cursorTs: snapshotTs } : {}),
        sourceStatus,
      };
    } catch (error) {
      if (!(error instanceof ResyncRequiredError)) throw error;
      return {
        kind: 'resync',
        code: error.code ?? `HTTP ${error.status}`,
        message: error.serverMessage ?? error.message,
      };
    }
  }

  /**
   * A revision read by the copy is a `snapshot` event (a document may come several times, at
   * increasing revisions); later ones are upserts. A tombstone is a delete in either phase: while
   * copying, Convex sends one for a document it already sent and that was deleted since.
   */
  private toChangeEvent(value: DataSyncValue, copying: boolean, generation: number) {
    const event: ChangeEvent = {
      v: 1,
      op: value.deleted ? 'delete' : copying ? 'snapshot' : 'upsert',
      generation,
      component: value.component,
      table: value.table,
      id: value.id,
      ts: value.ts,
      eventId: `${value.id}@${value.ts}`,
      doc: value.deleted ? null : convertExportJson(value.value, this.format),
    };
    return event;
  }
}
