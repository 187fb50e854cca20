import { describe, expect, it } from 'vitest';
import {
  compareInt64,
  type DeltaCursor,
  deltaCursorAfterSnapshot,
  type SnapshotCursor,
  type SnapshotTs,
  toDeltaCursor,
  toSnapshotCursor,
  toSnapshotTs,
} from '../../shared/values/int64.js';

describe('int64 cursor values', () => {
  it('accepts exact decimal int64 text and keeps it byte-identical', () => {
    expect(toDeltaCursor('1718000001000000007')).toBe('1718000001000000007');
    expect(toSnapshotTs('9223372036854775807')).toBe('9223372036854775807');
  });

  it.each(['', '-1', '1.5', '1e18', ' 1', '01', '9223372036854775808', 'abc'])(
    'rejects %j',
    (text) => {
      expect(() => toDeltaCursor(text)).toThrow(/non-negative int64/);
    },
  );

  it('compares numerically, not as text', () => {
    expect(compareInt64('202', '3')).toBe(1);
    expect(compareInt64('1718000001000000007', '1718000001000000008')).toBe(-1);
  });

  it('keeps the three cursor kinds apart at compile time', () => {
    const ts: SnapshotTs = toSnapshotTs('1718000001000000007');
    const page: SnapshotCursor = toSnapshotCursor('{"tablet":"a","id":"b"}');
    const takesDelta = (c: DeltaCursor) => c;
    // @ts-expect-error a snapshot timestamp is not a delta cursor without the explicit crossing
    takesDelta(ts);
    // @ts-expect-error a snapshot page cursor is never a delta cursor (PostHog #67012)
    takesDelta(page);
    // @ts-expect-error plain strings need validation first
    takesDelta('1718000001000000007');
    expect(takesDelta(deltaCursorAfterSnapshot(ts))).toBe('1718000001000000007');
  });
});
