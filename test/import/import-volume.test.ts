import { describe, expect, it } from 'vitest';
import type { ImportSettings } from '../../shared/import/import-message.js';
import { expectedState, useImportRig, userFields } from './rig.js';

const TABLES = ['customers', 'orders', 'products', 'invoices', 'shipments'];

describe('import at volume', () => {
  const rig = useImportRig();
  const settings: ImportSettings = {
    tables: Object.fromEntries(TABLES.map((t) => [t, { primaryKey: [['ref', 'id']] }])),
    unknownTables: 'reject',
  };

  it('ends 5 tables exactly as 10,000 mixed upserts and deletes say, in near the fewest requests', {
    timeout: 120_000,
  }, async () => {
    let rand = 42;
    const next = () => {
      rand = (rand * 1103515245 + 12345) % 2 ** 31;
      return rand / 2 ** 31;
    };
    const messages = Array.from({ length: 10_000 }, (_, i) => {
      const table = TABLES[Math.floor(next() * TABLES.length)] as string;
      const id = Math.floor(next() * 400);
      const op = next() < 0.2 ? 'delete' : 'upsert';
      return {
        table,
        op,
        data: {
          ref: { id },
          seq: i,
          name: `item ${id}`,
          tags: ['a', 'b'],
          price: Math.round(next() * 10000) / 100,
        },
      };
    });
    const limits = { maxBytes: 256 * 1024, maxMessages: 10_000 };
    let requests = 0;
    let bytes = 0;
    let floor = 0;
    for (let i = 0; i < messages.length; i += 2_500) {
      const batch = messages.slice(i, i + 2_500).map((m) => rig.inbound(m));
      const result = await rig.run(batch, settings, { limits });
      expect(result).toMatchObject({ failedIds: [], quarantined: 0, imported: batch.length });
      requests += result.requests;
      const batchBytes = batch.reduce((n, m) => n + Buffer.byteLength(m.body), 0);
      bytes += batchBytes;
      floor += Math.ceil(batchBytes / limits.maxBytes); // a batch cannot share a request with another
    }
    const expected = expectedState(messages, (d) => String((d.ref as { id: number }).id));
    for (const table of TABLES) {
      const actual = rig.f.sim.deployment.documents(table).map((d) => userFields(d));
      const want = [...(expected.get(table)?.values() ?? [])];
      const byKey = (rows: Record<string, unknown>[]) =>
        new Map(rows.map((r) => [String((r.ref as { id: number }).id), r]));
      expect(byKey(actual)).toEqual(byKey(want));
    }
    process.stdout.write(
      `import volume: 10000 messages, ${requests} requests, floor ${floor}, ${bytes} payload bytes\n`,
    );
    expect(requests).toBeLessThanOrEqual(floor + 4); // at most one partly filled request per batch
  });

  it('leaves the same state when a batch is delivered twice (idempotent with primary keys)', async () => {
    const batch = [
      { table: 'customers', data: { ref: { id: 9001 }, name: 'first' } },
      { table: 'customers', data: { ref: { id: 9001 }, name: 'second' } },
      { table: 'customers', op: 'delete', data: { ref: { id: 9002 } } },
      { table: 'customers', data: { ref: { id: 9003 }, name: 'kept' } },
    ];
    for (let round = 0; round < 2; round++)
      await rig.run(
        batch.map((m) => rig.inbound(m)),
        settings,
      );
    const rows = rig.f.sim.deployment
      .documents('customers')
      .filter((d) => [9001, 9002, 9003].includes((d.ref as { id: number }).id));
    expect(
      rows.map((r) => userFields(r)).sort((a, b) => String(a.name).localeCompare(String(b.name))),
    ).toEqual([
      { ref: { id: 9003 }, name: 'kept' },
      { ref: { id: 9001 }, name: 'second' },
    ]);
  });
});
