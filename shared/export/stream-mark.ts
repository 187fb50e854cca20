import { isLandedControl, type ShardPosition, type StreamMark } from '../ports/event-publisher.js';

/** Kinesis sequence numbers are decimal strings that grow per shard; compared without rounding. */
export function compareSeq(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A mark for a stream holding nothing of this export's written after `at`. */
export const emptyMark = (at: string, notBefore?: string): StreamMark => ({
  shards: {},
  at,
  ...(notBefore !== undefined ? { notBefore } : {}),
});

const keepFloor = (mark: StreamMark) =>
  mark.notBefore !== undefined ? { notBefore: mark.notBefore } : {};

/**
 * The mark after `written` (a publish's own mark) landed on top of `mark`: per shard the later
 * position, and the publish's time (a shard neither lists got nothing of ours before it).
 */
export function advanceMark(mark: StreamMark, written: StreamMark | undefined): StreamMark {
  if (written === undefined) return mark;
  const shards: Record<string, { seq: string; inclusive?: true }> = { ...mark.shards };
  for (const [shard, pos] of Object.entries(written.shards)) {
    const old = shards[shard];
    if (old === undefined || compareSeq(pos.seq, old.seq) >= 0) shards[shard] = { seq: pos.seq };
  }
  return {
    shards,
    at: written.at.localeCompare(mark.at) > 0 ? written.at : mark.at,
    ...keepFloor(mark),
  };
}

/**
 * Holds the mark back to the first record still expected to be skipped on each shard, so a crash
 * before those events come up again finds them again instead of publishing them twice. A control
 * event found holds back every shard one of its copies is on.
 */
export function holdBack(mark: StreamMark, pending: Iterable<ShardPosition>): StreamMark {
  const first = new Map<string, string>();
  const positions = function* () {
    for (const at of pending) yield* isLandedControl(at) ? at.copies : [at];
  };
  for (const { shard, seq } of positions()) {
    const seen = first.get(shard);
    if (seen === undefined || compareSeq(seq, seen) < 0) first.set(shard, seq);
  }
  if (first.size === 0) return mark;
  const shards: Record<string, { seq: string; inclusive?: true }> = { ...mark.shards };
  for (const [shard, seq] of first) {
    const old = shards[shard];
    if (old === undefined || compareSeq(seq, old.seq) <= 0)
      shards[shard] = { seq, inclusive: true };
  }
  return { shards, at: mark.at, ...keepFloor(mark) };
}

/** The mark moved past records known to be in the stream (found events that came up and were skipped). */
export function passRecords(mark: StreamMark, seen: Iterable<ShardPosition>): StreamMark {
  const shards: Record<string, { seq: string }> = {};
  for (const { shard, seq } of seen) {
    const old = shards[shard];
    if (old === undefined || compareSeq(seq, old.seq) > 0) shards[shard] = { seq };
  }
  return Object.keys(shards).length === 0 ? mark : advanceMark(mark, { shards, at: mark.at });
}
