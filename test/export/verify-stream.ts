import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import {
  effectiveRange,
  type KeyRange,
  type ShardInfo,
  toHashKeyRange,
  uncoveredShards,
} from '../../shared/adapters/kinesis-shards.js';
import { readWholeStream, type StreamRecord } from '../../shared/adapters/kinesis-stream-reader.js';
import { createDynamoDbClient } from '../../shared/aws/clients.js';
import { partitionKeyHash } from '../../shared/consumer/hash-key.js';
import {
  type DocRef,
  type HashKeyRange,
  isControlEvent,
} from '../../shared/events/change-event.js';
import { type TableFilter, tablePredicate } from '../../shared/export/table-filter.js';
import { parseLossless, stringifyLossless } from '../../shared/values/lossless-json.js';
import type { Deployment, DocRecord } from '../../simulator/deployment.js';
import { writeValue } from '../../simulator/values.js';
import { consumeWholeStream, convexState } from './consume-stream.js';
import type { useExportRig } from './rig.js';

type ExportRig = ReturnType<typeof useExportRig>;

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
  /** Absent on records written before generations (read as 1). */
  readonly generation?: number;
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
 * A control event's copy is well formed: the control partition key, the range it was aimed at,
 * and one content per eventId (copies and replays identical). Counts copies per eventId. With
 * `tsVariants` (Data Sync), a copy that differs from the first only in `ts` is counted there
 * instead of failing: the feed takes a truncate's and a snapshot-complete's `ts` from the page's
 * status, which a page read again from the same cursor may give differently.
 */
function checkControlCopy(
  record: StreamRecord,
  event: ParsedEvent,
  contents: Map<string, string>,
  counts: Map<string, number>,
  tsVariants?: Set<string>,
): void {
  expect(record.partitionKey).toBe('_control');
  expect(event.hashKeyRange).toMatchObject({
    start: expect.stringMatching(/^\d+$/),
    end: expect.stringMatching(/^\d+$/),
  });
  const { hashKeyRange: _aimed, ...content } = event;
  const text = stringifyLossless(content);
  const first = contents.get(event.eventId) ?? text;
  const withoutTs = (t: string) => {
    const { ts: _ts, ...rest } = parseLossless(t) as Record<string, unknown>;
    return stringifyLossless(rest);
  };
  if (tsVariants !== undefined && first !== text && withoutTs(first) === withoutTs(text))
    tsVariants.add(event.eventId);
  else
    expect({ eventId: event.eventId, content: text }).toEqual({
      eventId: event.eventId,
      content: first,
    });
  contents.set(event.eventId, first);
  counts.set(event.eventId, (counts.get(event.eventId) ?? 0) + 1);
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
      checkControlCopy(record, event, controlContent, controls);
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

type Parsed = Awaited<ReturnType<typeof parseRecords>>;
type Include = (component: string, table: string) => boolean;

/** Every document of a selected user table the deployment ever held (cleared tables too), by id. */
function documentsEverHeld(deployment: Deployment, include: Include): Map<string, DocRecord> {
  const out = new Map<string, DocRecord>();
  for (const { record } of deployment.log) {
    const { tablet } = record;
    if (tablet.system || !include(tablet.component, tablet.name)) continue;
    out.set(record.id, record);
  }
  return out;
}

/**
 * What is true of every source, checked against the simulator's whole log (Data Sync has no
 * pinned snapshot: a document may come several times while the copy runs, and a resync leaves
 * a gap). Every document event is a real revision of a selected document, exactly (19-digit
 * ts, eventId, partition key, op, document text); within a generation, repeats are identical and
 * a document's first appearances come in increasing ts (a resync's snapshot sends unchanged
 * documents again with their eventIds: not counted as repeats). Nothing lost: every table that existed
 * when the (last) copy completed at `baseSnapshotTs` has every later revision in the stream and
 * its documents as they were then; every document live now is there with its latest revision.
 */
export function verifyAgainstLog(
  parsed: Parsed,
  deployment: Deployment,
  baseSnapshotTs: bigint,
  include: Include,
  options: {
    controlTsMayVary?: boolean;
    /**
     * Data Sync walks the tables that exist when a page is read, as of the sync's timestamp,
     * which lags: a table cleared or replaced after the copy's timestamp but before its walk is
     * not in the copy (its replacement is, with a truncate). Tables dropped since are then held
     * only to what the consumer check says (their rows must be gone).
     */
    copiesCurrentTables?: boolean;
  } = {},
): {
  unique: number;
  duplicates: number;
  controls: Map<string, number>;
  /** Control eventIds whose copies differ in `ts` only (`controlTsMayVary`). */
  controlTsVariants: Set<string>;
} {
  const history = documentsEverHeld(deployment, include);
  const tsVariants = new Set<string>();
  const seen = new Map<string, { generation: number; op: string; doc: string | null }>();
  const landed = new Set<string>();
  const newestPerKey = new Map<string, bigint>();
  const controls = new Map<string, number>();
  const controlContent = new Map<string, string>();
  const invented: string[] = [];
  let duplicates = 0;
  for (const { record, event, docText } of parsed) {
    expect(Number(event.v)).toBe(1);
    if (isControlEvent(event)) {
      checkControlCopy(
        record,
        event,
        controlContent,
        controls,
        options.controlTsMayVary ? tsVariants : undefined,
      );
      continue;
    }
    expect(record.partitionKey).toBe(event.id);
    expect(event.eventId).toBe(`${event.id}@${event.ts}`);
    expect(event.ts).toMatch(/^\d{19}$/);
    const generation = Number(event.generation ?? 1);
    expect(Number.isInteger(generation) && generation >= 1).toBe(true);
    const ts = BigInt(event.ts);
    const revision = history.get(event.id)?.revisions.find((r) => r.ts === ts);
    if (revision === undefined) {
      invented.push(event.eventId);
      continue;
    }
    const live = event.op === 'snapshot' || event.op === 'upsert';
    expect({ eventId: event.eventId, op: event.op, doc: docText }).toEqual({
      eventId: event.eventId,
      op: revision.value === null ? 'delete' : live ? event.op : 'snapshot or upsert',
      doc: revision.value === null ? null : writeValue(revision.value, 'clean'),
    });
    // A resync's snapshot repeats unchanged documents' eventIds in the new generation: not a
    // repeat. Within a generation a repeat is identical, and first appearances increase in ts.
    const inGeneration = `g${generation} ${event.eventId}`;
    const previous = seen.get(inGeneration);
    if (previous) {
      duplicates++;
      expect({ eventId: event.eventId, op: event.op, doc: docText }).toEqual({
        eventId: event.eventId,
        op: previous.op,
        doc: previous.doc,
      });
      continue;
    }
    seen.set(inGeneration, { generation, op: event.op, doc: docText });
    landed.add(event.eventId);
    const key = `g${generation} ${record.partitionKey}`;
    const newest = newestPerKey.get(key);
    if (newest !== undefined && ts <= newest) {
      throw new Error(
        `order broken for ${event.id} in generation ${generation}: ${event.ts} first appeared after ${newest}`,
      );
    }
    newestPerKey.set(key, ts);
  }
  expect({ invented: invented.slice(0, 5), inventedCount: invented.length }).toEqual({
    invented: [],
    inventedCount: 0,
  });

  const missing: string[] = [];
  const now = deployment.readTs();
  for (const record of history.values()) {
    const { tablet, revisions } = record;
    if (options.copiesCurrentTables && tablet.droppedTs !== undefined) continue;
    const atBase =
      tablet.createdTs <= baseSnapshotTs &&
      (tablet.droppedTs === undefined || tablet.droppedTs > baseSnapshotTs);
    const liveNow = tablet.droppedTs === undefined || tablet.droppedTs > now;
    let asOfBase: (typeof revisions)[number] | undefined;
    for (const rev of revisions) {
      if (rev.ts <= baseSnapshotTs) asOfBase = rev;
      else if (tablet.createdTs <= baseSnapshotTs && !landed.has(`${record.id}@${rev.ts}`))
        missing.push(`${record.id}@${rev.ts} (after the copy)`);
    }
    if (atBase && asOfBase?.value && !landed.has(`${record.id}@${asOfBase.ts}`))
      missing.push(
        `${record.id}@${asOfBase.ts} (as the copy at ${baseSnapshotTs} found it: ${tablet.name} from ${tablet.createdTs} to ${tablet.droppedTs ?? 'now'})`,
      );
    const last = revisions.at(-1);
    if (liveNow && last?.value && !landed.has(`${record.id}@${last.ts}`))
      missing.push(`${record.id}@${last.ts} (live now)`);
  }
  const unique = [...new Set(missing)];
  expect({ missing: unique.slice(0, 5), missingCount: unique.length }).toEqual({
    missing: [],
    missingCount: 0,
  });
  return { unique: landed.size, duplicates, controls, controlTsVariants: tsVariants };
}

/** A control event's copy where it landed, with the keys it speaks for there. */
interface LandedCopy {
  readonly index: number;
  readonly shard: string;
  readonly range: KeyRange;
  readonly event: ParsedEvent;
}

export interface ControlReport {
  /** Per control eventId: its op, its table if any, and how many copies landed. */
  readonly events: Map<string, { op: string; table?: string; copies: number }>;
  /** Copies beyond the first of one eventId on one shard (a recovery that wrote one again). */
  readonly duplicateCopies: number;
  /** Document records checked against the control events before and after them. */
  readonly documentsChecked: number;
  /**
   * Control events left short of these shards and allowed to be: of a superseded generation
   * (`supersededBelow`), or a truncate replaced by a complete one (`replacedTruncates`).
   */
  readonly abandoned: readonly { readonly eventId: string; readonly shards: readonly string[] }[];
}

/**
 * The broadcast contract (docs/events.md), checked on the whole stream read in lineage order
 * (`parsed` from `readWholeStream`, `shards` every shard listed, closed ones too):
 * - every control event reaches every open shard: copies on it or its ancestors speak for its
 *   whole range;
 * - a truncate of a recorded clear (cause `clear-tables`, at ts T) stands between the table's
 *   events on every shard: the ones after T follow a copy that speaks for their key, none at or
 *   before T (of its generation) follows one;
 * - with `sourceTruncates` (Data Sync: a table entering the sync is truncated first), every
 *   document event follows a copy of a truncate of its table of its generation;
 * - every document event of generation N > 1 follows a copy of `resync-start` for N;
 * - with `schemas`, every document event follows a copy of a `schema` event of its table.
 */
export function verifyControls(
  parsed: Parsed,
  shards: readonly ShardInfo[],
  options: {
    sourceTruncates: boolean;
    schemas: boolean;
    /**
     * Control events of generations below this one may be left short of some shards when a
     * resync abandoned their generation mid-broadcast; they are reported, not failed (the
     * new generation's sweep supersedes whatever they were about). Default: none may.
     */
    supersededBelow?: number;
    /**
     * Data Sync: a source truncate left short of some shards is reported, not failed, when
     * another truncate of the same table and generation reached every shard. A replay after a
     * crash is not a copy there: its pages, and so the request cursors that name truncates, may
     * differ, and the crashed run's truncate is then never completed under its own eventId.
     */
    replacedTruncates?: boolean;
  },
): ControlReport {
  const byId = new Map(shards.map((s) => [s.id, s]));
  const ancestors = new Map<string, Set<string>>();
  const lineage = (id: string): Set<string> => {
    const known = ancestors.get(id);
    if (known) return known;
    const out = new Set<string>();
    const stack = [...(byId.get(id)?.parents ?? [])];
    while (stack.length > 0) {
      const next = stack.pop() as string;
      if (out.has(next)) continue;
      out.add(next);
      stack.push(...(byId.get(next)?.parents ?? []));
    }
    ancestors.set(id, out);
    return out;
  };
  const copies = new Map<string, LandedCopy[]>();
  const perShard = new Map<string, number>();
  parsed.forEach(({ record, event }, index) => {
    if (!isControlEvent(event)) return;
    const range = effectiveRange(
      { shard: record.shardId, range: event.hashKeyRange as HashKeyRange },
      byId,
    );
    expect({
      eventId: event.eventId,
      shard: record.shardId,
      speaksFor: range !== undefined,
    }).toEqual({ eventId: event.eventId, shard: record.shardId, speaksFor: true });
    const list = copies.get(event.eventId) ?? [];
    list.push({ index, shard: record.shardId, range: range as KeyRange, event });
    copies.set(event.eventId, list);
    const key = `${event.eventId} ${record.shardId}`;
    perShard.set(key, (perShard.get(key) ?? 0) + 1);
  });

  const incomplete = [...copies]
    .map(([eventId, list]) => ({
      eventId,
      generation: Number((list[0] as LandedCopy).event.generation ?? 1),
      shards: uncoveredShards(
        shards,
        list.map((c) => ({ shard: c.shard, range: toHashKeyRange(c.range) })),
      ).map((s) => s.id),
    }))
    .filter((u) => u.shards.length > 0);
  const superseded = (u: (typeof incomplete)[number]) =>
    options.supersededBelow !== undefined && u.generation < options.supersededBelow;
  const short = new Set(incomplete.map((u) => u.eventId));
  const about = (e: ParsedEvent) =>
    `${e.op} ${e.component}/${e.table} g${Number(e.generation ?? 1)}`;
  const complete = new Set(
    [...copies]
      .filter(([id]) => !short.has(id))
      .map(([, list]) => about((list[0] as LandedCopy).event)),
  );
  const replaced = (u: (typeof incomplete)[number]) => {
    const e = ((copies.get(u.eventId) ?? [])[0] as LandedCopy).event;
    return (
      options.replacedTruncates === true &&
      e.op === 'truncate' &&
      (e as { cause?: string }).cause === 'source' &&
      complete.has(about(e))
    );
  };
  const abandoned = incomplete
    .filter((u) => superseded(u) || replaced(u))
    .map(({ eventId, shards }) => ({ eventId, shards }));
  const uncovered = incomplete.filter((u) => !superseded(u) && !replaced(u));
  const where = (eventId: string) =>
    (copies.get(eventId) ?? []).map(
      (c) =>
        `${c.shard}#${c.index} aimed ${c.event.hashKeyRange?.start}-${c.event.hashKeyRange?.end}`,
    );
  expect(
    { uncovered: uncovered.slice(0, 3), count: uncovered.length },
    `copies: ${uncovered
      .slice(0, 3)
      .map((u) => `${u.eventId} on [${where(u.eventId).join(', ')}]`)
      .join('; ')}; shards ${JSON.stringify(
      shards.map((s) => ({ ...s, range: toHashKeyRange(s.range) })),
    )}`,
  ).toEqual({ uncovered: [], count: 0 });

  // A copy comes before a record for a consumer when it is on an ancestor of the record's shard
  // (read to its end first) or earlier on the same shard.
  const before = (copy: LandedCopy, shard: string, index: number, key: bigint) =>
    key >= copy.range.start &&
    key <= copy.range.end &&
    (lineage(shard).has(copy.shard) || (copy.shard === shard && copy.index < index));
  const all = [...copies.values()];
  const ofKind = (op: string) => all.filter((list) => list[0]?.event.op === op);
  const cause = (list: LandedCopy[]) => (list[0]?.event as { cause?: string } | undefined)?.cause;
  const clears = ofKind('truncate').filter((list) => cause(list) === 'clear-tables');
  const sourceTruncates = ofKind('truncate').filter((list) => cause(list) === 'source');
  const schemas = ofKind('schema');
  const problems: string[] = [];
  let documentsChecked = 0;
  parsed.forEach(({ record, event }, index) => {
    if (isControlEvent(event)) return;
    documentsChecked++;
    const key = partitionKeyHash(record.partitionKey);
    const generation = Number(event.generation ?? 1);
    const table = (c: LandedCopy) =>
      c.event.component === event.component && c.event.table === event.table;
    const follows = (lists: LandedCopy[][], also: (c: LandedCopy) => boolean = () => true) =>
      lists.some((list) => list.some((c) => also(c) && before(c, record.shardId, index, key)));
    for (const list of clears) {
      const first = list[0] as LandedCopy;
      if (!table(first) || Number(first.event.generation) !== generation) continue;
      const after = BigInt(event.ts) > BigInt(first.event.ts);
      if (follows([list]) !== after)
        problems.push(
          `${event.eventId} on ${record.shardId} ${after ? 'before' : 'after'} ${first.event.eventId}`,
        );
    }
    if (
      options.sourceTruncates &&
      !follows(sourceTruncates, (c) => table(c) && Number(c.event.generation) === generation)
    )
      problems.push(`${event.eventId} on ${record.shardId} before any truncate of its table`);
    if (generation > 1 && !follows([copies.get(`resync-start/g${generation}`) ?? []]))
      problems.push(`${event.eventId} on ${record.shardId} before resync-start/g${generation}`);
    if (options.schemas && !follows(schemas, table))
      problems.push(`${event.eventId} on ${record.shardId} before any schema of its table`);
  });
  expect({ outOfOrder: problems.slice(0, 5), count: problems.length }).toEqual({
    outOfOrder: [],
    count: 0,
  });

  const events = new Map<string, { op: string; table?: string; copies: number }>();
  for (const [eventId, list] of copies) {
    const e = (list[0] as LandedCopy).event;
    events.set(eventId, {
      op: e.op,
      ...(e.table !== undefined ? { table: e.table } : {}),
      copies: list.length,
    });
  }
  const duplicateCopies = [...perShard.values()].reduce((sum, n) => sum + n - 1, 0);
  return { events, duplicateCopies, documentsChecked, abandoned };
}

/**
 * When the newest generation's copy completed, as its `snapshot-complete` says (the latest one:
 * on Data Sync a table entering the sync later is copied again). The stream is the authority
 * here: the export state's `baseSnapshotTs` is only what the last checkpoint remembered.
 */
export function copiedAt(parsed: Parsed): bigint {
  let newest: { generation: number; ts: bigint } | undefined;
  for (const { event } of parsed) {
    if (event.op !== 'snapshot-complete' || event.ts === undefined) continue;
    const candidate = { generation: Number(event.generation ?? 1), ts: BigInt(event.ts) };
    if (
      newest === undefined ||
      candidate.generation > newest.generation ||
      (candidate.generation === newest.generation && candidate.ts > newest.ts)
    )
      newest = candidate;
  }
  if (newest === undefined)
    throw new Error('the stream holds no snapshot-complete: no copy completed');
  return newest.ts;
}

/** The two Convex sources an export reads (BRIDGE_SOURCE, the rig's `api`). */
export type Source = 'legacy' | 'data-sync';

/** Both sources, for tests that run on each (`describe.each(SOURCES)`). */
export const SOURCES: readonly Source[] = ['legacy', 'data-sync'];

/**
 * The reference consumer (shared/consumer) after reading the whole stream holds exactly
 * Convex's live documents; a difference is reported by key, a few at a time.
 */
export async function expectConsumerEqualsConvex(
  rig: Pick<ExportRig, 'kinesis' | 's3' | 'f'>,
  stream: string,
  include: Include,
): Promise<number> {
  const { state } = await consumeWholeStream(rig.kinesis(), rig.s3, stream);
  const want = convexState(rig.f.sim.deployment, include);
  const missing = [...want.keys()].filter((k) => !state.has(k));
  const extra = [...state.keys()].filter((k) => !want.has(k));
  const different = [...want.keys()].filter((k) => state.has(k) && state.get(k) !== want.get(k));
  expect({
    missing: missing.slice(0, 3),
    extra: extra.slice(0, 3),
    different: different.slice(0, 3),
    counts: [missing.length, extra.length, different.length],
  }).toEqual({ missing: [], extra: [], different: [], counts: [0, 0, 0] });
  return want.size;
}

/**
 * Reads an export's stream and checks it with what is true of its source: on the legacy source
 * the exact history model (`rig.verify`: the pinned snapshot, then every revision); on Data Sync
 * `verifyAgainstLog`. On both, the reference consumer ends equal to Convex.
 */
export async function verifyExport(
  rig: ExportRig,
  api: Source,
  options: { exportId: string; stream: string; filter?: TableFilter },
) {
  const include = tablePredicate(options.filter ?? {});
  let result: Awaited<ReturnType<ExportRig['verify']>>;
  if (api === 'legacy') result = await rig.verify(options);
  else {
    const store = new DynamoDbExportStore(
      createDynamoDbClient(),
      rig.names.table,
      options.exportId,
    );
    const { state } = await store.read();
    if (!state) throw new Error(`export ${options.exportId} has no state`);
    const records = await parseRecords(
      await readWholeStream(rig.kinesis(), options.stream),
      rig.s3,
    );
    const checked = verifyAgainstLog(records, rig.f.sim.deployment, copiedAt(records), include, {
      controlTsMayVary: true,
      copiesCurrentTables: true,
    });
    result = { ...checked, records, state };
  }
  const live = await expectConsumerEqualsConvex(rig, options.stream, include);
  return { ...result, live };
}
