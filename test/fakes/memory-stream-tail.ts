import { isControlEvent } from '../../shared/events/change-event.js';
import type {
  ControlCopy,
  LandedControl,
  LandedScan,
  ShardPosition,
  StreamMark,
  StreamTail,
} from '../../shared/ports/event-publisher.js';
import { FAKE_RANGE, FAKE_SHARD, type RecordingPublisher } from './recording-publisher.js';

/**
 * Reads a RecordingPublisher's stream (one shard, sequence number = index + 1) after a mark, as
 * the Kinesis tail does: after/at the mark's sequence number, or from the mark's time when the
 * shard is not in it; at most `limitPerShard` records. `fail()` makes the next scan throw.
 */
export class MemoryStreamTail implements StreamTail {
  readonly scans: { mark: StreamMark; result: LandedScan }[] = [];
  private failures: Error[] = [];

  constructor(private readonly stream: RecordingPublisher) {}

  fail(error = new Error('Kinesis: GetRecords failed')): void {
    this.failures.push(error);
  }

  async landedSince(
    mark: StreamMark,
    options: { readonly limitPerShard: number },
  ): Promise<LandedScan> {
    await Promise.resolve();
    const failure = this.failures.shift();
    if (failure) throw failure;
    const from = mark.shards[FAKE_SHARD];
    const all = this.stream.published;
    let start: number;
    if (from === undefined) {
      const at = Date.parse(mark.at);
      start = this.stream.landedAt.findIndex((t) => t >= at);
      if (start < 0) start = all.length;
    } else start = Number(from.seq) - (from.inclusive ? 1 : 0);
    const end = Math.min(all.length, start + options.limitPerShard);
    const found = new Map<string, ShardPosition>();
    const copies = new Map<string, ControlCopy[]>();
    let bytes = 0;
    for (let i = start; i < end; i++) {
      const e = all[i];
      if (e === undefined) continue;
      bytes += JSON.stringify(e).length;
      const at = { shard: FAKE_SHARD, seq: String(i + 1) };
      if (isControlEvent(e)) {
        const list = copies.get(e.eventId) ?? [];
        list.push({ ...at, range: FAKE_RANGE });
        copies.set(e.eventId, list);
        const first = list[0] as ShardPosition;
        const entry: LandedControl = { shard: first.shard, seq: first.seq, copies: list };
        found.set(e.eventId, entry);
      } else if (!found.has(e.eventId))
        found.set(e.eventId, { ...at, table: `${e.component}/${e.table}` });
    }
    const result = {
      found,
      copies,
      complete: end === all.length,
      shards: 1,
      records: end - start,
      bytes,
      calls: 1,
    };
    this.scans.push({ mark, result });
    return result;
  }
}
