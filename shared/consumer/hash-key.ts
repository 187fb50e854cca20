import { createHash } from 'node:crypto';
import type { HashKeyRange } from '../events/change-event.js';

/** The largest Kinesis hash key, 2^128 − 1: a stream's shards cover 0 … this together. */
export const MAX_HASH_KEY = (1n << 128n) - 1n;

/** The whole hash-key space, as one range. */
export const FULL_RANGE: HashKeyRange = { start: '0', end: MAX_HASH_KEY.toString() };

/**
 * The hash key Kinesis routes a record to: MD5 of the UTF-8 partition key read as an unsigned
 * 128-bit big-endian integer. A document event's partition key is the document `id`.
 */
export function partitionKeyHash(partitionKey: string): bigint {
  return BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
}

/** Inclusive bounds as integers; a range whose start is above its end is empty. */
export interface HashBounds {
  readonly start: bigint;
  readonly end: bigint;
}

export const toBounds = (range: HashKeyRange): HashBounds => ({
  start: BigInt(range.start),
  end: BigInt(range.end),
});

/** The keys both ranges hold, or undefined when they share none. */
export function intersectRanges(a: HashBounds, b: HashBounds): HashBounds | undefined {
  // biome-ignore lint/complexity/useMathMinMax: bigints; Math.max takes numbers only
  const start = a.start > b.start ? a.start : b.start;
  // biome-ignore lint/complexity/useMathMinMax: bigints; Math.min takes numbers only
  const end = a.end < b.end ? a.end : b.end;
  return start <= end ? { start, end } : undefined;
}

export const rangeContains = (range: HashBounds, hash: bigint): boolean =>
  hash >= range.start && hash <= range.end;
