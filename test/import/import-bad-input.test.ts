import { describe, expect, it } from 'vitest';
import type { ImportSettings } from '../../shared/import/import-message.js';
import { useImportRig, userFields } from './rig.js';

const deep = (levels: number): Record<string, unknown> =>
  levels === 0 ? { leaf: 1 } : { d: deep(levels - 1) };

describe('import with bad input mixed in', () => {
  const rig = useImportRig();
  const settings: ImportSettings = {
    tables: {
      users: { primaryKey: [['email']] },
      orgs: { primaryKey: [['org', 'id']] },
      events: {},
    },
    unknownTables: 'reject',
  };

  // [body, expected code, text the reason must contain]
  const bad: [unknown, string, string][] = [
    ['', 'EmptyBody', 'empty'],
    ['{not json', 'InvalidJson', 'not JSON'],
    ['[1,2]', 'NotAnObject', 'array'],
    ['"users"', 'NotAnObject', 'string'],
    ['null', 'NotAnObject', 'null'],
    ['42', 'NotAnObject', 'got number'],
    [{ data: { email: 'a' } }, 'MissingTable', '"table" is missing'],
    [{ table: 7, data: {} }, 'InvalidTableName', 'must be a string, got number'],
    [{ table: '', data: {} }, 'InvalidTableName', 'not a valid Convex table name'],
    [{ table: 'my-table', data: {} }, 'InvalidTableName', 'my-table'],
    [{ table: '_system', data: {} }, 'InvalidTableName', '_system'],
    [{ table: 'x'.repeat(65), data: {} }, 'InvalidTableName', 'not a valid Convex table name'],
    [{ table: 'nosuch', data: {} }, 'UnknownTable', 'nosuch'],
    [{ tabel: 'users', data: {} }, 'UnknownMessageField', '"tabel"'],
    [{ table: 'users', op: 'upsertt', data: { email: 'a' } }, 'InvalidOp', 'upsertt'],
    [{ table: 'users', op: 3, data: { email: 'a' } }, 'InvalidOp', 'must be "upsert" or "delete"'],
    [{ table: 'users' }, 'MissingData', '"data" is missing'],
    [{ table: 'users', data: [1] }, 'DataNotObject', 'array'],
    [{ table: 'users', data: 'x' }, 'DataNotObject', 'string'],
    [{ table: 'users', data: null }, 'DataNotObject', 'null'],
    [{ table: 'users', data: 5 }, 'DataNotObject', 'got number'],
    [
      { table: 'events', op: 'delete', data: { k: 1 } },
      'DeleteWithoutPrimaryKey',
      'no primary key',
    ],
    [{ table: 'users', data: { name: 'no email' } }, 'MissingPrimaryKeyField', 'data.email'],
    [{ table: 'orgs', data: { org: {} } }, 'MissingPrimaryKeyField', 'data.org.id'],
    [{ table: 'users', data: { email: null } }, 'InvalidPrimaryKeyValue', 'data.email'],
    [{ table: 'users', data: { email: { a: 1 } } }, 'InvalidPrimaryKeyValue', 'data.email'],
    [
      { table: 'events', data: { blob: 'x'.repeat(1024 * 1024 + 10) } },
      'DocumentTooLarge',
      'bytes',
    ],
    [{ table: 'events', data: deep(17) }, 'NestingTooDeep', 'deeper than'],
    [
      {
        table: 'events',
        data: Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [`f${i}`, i])),
      },
      'TooManyFields',
      '1025 fields',
    ],
    [
      { table: 'events', data: { list: Array.from({ length: 8193 }, () => 0) } },
      'ArrayTooLong',
      'data.list',
    ],
    [{ table: 'events', data: { ['k'.repeat(1025)]: 1 } }, 'FieldNameTooLong', '1025 characters'],
    [
      { table: 'events', data: { _ab_cdc_deleted_at: 'x' } },
      'ReservedFieldName',
      '_ab_cdc_deleted_at',
    ],
    ['{"table":"events","data":{"n":12345678901234567891}}', 'UnsafeInteger', 'data.n'],
  ];

  it('imports every good message and parks every bad one in the DLQ with a reason naming the problem', {
    timeout: 60_000,
  }, async () => {
    const good = [
      { table: 'users', data: { email: 'ada@example.com', name: 'Ada', _id: 'legacy-7' } },
      { table: 'orgs', data: { org: { id: 1 }, name: 'Acme' } },
      { table: 'events', data: { kind: 'signup', at: 1718000000000 } },
      { table: 'users', op: 'delete', data: { email: 'nobody@example.com' } },
    ];
    const batch = [...bad.map(([body]) => rig.inbound(body)), ...good.map((g) => rig.inbound(g))];
    // Interleave so bad input sits between good messages.
    batch.sort(
      (a, b) =>
        ((a.id.length * 7 + Number(a.id.slice(2))) % 5) -
        ((b.id.length * 7 + Number(b.id.slice(2))) % 5),
    );
    const result = await rig.run(batch, settings);
    // A body over SQS's 1 MiB cannot arrive from SQS, nor go back into a DLQ: it is handed back
    // intact (the queue's redrive parks it) and the log says why. Every other reject is parked here.
    const tooBigForSqs = batch
      .filter((m) => Buffer.byteLength(m.body) > 1024 * 1024)
      .map((m) => m.id);
    expect(tooBigForSqs).toHaveLength(1);
    expect(result).toMatchObject({
      failedIds: tooBigForSqs,
      imported: good.length,
      quarantined: bad.length - 1,
    });
    expect(
      rig.lines.find((l) => l.message.startsWith('could not send a rejected message'))?.fields,
    ).toMatchObject({
      messageId: tooBigForSqs[0],
      reason: expect.stringContaining('TooLong'),
    });
    expect(new Set(bad.map(([, code]) => code)).size).toBeGreaterThanOrEqual(20);
    expect(bad.length - 1).toBeGreaterThanOrEqual(25);

    const parked = await rig.drainDlq();
    expect(parked).toHaveLength(bad.length - 1);
    for (const [body, code, text] of bad) {
      const raw = typeof body === 'string' ? body : JSON.stringify(body);
      if (Buffer.byteLength(raw) > 1024 * 1024) continue;
      const hit = parked.find((p) => p.body === (raw === '' ? '(empty body)' : raw));
      expect({ body: raw.slice(0, 60), code: hit?.attributes['bridge-error-code'] }).toEqual({
        body: raw.slice(0, 60),
        code,
      });
      expect(hit?.attributes['bridge-error-message']).toContain(text);
      expect(hit?.attributes['bridge-source-message-id']).toMatch(/^m-\d+$/);
    }

    expect(rig.f.sim.deployment.documents('users').map(userFields)).toEqual([
      { email: 'ada@example.com', name: 'Ada', source_id: 'legacy-7' },
    ]);
    expect(rig.f.sim.deployment.documents('orgs')).toHaveLength(1);
    expect(rig.f.sim.deployment.documents('events')).toHaveLength(1);
    const renames = rig.lines.find((l) => l.message.startsWith('Convex will rename'));
    expect(renames?.fields).toEqual({ renamed: { users: ['data._id'] } });
  });

  it('bisects a request Convex refuses down to the refused record and imports the rest', async () => {
    await rig.drainDlq();
    rig.f.sim.knobs.maxDocumentBytes = 2_000; // a stricter deployment than our own 1 MiB check
    const messages = Array.from({ length: 16 }, (_, i) => ({
      table: 'events',
      data: { i, pad: i === 11 ? 'z'.repeat(5_000) : 'ok' },
    }));
    const batch = messages.map((m) => rig.inbound(m));
    const before = rig.f.sim.deployment.documents('events').length;
    const result = await rig.run(batch, settings);
    expect(result).toMatchObject({ failedIds: [], imported: 15, quarantined: 1 });
    expect(result.requests).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(16)));
    const parked = await rig.drainDlq();
    expect(parked).toHaveLength(1);
    expect(parked[0]?.attributes).toMatchObject({
      'bridge-error-code': 'ConvexRejected',
      'bridge-table': 'events',
    });
    expect(parked[0]?.attributes['bridge-error-message']).toContain('DocumentTooLarge');
    expect(rig.f.sim.deployment.documents('events').length - before).toBe(15);
  });
});
