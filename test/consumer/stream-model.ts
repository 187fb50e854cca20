import { MAX_HASH_KEY, partitionKeyHash } from '../../shared/consumer/hash-key.js';
import type { ShardInfo } from '../../shared/consumer/shard-order.js';
import {
  type ChangeEvent,
  type ChangeOp,
  type ControlEvent,
  controlEventId,
  isControlEvent,
  type StreamEvent,
} from '../../shared/events/change-event.js';
import type { Rng } from '../fakes/prng.js';

/**
 * A Kinesis stream in memory that follows the broadcast rules of docs/events.md: a document
 * event goes to the open shard whose range holds the MD5 hash of its id; a control event gets one
 * copy per open shard carrying that shard's range. Shards split and merge like Kinesis'.
 */
export class ModelStream {
  private readonly shards: { info: ShardInfo; open: boolean; records: string[] }[] = [];
  private counter = 0;

  constructor(
    count: number,
    private readonly rng: Rng,
  ) {
    const width = (MAX_HASH_KEY + 1n) / BigInt(count);
    for (let i = 0; i < count; i++) {
      const start = width * BigInt(i);
      const end = i === count - 1 ? MAX_HASH_KEY : start + width - 1n;
      this.add({ start, end });
    }
  }

  /** What ListShards would say, closed shards included. */
  infos(): ShardInfo[] {
    return this.shards.map((s) => s.info);
  }

  records(): Map<string, string[]> {
    return new Map(this.shards.map((s) => [s.info.shardId, s.records]));
  }

  openCount(): number {
    return this.open().length;
  }

  putDocument(event: ChangeEvent | Omit<ChangeEvent, 'generation'>): void {
    this.route(partitionKeyHash(event.id)).records.push(JSON.stringify(event));
  }

  /**
   * The publisher's broadcast: a copy aimed at every open shard (ExplicitHashKey = its start);
   * then, as the design's recovery does, copies for open shards the landed copies do not cover,
   * until every open shard is. `reshardAfter` reshards after that many copies were sent (the race
   * the consumer's range intersection exists for: a copy aimed at a shard that just closed lands
   * on a child, with the parent's range).
   */
  broadcast(event: ControlEvent, reshardAfter?: { copies: number; reshard: () => void }): void {
    const landed: { shardId: string; start: bigint; end: bigint }[] = [];
    let sent = 0;
    const send = (aimed: ShardInfo) => {
      if (sent++ === reshardAfter?.copies) reshardAfter.reshard();
      const start = BigInt(aimed.hashKeyRange.start);
      const end = BigInt(aimed.hashKeyRange.end);
      const target = this.route(start);
      target.records.push(JSON.stringify({ ...event, hashKeyRange: aimed.hashKeyRange }));
      const t = bounds(target.info);
      landed.push({
        shardId: target.info.shardId,
        start: max(start, t.start),
        end: min(end, t.end),
      });
    };
    for (const shard of this.open()) send(shard.info);
    for (let round = 0; round < 10; round++) {
      const uncovered = this.open().filter((s) => !this.covered(s.info, landed));
      if (uncovered.length === 0) return;
      for (const shard of uncovered) send(shard.info);
    }
    throw new Error(`broadcast of ${event.eventId} never covered every open shard`);
  }

  /** Splits a random open shard at a random hash key inside it. */
  split(): void {
    const shard = this.rng.pick(this.open().filter((s) => size(s.info) >= 2n));
    const { start, end } = bounds(shard.info);
    const at = start + 1n + ((end - start) * BigInt(this.rng.int(0, 1023))) / 1024n;
    shard.open = false;
    this.add({ start, end: at - 1n }, shard.info.shardId);
    this.add({ start: at, end }, shard.info.shardId);
  }

  /** Merges two adjacent open shards, when there are two. */
  merge(): void {
    const open = this.open().sort((a, b) => (bounds(a.info).start < bounds(b.info).start ? -1 : 1));
    if (open.length < 2) return;
    const i = this.rng.int(0, open.length - 2);
    const [a, b] = [open[i], open[i + 1]] as [(typeof open)[0], (typeof open)[0]];
    a.open = false;
    b.open = false;
    this.add(
      { start: bounds(a.info).start, end: bounds(b.info).end },
      a.info.shardId,
      b.info.shardId,
    );
  }

  private open() {
    return this.shards.filter((s) => s.open);
  }

  private route(hash: bigint) {
    const shard = this.open().find(
      (s) => hash >= bounds(s.info).start && hash <= bounds(s.info).end,
    );
    if (shard === undefined) throw new Error(`no open shard holds hash key ${hash}`);
    return shard;
  }

  private add(range: { start: bigint; end: bigint }, parent?: string, adjacent?: string): void {
    this.shards.push({
      info: {
        shardId: `shardId-${String(this.counter++).padStart(12, '0')}`,
        ...(parent ? { parentShardId: parent } : {}),
        ...(adjacent ? { adjacentParentShardId: adjacent } : {}),
        hashKeyRange: { start: range.start.toString(), end: range.end.toString() },
      },
      open: true,
      records: [],
    });
  }

  private ancestry(info: ShardInfo): Set<string> {
    const out = new Set<string>([info.shardId]);
    const byId = new Map(this.shards.map((s) => [s.info.shardId, s.info]));
    const visit = (id: string | undefined) => {
      const parent = id === undefined ? undefined : byId.get(id);
      if (parent === undefined || out.has(parent.shardId)) return;
      out.add(parent.shardId);
      visit(parent.parentShardId);
      visit(parent.adjacentParentShardId);
    };
    visit(info.parentShardId);
    visit(info.adjacentParentShardId);
    return out;
  }

  /** Whether copies landed on this shard or its ancestors speak for its whole range. */
  private covered(
    info: ShardInfo,
    landed: readonly { shardId: string; start: bigint; end: bigint }[],
  ) {
    const lineage = this.ancestry(info);
    const { start, end } = bounds(info);
    const parts = landed
      .filter((c) => lineage.has(c.shardId))
      .map((c) => ({ start: max(c.start, start), end: min(c.end, end) }))
      .filter((c) => c.start <= c.end)
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    let next = start;
    for (const part of parts) {
      if (part.start > next) return false;
      if (part.end >= next) next = part.end + 1n;
    }
    return next > end;
  }
}

const bounds = (info: ShardInfo) => ({
  start: BigInt(info.hashKeyRange.start),
  end: BigInt(info.hashKeyRange.end),
});
const size = (info: ShardInfo) => bounds(info).end - bounds(info).start + 1n;
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);

const TABLES = [
  { component: '', table: 'users' },
  { component: '', table: 'orders' },
  { component: 'shop', table: 'items' },
] as const;

type Table = (typeof TABLES)[number];

interface LiveDoc {
  readonly component: string;
  readonly table: string;
  readonly id: string;
  readonly ts: bigint;
  readonly doc: Record<string, unknown>;
}

/** What a consumer must end with: Convex's live documents and each table's last schema. */
export interface Truth {
  readonly docs: Map<string, Record<string, unknown>>;
  readonly schemas: Map<string, Record<string, unknown>>;
}

/** What a history did, so a test can say which paths a seed exercised. */
export interface HistoryStats {
  steps: Record<string, number>;
  records: number;
  shards: number;
}

/**
 * A random Convex history and the stream an exporter publishes for it (docs/events.md): a first
 * snapshot, then changes, clears (the bridge's clear-tables), Data Sync truncates followed by
 * the table's values (and their re-read after a crash, with writes in between), schema changes,
 * resyncs to a new generation (writes in the gap are never published; the new snapshot and the
 * sweep stand for them), exact replays of the last events after crashes, and shard splits and
 * merges, also in the middle of a control event's broadcast.
 */
export function generateHistory(
  rng: Rng,
  stream: ModelStream,
  steps: number,
): {
  truth: Truth;
  stats: HistoryStats;
} {
  const live = new Map<string, LiveDoc>();
  const schemas = new Map<string, Record<string, unknown>>();
  const stats: HistoryStats = { steps: {}, records: 0, shards: 0 };
  const count = (step: string) => {
    stats.steps[step] = (stats.steps[step] ?? 0) + 1;
  };
  let clock = 1_790_000_000_000_000_000n;
  let ids = 0;
  let version = 0;
  let cursors = 0;
  let generation = 1;
  // Records written by a version of the bridge before generations existed carry none.
  let legacyRecords = rng.chance(0.3);
  let logical: StreamEvent[] = [];

  const tick = () => {
    clock += BigInt(rng.int(1, 5_000));
    return clock;
  };
  const key = (d: { component: string; table: string; id: string }) =>
    `${d.component}/${d.table}/${d.id}`;
  const docsOf = (t: Table) =>
    [...live.values()].filter((d) => d.component === t.component && d.table === t.table);
  const shuffled = <T>(items: readonly T[]): T[] => {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  };

  const send = (event: StreamEvent) => {
    if (isControlEvent(event)) {
      const reshard = rng.chance(0.15) && stream.openCount() > 1;
      stream.broadcast(
        event,
        reshard
          ? {
              copies: rng.int(0, stream.openCount() - 1),
              reshard: () => (rng.chance(0.5) ? stream.split() : stream.merge()),
            }
          : undefined,
      );
    } else if (legacyRecords) {
      const { generation: _none, ...old } = event;
      stream.putDocument(old);
    } else stream.putDocument(event);
  };
  const publish = (event: StreamEvent) => {
    logical.push(event);
    send(event);
  };
  const documentEvent = (op: ChangeOp, d: LiveDoc, doc: Record<string, unknown> | null) =>
    publish({
      v: 1,
      op,
      generation,
      component: d.component,
      table: d.table,
      id: d.id,
      ts: d.ts.toString(),
      eventId: `${d.id}@${d.ts}`,
      doc,
    });

  /** One write in Convex at `ts`; returns what the change log reports for it. */
  const write = (
    ts: bigint,
    touched: Set<string>,
  ): { d: LiveDoc; deleted: boolean } | undefined => {
    const candidates = [...live.values()].filter((d) => !touched.has(key(d)));
    const roll = rng.float();
    if (candidates.length === 0 || roll < 0.45) {
      const t = rng.pick(TABLES);
      const id = `${t.table.slice(0, 2)}${(ids++).toString(36)}x${rng.int(0, 1e6).toString(36)}`;
      const d = {
        ...t,
        id,
        ts,
        doc: { _id: id, _creationTime: Number(ts / 1_000_000n) / 1000, v: ++version },
      };
      live.set(key(d), d);
      touched.add(key(d));
      return { d, deleted: false };
    }
    const old = rng.pick(candidates);
    touched.add(key(old));
    if (roll < 0.8) {
      const d = { ...old, ts, doc: { ...old.doc, v: ++version } };
      live.set(key(d), d);
      return { d, deleted: false };
    }
    live.delete(key(old));
    return { d: { ...old, ts }, deleted: true };
  };
  const transaction = (silent: boolean) => {
    const ts = tick();
    const touched = new Set<string>();
    for (let n = rng.int(1, 3); n > 0; n--) {
      const w = write(ts, touched);
      if (w === undefined || silent) continue;
      documentEvent(w.deleted ? 'delete' : 'upsert', w.d, w.deleted ? null : w.d.doc);
    }
  };
  const crash = () => {
    // A replay repeats what was sent since the last checkpoint, in order, within this generation.
    const k = rng.int(1, Math.min(15, Math.max(1, logical.length)));
    for (const event of logical.slice(-k)) send(event);
  };
  const snapshot = (op: ChangeOp) => {
    for (const d of shuffled([...live.values()])) {
      documentEvent(op, d, d.doc);
      if (rng.chance(0.03)) crash();
    }
  };
  const snapshotComplete = () =>
    publish({
      v: 1,
      op: 'snapshot-complete',
      generation,
      eventId: controlEventId.snapshotComplete(generation),
      ts: tick().toString(),
    });
  const dataSyncTruncate = (t: Table) => {
    // Data Sync's cursor names the page; the eventId derives from it (design: 'c' + digest).
    const at = `c${(cursors++).toString(16).padStart(16, '0')}`;
    const truncate: ControlEvent = {
      v: 1,
      op: 'truncate',
      generation,
      eventId: controlEventId.truncate(t.component, t.table, at, generation),
      component: t.component,
      table: t.table,
      cause: 'source',
      ts: clock.toString(),
    };
    publish(truncate);
    // The table's values follow, with their own (older) commit times.
    for (const d of shuffled(docsOf(t))) documentEvent('upsert', d, d.doc);
    return truncate;
  };

  for (let n = rng.int(3, 15); n > 0; n--) transaction(true);
  snapshot('snapshot');
  if (!legacyRecords) snapshotComplete();

  for (let step = 0; step < steps; step++) {
    if (legacyRecords && rng.chance(0.2)) legacyRecords = false; // the bridge is upgraded
    const roll = rng.float();
    if (roll < 0.5 || legacyRecords) {
      count('transaction');
      transaction(false);
    } else if (roll < 0.56) {
      count('clear-tables');
      const t = rng.pick(TABLES);
      const before = tick();
      for (const d of docsOf(t)) live.delete(key(d));
      tick();
      publish({
        v: 1,
        op: 'truncate',
        generation,
        eventId: controlEventId.truncate(t.component, t.table, before.toString(), generation),
        component: t.component,
        table: t.table,
        cause: 'clear-tables',
        ts: before.toString(),
      });
    } else if (roll < 0.61) {
      count('data-sync-truncate');
      const t = rng.pick(TABLES);
      if (rng.chance(0.3)) {
        // `convex import --replace`: new rows for the whole table at one commit time.
        for (const d of docsOf(t)) live.delete(key(d));
        const ts = tick();
        for (let i = rng.int(0, 4); i > 0; i--) {
          const id = `${t.table.slice(0, 2)}${(ids++).toString(36)}r`;
          live.set(key({ ...t, id }), { ...t, id, ts, doc: { _id: id, v: ++version } });
        }
      }
      const truncate = dataSyncTruncate(t);
      if (rng.chance(0.4)) {
        count('data-sync-reread');
        // A crash before the checkpoint; Convex moved on; the same cursor now serves the table as
        // it is: the same truncate (same eventId), then today's values.
        const touched = new Set<string>();
        for (let i = rng.int(1, 3); i > 0; i--) {
          const ts = tick();
          const w = write(ts, touched);
          if (w && (w.d.component !== t.component || w.d.table !== t.table)) {
            documentEvent(w.deleted ? 'delete' : 'upsert', w.d, w.deleted ? null : w.d.doc);
          }
        }
        publish(truncate);
        for (const d of shuffled(docsOf(t))) documentEvent('upsert', d, d.doc);
      }
    } else if (roll < 0.66) {
      count('schema');
      const t = rng.pick(TABLES);
      const schema = { type: 'object', properties: { v: { type: 'number' } }, revision: ++version };
      schemas.set(`${t.component}/${t.table}`, schema);
      publish({
        v: 1,
        op: 'schema',
        generation,
        eventId: controlEventId.schema(t.component, t.table, `d${version}`, generation),
        component: t.component,
        table: t.table,
        schema,
      });
    } else if (roll < 0.7) {
      count('resync');
      const gapFrom = clock.toString();
      // The gap: changes the exporter never reads; the new snapshot and the sweep account for them.
      for (let n = rng.int(1, 6); n > 0; n--) transaction(true);
      generation++;
      logical = [];
      publish({
        v: 1,
        op: 'resync-start',
        generation,
        eventId: controlEventId.resyncStart(generation),
        reason: 'InvalidWindowToReadDocuments',
        gapFrom,
      });
      snapshot('snapshot');
      snapshotComplete();
    } else if (roll < 0.82) {
      count('crash');
      crash();
    } else if (roll < 0.9) {
      count('split');
      if (stream.openCount() < 6) stream.split();
    } else {
      count('merge');
      stream.merge();
    }
  }

  const docs = new Map([...live.values()].map((d) => [key(d), d.doc]));
  const records = [...stream.records().values()];
  stats.records = records.reduce((sum, r) => sum + r.length, 0);
  stats.shards = records.length;
  return { truth: { docs, schemas }, stats };
}
