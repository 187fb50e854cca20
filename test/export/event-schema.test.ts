import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { readWholeStream } from '../../shared/adapters/kinesis-stream-reader.js';
import {
  type ChangeEventRef,
  controlEventId,
  type StreamEvent,
  serializeEvent,
} from '../../shared/events/change-event.js';
import { useExportRig } from './rig.js';

const schema = JSON.parse(
  readFileSync(new URL('../../docs/change-event.schema.json', import.meta.url), 'utf8'),
) as { properties: { op: { enum: string[] } } };
const validate = new Ajv({ allErrors: true }).compile(schema);

/** The validator's verdict in a form whose failure message names the event and the errors. */
const verdict = (event: Record<string, unknown>) => ({
  event: event.eventId,
  errors: validate(event) ? [] : validate.errors,
});
const valid = (event: Record<string, unknown>) => ({ event: event.eventId, errors: [] });

const TS = '1718000001000000007';
const RANGE = { start: '0', end: '170141183460469231731687303715884105727' };

/** One example of every record kind, typed by the TypeScript contract so the two cannot drift. */
const EXAMPLES: readonly (StreamEvent | ChangeEventRef)[] = [
  {
    v: 1,
    op: 'snapshot',
    generation: 1,
    component: '',
    table: 'messages',
    id: 'jd7f3k',
    ts: TS,
    eventId: `jd7f3k@${TS}`,
    doc: { _id: 'jd7f3k', _creationTime: 1718000000123.5, body: 'hi' },
  },
  {
    v: 1,
    op: 'upsert',
    generation: 2,
    component: 'shop',
    table: 'items',
    id: 'k1',
    ts: TS,
    eventId: `k1@${TS}`,
    doc: { _id: 'k1' },
  },
  {
    v: 1,
    op: 'delete',
    generation: 1,
    component: '',
    table: 'messages',
    id: 'jd7f3k',
    ts: TS,
    eventId: `jd7f3k@${TS}`,
    doc: null,
  },
  {
    v: 1,
    op: 'upsert',
    generation: 1,
    component: '',
    table: 'files',
    id: 'f1',
    ts: TS,
    eventId: `f1@${TS}`,
    docRef: { bucket: 'oversize', key: `events/_root/files/f1/${TS}.json`, bytes: 1_048_700 },
  },
  {
    v: 1,
    op: 'truncate',
    generation: 1,
    eventId: controlEventId.truncate('', 'orders', TS, 1),
    component: '',
    table: 'orders',
    cause: 'clear-tables',
    ts: TS,
    hashKeyRange: RANGE,
  },
  {
    v: 1,
    op: 'truncate',
    generation: 3,
    eventId: controlEventId.truncate('shop', 'items', 'c0123456789abcdef', 3),
    component: 'shop',
    table: 'items',
    cause: 'source',
    hashKeyRange: RANGE,
  },
  {
    v: 1,
    op: 'resync-start',
    generation: 2,
    eventId: controlEventId.resyncStart(2),
    reason: 'InvalidWindowToReadDocuments',
    gapFrom: TS,
    hashKeyRange: RANGE,
  },
  {
    v: 1,
    op: 'resync-start',
    generation: 3,
    eventId: controlEventId.resyncStart(3),
    reason: 'operator',
    hashKeyRange: { start: '0', end: '340282366920938463463374607431768211455' },
  },
  {
    v: 1,
    op: 'snapshot-complete',
    generation: 1,
    eventId: controlEventId.snapshotComplete(1),
    ts: TS,
    hashKeyRange: RANGE,
  },
  {
    v: 1,
    op: 'schema',
    generation: 1,
    eventId: controlEventId.schema('', 'messages', '0123456789abcdef', 1),
    component: '',
    table: 'messages',
    schema: { type: 'object', properties: { body: { type: 'string' } } },
    hashKeyRange: RANGE,
  },
];

/** Every op of the TypeScript contract, exactly once (the compiler checks the key set). */
const OPS = Object.keys({
  snapshot: true,
  upsert: true,
  delete: true,
  truncate: true,
  'resync-start': true,
  'snapshot-complete': true,
  schema: true,
} satisfies Record<StreamEvent['op'], true>);

const asJson = (event: StreamEvent | ChangeEventRef) =>
  JSON.parse(serializeEvent(event as StreamEvent)) as Record<string, unknown>;
const example = (op: string) =>
  asJson(EXAMPLES.find((e) => e.op === op) as StreamEvent) as Record<string, unknown>;
const without = (event: Record<string, unknown>, field: string) => {
  const { [field]: _dropped, ...rest } = event;
  return rest;
};

describe('docs/change-event.schema.json describes the TypeScript contract', () => {
  it('names exactly the ops of the TypeScript types', () => {
    expect([...schema.properties.op.enum].sort()).toEqual([...OPS].sort());
  });

  it.for(EXAMPLES.map((e) => [e.op, e] as const))('accepts a %s record', ([, event]) => {
    const json = asJson(event);
    expect(verdict(json)).toEqual(valid(json));
  });

  it('accepts a document record written before generations existed (read as generation 1)', () => {
    const old = without(example('upsert'), 'generation');
    expect(verdict(old)).toEqual(valid(old));
  });

  // Each of these is refused; if the schema loosened, the consumer rules built on it would too.
  it.for<[string, Record<string, unknown>]>([
    ['a numeric ts (it must be text)', { ...example('upsert'), ts: 1718000001 }],
    ['a document record with generation 0', { ...example('upsert'), generation: 0 }],
    ['a generation given as text', { ...example('snapshot'), generation: '1' }],
    ['both doc and docRef', { ...example('upsert'), docRef: { bucket: 'b', key: 'k', bytes: 1 } }],
    ['a delete with a document', { ...example('delete'), doc: { _id: 'jd7f3k' } }],
    ['a later contract version', { ...example('upsert'), v: 2 }],
    ['an op this version does not publish', { ...example('upsert'), op: 'heartbeat' }],
    ['a truncate without table', without(example('truncate'), 'table')],
    ['a truncate with an unknown cause', { ...example('truncate'), cause: 'vacuum' }],
    ['a truncate carrying a document', { ...example('truncate'), doc: { _id: 'x' } }],
    ['a truncate carrying an id', { ...example('truncate'), id: 'x' }],
    ['a control record without generation', without(example('snapshot-complete'), 'generation')],
    ['a control record without hashKeyRange', without(example('truncate'), 'hashKeyRange')],
    [
      'a hashKeyRange in hex',
      { ...example('snapshot-complete'), hashKeyRange: { start: '0x0', end: '0xff' } },
    ],
    [
      'a hashKeyRange beyond 39 digits',
      { ...example('snapshot-complete'), hashKeyRange: { start: '0', end: '1'.repeat(40) } },
    ],
    ['a resync-start without reason', without(example('resync-start'), 'reason')],
    [
      'a snapshot-complete with a truncate eventId',
      { ...example('snapshot-complete'), eventId: 'truncate:x' },
    ],
    ['a schema event without its schema', without(example('schema'), 'schema')],
    ['a schema given as text', { ...example('schema'), schema: '{}' }],
  ])('refuses %s', ([, event]) => {
    expect(validate(event)).toBe(false);
  });
});

describe('published records match docs/change-event.schema.json', () => {
  const rig = useExportRig();
  const { f } = rig;

  const streamed = async (stream: string) => {
    const records = await readWholeStream(rig.kinesis(), stream);
    return records.map(
      (r) => JSON.parse(Buffer.from(r.data).toString('utf8')) as Record<string, unknown>,
    );
  };

  it('validates snapshot, upsert, delete and claim-check records as they sit in the stream', async () => {
    const { stream, exportId } = await rig.fresh();
    const filter = { includeTables: ['sc_docs'] };
    const { ids } = rig.f.write([
      { op: 'insert', table: 'sc_docs', doc: { a: 1 } },
      { op: 'insert', table: 'sc_docs', doc: { blob: 'y'.repeat(1_048_400) } },
    ]);
    await rig.run({ filter }, { stream, exportId });
    rig.f.write([{ op: 'patch', id: ids[0] as string, fields: { a: 2 } }]);
    rig.f.write([{ op: 'delete', id: ids[0] as string }]);
    await rig.run({ filter }, { stream, exportId });
    const { records } = await rig.verify({ stream, exportId, filter });
    const raw = records.map(
      (r) => JSON.parse(Buffer.from(r.record.data).toString('utf8')) as Record<string, unknown>,
    );
    for (const event of raw) expect(verdict(event)).toEqual(valid(event));
    const kinds = new Set(raw.map((e) => (e.docRef ? 'ref' : e.op)));
    for (const kind of ['snapshot', 'ref', 'upsert', 'delete']) expect(kinds).toContain(kind);
    // Every record this version writes carries its generation.
    expect(raw.filter((e) => e.generation !== 1)).toEqual([]);
  });

  it.for(['legacy', 'data-sync'] as const)(
    'validates every control record of a %s export: clears, schema changes, a resync',
    async (api) => {
      const { stream, exportId } = await rig.fresh(2);
      const table = `sc_${api === 'legacy' ? 'lg' : 'ds'}`;
      const filter = { includeTables: [table, `${table}_x`] };
      const deps = { stream, exportId, lifecycle: true, api } as const;
      const options = { filter, onExpiredCursor: 'resync' as const };
      f.write([{ op: 'insert', table, doc: { n: 1 } }]);
      await rig.run(options, deps);
      // A new table (a schema event), then a clear through the bridge (a truncate).
      f.write([{ op: 'insert', table: `${table}_x`, doc: { s: 'text' } }]);
      const { snapshot: before } = await rig
        .convex()
        .listSnapshot({ selection: { selection: { _other: 'excluded' } } });
      await rig.clearLog(exportId).record({
        component: '',
        table,
        before,
        recordedAt: new Date().toISOString(),
      });
      await rig.convex().clearTables([table]);
      await rig.run(options, deps);
      // The cursor falls out of retention while the deployment changes: generation 2.
      f.sim.knobs.retentionSeconds = 3_600;
      f.sim.deployment.advanceClock(2 * 3_600_000);
      f.write([{ op: 'insert', table, doc: { n: 2 } }]);
      try {
        await rig.run(options, deps);
      } finally {
        f.sim.knobs.retentionSeconds = 14 * 24 * 3600;
      }
      const events = await streamed(stream);
      for (const event of events) expect(verdict(event)).toEqual(valid(event));
      expect(new Set(events.map((e) => e.op))).toEqual(
        new Set(['snapshot', 'upsert', 'truncate', 'schema', 'resync-start', 'snapshot-complete']),
      );
    },
  );
});
