import { createHash, randomUUID } from 'node:crypto';
import type { KinesisClient, PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { KinesisEventPublisher } from '../../shared/adapters/kinesis-publisher.js';
import {
  inLineageOrder,
  intersect,
  listShards,
  type ShardInfo,
  shardInfo,
  toHashKeyRange,
  toKeyRange,
  uncoveredShards,
} from '../../shared/adapters/kinesis-shards.js';
import {
  KinesisStreamTail,
  readWholeStream,
  type StreamRecord,
} from '../../shared/adapters/kinesis-stream-reader.js';
import { createKinesisClient } from '../../shared/aws/clients.js';
import type {
  ChangeEvent,
  HashKeyRange,
  StreamEvent,
  TruncateEvent,
} from '../../shared/events/change-event.js';
import { unlanded } from '../../shared/export/skip-landed.js';
import {
  type ControlCopy,
  isLandedControl,
  PublishError,
  type ShardPosition,
  type StreamMark,
} from '../../shared/ports/event-publisher.js';
import { ensureStream } from '../../shared/setup/ensure-resources.js';
import { injectPutRecordsFaults } from '../helpers/kinesis-faults.js';
import { mergeFirstTwo, splitShard } from '../helpers/kinesis-reshard.js';

/**
 * Control events against kinesalite (docs/events.md, design "Recovery with broadcast copies"):
 * one copy per open shard, in order on each shard relative to the events around it, through
 * splits and merges between listing and writing, and after a crash at any point of the
 * broadcast, with only the missing copies written by the recovering publisher.
 */

const suffix = randomUUID().slice(0, 8);
let streams = 0;

async function newStream(shards: number): Promise<string> {
  const name = `control-${suffix}-${streams++}`;
  await ensureStream(createKinesisClient(), name, shards);
  return name;
}

/** Counts the Kinesis calls a client makes, by command. */
function countCalls(kinesis: KinesisClient): Map<string, number> {
  const calls = new Map<string, number>();
  kinesis.middlewareStack.add(
    (next, context) => async (args) => {
      const name = (context.commandName ?? '').replace(/Command$/, '');
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  return calls;
}

const publisherOn = (kinesis: KinesisClient, stream: string, maxAttempts = 6) =>
  new KinesisEventPublisher(kinesis, {
    streamName: stream,
    retry: { maxAttempts, baseDelayMs: 5, maxDelayMs: 50 },
  });

const docs = (prefix: string, n: number, ts = 1_700_000_000_000_000_000n): ChangeEvent[] =>
  Array.from({ length: n }, (_, i) => {
    const id = `${prefix}${i}`;
    const at = (ts + BigInt(i)).toString();
    return {
      v: 1,
      op: 'upsert',
      generation: 1,
      component: '',
      table: 'items',
      id,
      ts: at,
      eventId: `${id}@${at}`,
      doc: { i },
    } satisfies ChangeEvent;
  });

const truncate = (name: string): TruncateEvent => ({
  v: 1,
  op: 'truncate',
  generation: 1,
  component: '',
  table: 'items',
  cause: 'clear-tables',
  ts: '1700000000000000500',
  eventId: `truncate:/items@${name}/g1`,
});

/** Kinesis' hash key of a partition key: MD5 as a 128-bit big-endian unsigned integer. */
const hashKey = (partitionKey: string) =>
  BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);

const within = (key: bigint, r: HashKeyRange) => BigInt(r.start) <= key && key <= BigInt(r.end);

interface Parsed {
  readonly record: StreamRecord;
  readonly event: StreamEvent;
}

async function streamState(kinesis: KinesisClient, stream: string) {
  const shards = inLineageOrder(await listShards(kinesis, stream)).map(shardInfo);
  const records: Parsed[] = (await readWholeStream(kinesis, stream)).map((record) => ({
    record,
    event: JSON.parse(Buffer.from(record.data).toString('utf8')) as StreamEvent,
  }));
  return { shards, records };
}

/** Copies of one control event in the stream, with their effective ranges (as the tail sees them). */
function copiesOf(
  state: Awaited<ReturnType<typeof streamState>>,
  eventId: string,
): (ControlCopy & { aimed: HashKeyRange })[] {
  const byId = new Map(state.shards.map((s) => [s.id, s]));
  return state.records
    .filter((p) => p.event.eventId === eventId)
    .map(({ record, event }) => {
      const aimed = (event as TruncateEvent).hashKeyRange as HashKeyRange;
      const shard = byId.get(record.shardId) as ShardInfo;
      const range = intersect(toKeyRange(aimed), shard.range);
      if (range === undefined) throw new Error(`a copy on ${shard.id} aimed outside it`);
      return {
        shard: record.shardId,
        seq: record.sequenceNumber,
        range: toHashKeyRange(range),
        aimed,
      };
    });
}

const countByShard = (copies: readonly ShardPosition[]) => {
  const out: Record<string, number> = {};
  for (const c of copies) out[c.shard] = (out[c.shard] ?? 0) + 1;
  return out;
};

function ancestorsOf(id: string, shards: readonly ShardInfo[]): Set<string> {
  const byId = new Map(shards.map((s) => [s.id, s]));
  const out = new Set<string>();
  const stack = [...(byId.get(id)?.parents ?? [])];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    if (out.has(next)) continue;
    out.add(next);
    stack.push(...(byId.get(next)?.parents ?? []));
  }
  return out;
}

/**
 * What a consumer of any one shard sees: every document event of `before` reaches it before a
 * copy of the control event that speaks for its key (on its shard or an ancestor), and every
 * one of `after` after such a copy. Returns how many document records were checked.
 */
function expectInOrder(
  state: Awaited<ReturnType<typeof streamState>>,
  eventId: string,
  before: readonly ChangeEvent[],
  after: readonly ChangeEvent[],
): number {
  const copies = copiesOf(state, eventId);
  const position = new Map(state.records.map((p, i) => [p.record, i]));
  const beforeIds = new Set(before.map((e) => e.eventId));
  const afterIds = new Set(after.map((e) => e.eventId));
  let checked = 0;
  for (const { record, event } of state.records) {
    const isBefore = beforeIds.has(event.eventId);
    if (!isBefore && !afterIds.has(event.eventId)) continue;
    const key = hashKey(record.partitionKey);
    const ancestors = ancestorsOf(record.shardId, state.shards);
    const at = position.get(record) as number;
    const seenBy = copies.filter((c) => {
      if (!within(key, c.range)) return false;
      if (ancestors.has(c.shard)) return true;
      if (c.shard !== record.shardId) return false;
      const copyAt = state.records.findIndex(
        (p) => p.record.shardId === c.shard && p.record.sequenceNumber === c.seq,
      );
      return copyAt < at;
    });
    if (isBefore)
      expect({ event: event.eventId, copiesBefore: seenBy.length }).toEqual({
        event: event.eventId,
        copiesBefore: 0,
      });
    else
      expect({ event: event.eventId, covered: seenBy.length > 0 }).toEqual({
        event: event.eventId,
        covered: true,
      });
    checked++;
  }
  return checked;
}

/** Every open shard is covered by copies on it or its ancestors. */
function expectCovered(state: Awaited<ReturnType<typeof streamState>>, eventId: string): void {
  expect(uncoveredShards(state.shards, copiesOf(state, eventId)).map((s) => s.id)).toEqual([]);
}

/** Runs `action` once, right after the client's first ListShards answer (before it is used). */
function afterFirstListing(kinesis: KinesisClient, action: () => Promise<void>): void {
  let done = false;
  kinesis.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (context.commandName === 'ListShardsCommand' && !done) {
        done = true;
        await action();
      }
      return out;
    },
    { step: 'initialize', name: 'reshardAfterListing' },
  );
}

/** A publisher that dies mid-broadcast: the copies aimed at shards `refuse` picks never land. */
function crashingPublisher(stream: string, refuse: (hashKey: bigint) => boolean) {
  const kinesis = createKinesisClient();
  let sent: PutRecordsCommandInput['Records'] = [];
  kinesis.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutRecordsCommand')
        sent = (args.input as PutRecordsCommandInput).Records ?? [];
      return next(args);
    },
    { step: 'initialize', name: 'seeEntries', priority: 'high' },
  );
  injectPutRecordsFaults(kinesis, {
    entry: (_call, index) => {
      const explicit = sent?.[index]?.ExplicitHashKey;
      return explicit !== undefined && refuse(BigInt(explicit)) ? 'InternalFailure' : undefined;
    },
  });
  return publisherOn(kinesis, stream, 1);
}

/** The mark a run saved before publishing: nothing of ours on any shard after now. */
const markNow = (): StreamMark => ({ shards: {}, at: new Date().toISOString() });

/** A recovering run: scans after the mark, then publishes the batch again, as exportChanges does. */
async function recover(stream: string, mark: StreamMark, batch: readonly StreamEvent[]) {
  const kinesis = createKinesisClient();
  const calls = countCalls(kinesis);
  const scan = await new KinesisStreamTail(kinesis, stream).landedSince(mark, {
    limitPerShard: 5_000,
  });
  const landed = new Map(scan.found);
  const skipped: ShardPosition[] = [];
  const landedCopies = new Map<string, readonly ControlCopy[]>();
  const fresh = unlanded(batch, landed, skipped, landedCopies);
  calls.clear();
  const result = await publisherOn(kinesis, stream).publish(fresh, undefined, { landedCopies });
  return { scan, fresh, result, calls };
}

describe('control events broadcast to every open shard (kinesalite)', () => {
  it('lands once per shard, aimed by ExplicitHashKey, in order between the events around it (4 shards)', async () => {
    const stream = await newStream(4);
    const kinesis = createKinesisClient();
    const calls = countCalls(kinesis);
    const before = docs('before-', 60);
    const after = docs('after-', 60, 1_700_000_000_000_001_000n);
    const control = truncate('a');
    const result = await publisherOn(kinesis, stream).publish([...before, control, ...after]);
    expect(result.controls).toEqual({ truncate: 1 });
    expect(result.records).toBe(124);
    expect(result.byOp.upsert).toBe(120);
    expect(calls.get('ListShards')).toBe(1);

    const state = await streamState(createKinesisClient(), stream);
    const copies = copiesOf(state, control.eventId);
    expect(state.shards).toHaveLength(4);
    expect(countByShard(copies)).toEqual(Object.fromEntries(state.shards.map((s) => [s.id, 1])));
    // ExplicitHashKey works on kinesalite: each copy is on the shard whose range it carries.
    for (const c of copies) expect(c.aimed).toEqual(c.range);
    for (const c of copies) expect(result.mark?.shards[c.shard]).toBeDefined();
    expect(expectInOrder(state, control.eventId, before, after)).toBe(120);
    // Every shard got document events on both sides of its copy.
    for (const s of state.shards) {
      const ops = state.records.filter((p) => p.record.shardId === s.id).map((p) => p.event.op);
      expect(ops.indexOf('truncate')).toBeGreaterThan(0);
      expect(ops.indexOf('truncate')).toBeLessThan(ops.length - 1);
    }

    // Cost of one broadcast alone on 4 shards, averaged.
    const runs = 10;
    calls.clear();
    const started = performance.now();
    for (let i = 0; i < runs; i++) await publisherOn(kinesis, stream).publish([truncate(`m${i}`)]);
    const ms = (performance.now() - started) / runs;
    process.stdout.write(
      `BROADCAST 4 shards: ${(calls.get('ListShards') ?? 0) / runs} ListShards + ${(calls.get('PutRecords') ?? 0) / runs} PutRecords per control event, ${ms.toFixed(1)} ms each\n`,
    );
    expect(calls.get('PutRecords')).toBe(runs);
  });

  it('a split between listing and writing: the copy lands on a child, the other child gets one too', async () => {
    const stream = await newStream(2);
    const kinesis = createKinesisClient();
    const calls = countCalls(kinesis);
    let resharded: { parent: string; children: string[] } | undefined;
    afterFirstListing(kinesis, async () => {
      resharded = await splitShard(createKinesisClient(), stream);
    });
    const before = docs('sb-', 40);
    const after = docs('sa-', 40, 1_700_000_000_000_001_000n);
    const control = truncate('split');
    const result = await publisherOn(kinesis, stream).publish([...before, control, ...after]);
    expect(resharded?.children).toHaveLength(2);

    const state = await streamState(createKinesisClient(), stream);
    const copies = copiesOf(state, control.eventId);
    expectCovered(state, control.eventId);
    // None on the closed parent, one on each child and on the untouched shard: none twice.
    const open = state.shards.filter((s) => s.open).map((s) => s.id);
    expect(open).toHaveLength(3);
    expect(countByShard(copies)).toEqual(Object.fromEntries(open.map((id) => [id, 1])));
    expect(copies.some((c) => c.shard === resharded?.parent)).toBe(false);
    expect(result.records).toBe(80 + 3);
    // Listed, wrote 2 (one landed on a child), listed again, wrote the other child's.
    expect(calls.get('ListShards')).toBe(2);
    expect(expectInOrder(state, control.eventId, before, after)).toBe(80);
  });

  it('a merge between listing and writing: both copies land on the merged shard, nothing more', async () => {
    const stream = await newStream(3);
    const kinesis = createKinesisClient();
    const calls = countCalls(kinesis);
    let merged: { parents: string[]; child: string } | undefined;
    afterFirstListing(kinesis, async () => {
      merged = await mergeFirstTwo(createKinesisClient(), stream);
    });
    const before = docs('mb-', 40);
    const after = docs('ma-', 40, 1_700_000_000_000_001_000n);
    const control = truncate('merge');
    await publisherOn(kinesis, stream).publish([...before, control, ...after]);

    const state = await streamState(createKinesisClient(), stream);
    const copies = copiesOf(state, control.eventId);
    expectCovered(state, control.eventId);
    const child = merged?.child as string;
    const other = state.shards.find((s) => s.open && s.id !== child)?.id as string;
    // Aimed at the two parents, both landed on their merge (unavoidable), each speaking for its half.
    expect(countByShard(copies)).toEqual({ [child]: 2, [other]: 1 });
    expect(calls.get('ListShards')).toBe(2);
    expect(expectInOrder(state, control.eventId, before, after)).toBe(80);
  });

  it('recovery after a crash with 2 of 4 copies landed writes only the 2 missing', async () => {
    const stream = await newStream(4);
    const shards = (await listShards(createKinesisClient(), stream)).map(shardInfo);
    const refused = new Set(shards.slice(2).map((s) => s.range.start));
    const before = docs('kb-', 40);
    const after = docs('ka-', 40, 1_700_000_000_000_001_000n);
    const control = truncate('k-of-n');
    const batch = [...before, control, ...after];
    const mark = markNow();
    const crashed = crashingPublisher(stream, (key) => refused.has(key));
    await expect(crashed.publish(batch)).rejects.toBeInstanceOf(PublishError);
    const landedBefore = copiesOf(
      await streamState(createKinesisClient(), stream),
      control.eventId,
    );
    expect(landedBefore).toHaveLength(2);

    const { scan, fresh, result, calls } = await recover(stream, mark, batch);
    const found = scan.found.get(control.eventId);
    expect(found && isLandedControl(found) ? found.copies.length : 0).toBe(2);
    expect(scan.copies.get(control.eventId)).toHaveLength(2);
    // The documents before it were found and skipped; the control event was kept, with its copies.
    expect(fresh).toEqual([control, ...after]);
    expect(result.records).toBe(2 + 40);
    expect(calls.get('PutRecords')).toBeGreaterThanOrEqual(2);

    const state = await streamState(createKinesisClient(), stream);
    const copies = copiesOf(state, control.eventId);
    expect(countByShard(copies)).toEqual(Object.fromEntries(shards.map((s) => [s.id, 1])));
    expect(expectInOrder(state, control.eventId, before, after)).toBe(80);
    expect(state.records.filter((p) => p.event.op === 'upsert')).toHaveLength(80);
  });

  it('recovery after a crash before any copy landed writes all of them', async () => {
    const stream = await newStream(4);
    const before = docs('nb-', 20);
    const control = truncate('none');
    const batch = [...before, control];
    const mark = markNow();
    await expect(crashingPublisher(stream, () => true).publish(batch)).rejects.toBeInstanceOf(
      PublishError,
    );
    const { scan, fresh, result } = await recover(stream, mark, batch);
    expect(scan.copies.size).toBe(0);
    expect(fresh).toEqual([control]);
    expect(result.records).toBe(4);
    const state = await streamState(createKinesisClient(), stream);
    expect(Object.values(countByShard(copiesOf(state, control.eventId)))).toEqual([1, 1, 1, 1]);
    expect(expectInOrder(state, control.eventId, before, [])).toBe(20);
  });

  it('recovery after every copy landed writes nothing for it (one ListShards)', async () => {
    const stream = await newStream(4);
    const control = truncate('all');
    const after = docs('xa-', 20);
    const mark = markNow();
    await publisherOn(createKinesisClient(), stream).publish([control]);
    const { fresh, result, calls } = await recover(stream, mark, [control, ...after]);
    expect(fresh).toEqual([control, ...after]);
    expect(result.records).toBe(20);
    expect(result.controls).toEqual({ truncate: 1 });
    expect(calls.get('ListShards')).toBe(1);
    const state = await streamState(createKinesisClient(), stream);
    expect(copiesOf(state, control.eventId)).toHaveLength(4);
    expect(expectInOrder(state, control.eventId, [], after)).toBe(20);
  });

  it('a split between the crash and recovery: the parent’s copy covers both children', async () => {
    const stream = await newStream(2);
    const [first, second] = (await listShards(createKinesisClient(), stream))
      .map(shardInfo)
      .sort((a, b) => (a.range.start < b.range.start ? -1 : 1));
    const control = truncate('split-covered');
    const after = docs('fa-', 40);
    const mark = markNow();
    // Landed on the first shard only; then the first shard is split.
    const crashed = crashingPublisher(stream, (key) => key === second?.range.start);
    await expect(crashed.publish([control, ...after])).rejects.toBeInstanceOf(PublishError);
    const { parent, children } = await splitShard(createKinesisClient(), stream, 0);
    expect(parent).toBe(first?.id);

    const { result } = await recover(stream, mark, [control, ...after]);
    expect(result.records).toBe(1 + 40); // only the second shard's copy
    const state = await streamState(createKinesisClient(), stream);
    const copies = copiesOf(state, control.eventId);
    expectCovered(state, control.eventId);
    expect(countByShard(copies)).toEqual({ [parent]: 1, [second?.id as string]: 1 });
    for (const child of children) expect(copies.some((c) => c.shard === child)).toBe(false);
    expect(expectInOrder(state, control.eventId, [], after)).toBe(40);
  });

  it('a split between the crash and recovery of a shard without a copy: each child gets one', async () => {
    const stream = await newStream(2);
    const [first, second] = (await listShards(createKinesisClient(), stream))
      .map(shardInfo)
      .sort((a, b) => (a.range.start < b.range.start ? -1 : 1));
    const control = truncate('split-uncovered');
    const mark = markNow();
    const crashed = crashingPublisher(stream, (key) => key === first?.range.start);
    await expect(crashed.publish([control])).rejects.toBeInstanceOf(PublishError);
    const { children } = await splitShard(createKinesisClient(), stream, 0);

    const { result } = await recover(stream, mark, [control]);
    expect(result.records).toBe(2);
    const state = await streamState(createKinesisClient(), stream);
    expectCovered(state, control.eventId);
    expect(countByShard(copiesOf(state, control.eventId))).toEqual({
      [second?.id as string]: 1,
      ...Object.fromEntries(children.map((c) => [c, 1])),
    });
  });

  it('a PutRecords of copies whose outcome is unknown is read back, not resent blindly', async () => {
    const stream = await newStream(4);
    const kinesis = createKinesisClient();
    let dropped = 0;
    kinesis.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        const input = args.input as PutRecordsCommandInput;
        if (context.commandName === 'PutRecordsCommand' && dropped === 0) {
          if (input.Records?.[0]?.PartitionKey === '_control') {
            dropped++;
            // Written, then the connection died: no HTTP answer reached the client.
            throw Object.assign(new Error('socket hang up (injected)'), { code: 'ECONNRESET' });
          }
        }
        return out;
      },
      { step: 'initialize', name: 'resetAfterWrite' },
    );
    const control = truncate('unknown');
    const result = await publisherOn(kinesis, stream).publish([...docs('u-', 10), control]);
    expect(dropped).toBe(1);
    expect(result.alreadyLanded).toBe(4);
    const state = await streamState(createKinesisClient(), stream);
    expect(Object.values(countByShard(copiesOf(state, control.eventId)))).toEqual([1, 1, 1, 1]);
    expect(result.mark && Object.keys(result.mark.shards)).toHaveLength(4);
  });

  it('gives up with a PublishError when the copies keep being refused', async () => {
    const stream = await newStream(2);
    const error = await crashingPublisher(stream, () => true)
      .publish([truncate('refused')])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishError);
    expect((error as Error).message).toMatch(/still missing on 2 shard\(s\) after 1 PutRecords/);
  });
});
