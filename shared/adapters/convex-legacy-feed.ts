import type { ConvexClient, ExportSelection, ValueFormat } from '../convex/client.js';
import { ResyncRequiredError } from '../convex/errors.js';
import type { ExportedDocument } from '../convex/responses.js';
import { BridgeError } from '../errors.js';
import type { ChangeEvent, ChangeOp } from '../events/change-event.js';
import { splitTableEntry } from '../export/table-filter.js';
import type {
  ChangeFeed,
  FeedPage,
  FeedPosition,
  FeedReadOptions,
  FeedResync,
  LegacyFeedPosition,
  TableFilter,
} from '../ports/change-feed.js';
import { deltaCursorAfterSnapshot } from '../values/int64.js';

/**
 * The change feed over Convex's streaming export endpoints: `list_snapshot` pages with the
 * snapshot timestamp pinned from the first page, then `document_deltas` from that timestamp
 * (docs/convex-api.md §4.1, §4.2).
 */
export class ConvexLegacyFeed implements ChangeFeed {
  constructor(
    private readonly client: Pick<ConvexClient, 'listSnapshot' | 'documentDeltas'>,
    private readonly format: ValueFormat = 'json',
  ) {}

  start(): FeedPosition {
    return { source: 'legacy', phase: 'snapshot' };
  }

  async read(position: FeedPosition, options: FeedReadOptions): Promise<FeedPage | FeedResync> {
    try {
      if (position.source !== 'legacy')
        throw new BridgeError(`the legacy feed cannot read a ${position.source} position`);
      return position.phase === 'snapshot'
        ? await this.snapshotPage(position, options)
        : await this.deltasPage(position, options);
    } catch (error) {
      if (!(error instanceof ResyncRequiredError)) throw error;
      return {
        kind: 'resync',
        code: error.code ?? `HTTP ${error.status}`,
        message: error.serverMessage ?? error.message,
      };
    }
  }

  private async snapshotPage(
    position: Extract<LegacyFeedPosition, { phase: 'snapshot' }>,
    { filter, signal, generation }: FeedReadOptions,
  ): Promise<FeedPage> {
    const selection = filter ? serverSelection(filter) : undefined;
    const page = await this.client.listSnapshot(
      {
        ...(position.snapshotTs !== undefined ? { snapshot: position.snapshotTs } : {}),
        ...(position.snapshotCursor !== undefined ? { cursor: position.snapshotCursor } : {}),
        ...(selection ? { selection } : {}),
        format: this.format,
      },
      { signal },
    );
    if (page.hasMore && page.cursor === null)
      throw new BridgeError('list_snapshot said hasMore with a null cursor');
    const done = !page.hasMore || page.cursor === null;
    return {
      kind: 'page',
      phase: 'snapshot',
      events: page.values.map((d) => toChangeEvent(d, true, generation)),
      next: done
        ? {
            source: 'legacy',
            phase: 'deltas',
            deltaCursor: deltaCursorAfterSnapshot(page.snapshot),
          }
        : {
            source: 'legacy',
            phase: 'snapshot',
            snapshotTs: page.snapshot,
            snapshotCursor: page.cursor as NonNullable<typeof page.cursor>,
          },
      caughtUp: false,
      ...(position.snapshotTs === undefined
        ? { pin: { source: 'legacy', phase: 'snapshot', snapshotTs: page.snapshot } }
        : {}),
      ...(done ? { snapshotCompletedAt: page.snapshot } : {}),
    };
  }

  private async deltasPage(
    position: Extract<LegacyFeedPosition, { phase: 'deltas' }>,
    { filter, signal, generation }: FeedReadOptions,
  ): Promise<FeedPage> {
    const selection = filter ? serverSelection(filter) : undefined;
    const page = await this.client.documentDeltas(
      { cursor: position.deltaCursor, ...(selection ? { selection } : {}), format: this.format },
      { signal },
    );
    return {
      kind: 'page',
      phase: 'changes',
      events: page.values.map((d) => toChangeEvent(d, false, generation)),
      next: { source: 'legacy', phase: 'deltas', deltaCursor: page.cursor },
      caughtUp: !page.hasMore,
      cursorTs: page.cursor,
    };
  }
}

/** One exported document as a change event (docs/events.md). */
export function toChangeEvent(
  document: ExportedDocument,
  fromSnapshot: boolean,
  generation: number,
): ChangeEvent {
  const op: ChangeOp = fromSnapshot ? 'snapshot' : document.deleted ? 'delete' : 'upsert';
  return {
    v: 1,
    op,
    generation,
    component: document.component,
    table: document.table,
    id: document.id,
    ts: document.ts,
    eventId: `${document.id}@${document.ts}`,
    doc: document.deleted ? null : document.doc,
  };
}

const has = (list: readonly string[] | undefined) => list !== undefined && list.length > 0;

/**
 * The table filter as a Convex selection object (docs/convex-api.md §3), so unselected documents
 * are not even sent. The exporter still filters every row itself: a malformed selection or an
 * old backend exports everything.
 */
export function serverSelection(filter: TableFilter): ExportSelection | undefined {
  if (
    !has(filter.includeTables) &&
    !has(filter.excludeTables) &&
    !has(filter.includeComponents) &&
    !has(filter.excludeComponents)
  ) {
    return undefined;
  }
  const anyInclude = has(filter.includeTables) || has(filter.includeComponents);
  const selection: Record<string, unknown> = { _other: anyInclude ? 'excluded' : 'included' };
  const component = (path: string, other: 'included' | 'excluded') => {
    const current = selection[path];
    if (typeof current === 'object' && current !== null) return current as Record<string, unknown>;
    const fresh: Record<string, unknown> = { _other: other };
    selection[path] = fresh;
    return fresh;
  };
  for (const path of filter.includeComponents ?? []) selection[path] = { _other: 'included' };
  for (const entry of filter.includeTables ?? []) {
    const [path, table] = splitTableEntry(entry);
    const c = component(path, 'excluded');
    if (c._other === 'excluded') c[table] = { _other: 'included' };
  }
  for (const entry of filter.excludeTables ?? []) {
    const [path, table] = splitTableEntry(entry);
    if (selection[path] === 'excluded') continue;
    component(path, anyInclude ? 'excluded' : 'included')[table] = 'excluded';
  }
  for (const path of filter.excludeComponents ?? []) selection[path] = 'excluded';
  return { selection };
}
