import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { useExportRig } from './rig.js';

const schema = JSON.parse(
  readFileSync(new URL('../../docs/change-event.schema.json', import.meta.url), 'utf8'),
) as object;

describe('published events match docs/change-event.schema.json', () => {
  const rig = useExportRig();

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
    const validate = new Ajv({ allErrors: true }).compile(schema);
    const raw = records.map(
      (r) => JSON.parse(Buffer.from(r.record.data).toString('utf8')) as Record<string, unknown>,
    );
    for (const event of raw)
      expect({ event: event.eventId, errors: validate(event) ? [] : validate.errors }).toEqual({
        event: event.eventId,
        errors: [],
      });
    expect(new Set(raw.map((e) => (e.docRef ? 'ref' : e.op)))).toEqual(
      new Set(['snapshot', 'ref', 'upsert', 'delete']),
    );
    expect(validate({ ...raw[0], ts: 1718000001 })).toBe(false); // a numeric ts is refused: it must be text
  });
});
