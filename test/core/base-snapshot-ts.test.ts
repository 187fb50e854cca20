import { expect, it } from 'vitest';
import { initialExportState } from '../../shared/export/export-state.js';
import { stateAfter, toBatch } from '../../shared/export/page-batch.js';
import type { FeedPage } from '../../shared/ports/change-feed.js';

// Data Sync: the page that completes the copy (first stale page) and the next one (upToDate)
// queue up while a publish is in flight and go out as one batch.
const page = (cursor: string, extra: Partial<FeedPage> = {}): FeedPage => ({
  kind: 'page',
  phase: 'changes',
  events: [],
  caughtUp: false,
  next: { source: 'data-sync', phase: 'changes', cursor },
  ...extra,
});
it('keeps the copy time when the completing page is not the last of its batch', () => {
  const state = initialExportState(1, new Date(), { source: 'data-sync', phase: 'snapshot' });
  const batch = toBatch([
    page('a', { snapshotCompletedAt: '1700000000000000001' }),
    page('b', { caughtUp: true }),
  ]);
  expect(stateAfter(state, batch, new Date().toISOString()).baseSnapshotTs).toBe(
    '1700000000000000001',
  );
});
