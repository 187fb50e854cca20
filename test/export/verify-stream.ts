import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import type { StreamRecord } from '../../shared/adapters/kinesis-stream-reader.js';
import {
  type DocRef,
  type HashKeyRange,
  isControlEvent,
} from '../../shared/events/change-event.js';
import { parseLossless, stringifyLossless } from '../../shared/values/lossless-json.js';
import type { Deployment } from '../../simulator/deployment.js';
import { writeValue } from '../../simulator/values.js';

interface Expected {
  readonly op: 'snapshot' | 'upsert' | 'delete';
  readonly doc: string | null;
}

export interface ParsedEvent {
  readonly v: number;
  readonly op: string;
  readonly component: string;
  readonly table: string;
  readonly id: string;
  readonly ts: string;
  readonly eventId: string;
  readonly doc?: unknown;
  readonly docRef?: DocRef;
  /** On a control event's copy: the hash keys of the shard it was aimed at. */
  readonly hashKeyRange?: HashKeyRange;
}

/** Parses records, resolving claim checks from S3 the way a consumer would. */
export async function parseRecords(
  records: readonly StreamRecord[],
  s3: S3Client,
): Promise<{ record: StreamRecord; event: ParsedEvent; docText: string | null }[]> {
  const out = [];
  for (const record of records) {
    let event = parseLossless(Buffer.from(record.data).toString('utf8')) as ParsedEvent;
    if (event.docRef) {
      const object = await s3.send(
        new GetObjectCommand({ Bucket: event.docRef.bucket, Key: event.docRef.key }),
      );
      const text = (await object.Body?.transformToString()) ?? '';
      expect(Buffer.byteLength(text)).toBe(Number(event.docRef.bytes));
      const full = parseLossless(text) as ParsedEvent;
      expect(full.eventId).toBe(event.eventId);
      event = full;
    }
    out.push({
      record,
      event,
      docText: event.doc === null || event.doc === undefined ? null : stringifyLossless(event.doc),
    });
  }
  return out;
}

/** Every event the stream must hold: snapshot events as of `baseSnapshotTs`, then every later revision. */
export function expectedEvents(
  deployment: Deployment,
  baseSnapshotTs: bigint,
  include: (component: string, table: string) => boolean,
): Map<string, Expected> {
  const expected = new Map<string, Expected>();
  for (const tablet of deployment.tabletsAt(deployment.readTs())) {
    if (!include(tablet.component, tablet.name)) continue;
    for (const record of tablet.docs.values()) {
      let atSnapshot: { ts: bigint; value: unknown } | undefined;
      for (const rev of record.revisions) {
        if (rev.ts <= baseSnapshotTs) atSnapshot = rev;
        else {
          expected.set(`${record.id}@${rev.ts}`, {
            op: rev.value === null ? 'delete' : 'upsert',
            doc: rev.value === null ? null : writeValue(rev.value, 'clean'),
          });
        }
      }
      if (atSnapshot && atSnapshot.value !== null) {
        expected.set(`${record.id}@${atSnapshot.ts}`, {
          op: 'snapshot',
          doc: writeValue(atSnapshot.value as never, 'clean'),
        });
      }
    }
  }
  return expected;
}

/**
 * The delivery guarantee, checked: nothing missing, nothing invented, duplicates identical, ts
 * byte-exact, and per document the first appearance of each event in increasing ts order.
 * Control events' copies are not document events: each must be well formed (the control
 * partition key and the range it was aimed at, and one eventId per content); `controls` counts
 * the copies per eventId for the caller to check.
 */
export function verifyAgainstHistory(
  parsed: Awaited<ReturnType<typeof parseRecords>>,
  expected: Map<string, Expected>,
): { unique: number; duplicates: number; controls: Map<string, number> } {
  const seen = new Map<string, { op: string; doc: string | null }>();
  const newestPerKey = new Map<string, bigint>();
  const controls = new Map<string, number>();
  const controlContent = new Map<string, string>();
  let duplicates = 0;
  for (const { record, event, docText } of parsed) {
    expect(Number(event.v)).toBe(1);
    if (isControlEvent(event)) {
      expect(record.partitionKey).toBe('_control');
      expect(event.hashKeyRange).toMatchObject({
        start: expect.stringMatching(/^\d+$/),
        end: expect.stringMatching(/^\d+$/),
      });
      const { hashKeyRange: _aimed, ...content } = event;
      const text = stringifyLossless(content);
      expect(controlContent.get(event.eventId) ?? text).toBe(text);
      controlContent.set(event.eventId, text);
      controls.set(event.eventId, (controls.get(event.eventId) ?? 0) + 1);
      continue;
    }
    expect(record.partitionKey).toBe(event.id);
    expect(event.eventId).toBe(`${event.id}@${event.ts}`);
    expect(event.ts).toMatch(/^\d{19}$/);
    const previous = seen.get(event.eventId);
    if (previous) {
      duplicates++;
      expect({ op: event.op, doc: docText }).toEqual(previous);
      continue;
    }
    seen.set(event.eventId, { op: event.op, doc: docText });
    const ts = BigInt(event.ts);
    const newest = newestPerKey.get(record.partitionKey);
    if (newest !== undefined && ts <= newest) {
      throw new Error(`order broken for ${event.id}: ${event.ts} first appeared after ${newest}`);
    }
    newestPerKey.set(record.partitionKey, ts);
  }
  const missing = [...expected.keys()].filter((id) => !seen.has(id));
  const extra = [...seen.keys()].filter((id) => !expected.has(id));
  expect({ missing: missing.slice(0, 5), missingCount: missing.length }).toEqual({
    missing: [],
    missingCount: 0,
  });
  expect({ extra: extra.slice(0, 5), extraCount: extra.length }).toEqual({
    extra: [],
    extraCount: 0,
  });
  for (const [id, want] of expected)
    expect({ id, ...seen.get(id) }).toEqual({ id, op: want.op, doc: want.doc });
  return { unique: seen.size, duplicates, controls };
}
