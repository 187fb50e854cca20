import {
  type ExportDeps,
  type ExportOptions,
  exportChanges,
} from '../../shared/export/export-changes.js';
import type { ChangeFeed } from '../../shared/ports/change-feed.js';
import { MemoryMetrics } from '../../shared/ports/observability.js';
import { FakeClock } from '../fakes/clock.js';
import { MemoryExportStore } from '../fakes/memory-export-store.js';
import { RecordingLog } from '../fakes/recording-log.js';
import { RecordingPublisher } from '../fakes/recording-publisher.js';

export const MARGIN = 1_000;
export const POLL = 500;
export const TTL = 60_000;

/** Fresh fakes around one feed; `run()` is one invocation of the use case. */
export function rig(feed: ChangeFeed, extra: Partial<ExportDeps> = {}) {
  const clock = new FakeClock();
  const store = new MemoryExportStore(clock.now);
  const publisher = new RecordingPublisher();
  const metrics = new MemoryMetrics();
  const log = new RecordingLog();
  const sleeps: number[] = [];
  let sleep: (ms: number, signal: AbortSignal) => Promise<void> = async () => {
    throw new Error('this test did not expect the exporter to poll');
  };
  const deps: ExportDeps = {
    feed,
    store,
    publisher,
    metrics,
    log,
    now: clock.now,
    sleep: (ms, signal) => {
      sleeps.push(ms);
      // a reader that never stops would spin here forever: fail the run instead
      if (sleeps.length > 200) return Promise.reject(new Error('polled more than 200 times'));
      return sleep(ms, signal);
    },
    ...extra,
  };
  const options = (o: Partial<ExportOptions> = {}): ExportOptions => ({
    owner: 'run-1',
    remainingMs: () => Number.POSITIVE_INFINITY,
    safetyMarginMs: MARGIN,
    follow: false,
    pollIntervalMs: POLL,
    leaseTtlMs: TTL,
    ...o,
  });
  return {
    clock,
    store,
    publisher,
    metrics,
    log,
    deps,
    sleeps,
    onSleep(fn: typeof sleep) {
      sleep = fn;
    },
    run: (o: Partial<ExportOptions> = {}) => exportChanges(deps, options(o)),
    stored: async () => (await store.read()).state,
  };
}
