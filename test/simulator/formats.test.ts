import { describe, expect, it } from 'vitest';
import { useSimulator } from '../helpers/simulator.js';

const le64 = (write: (b: Buffer) => void) => {
  const b = Buffer.alloc(8);
  write(b);
  return b.toString('base64');
};

// docs/convex-api.md §11.8: the three value formats, byte for byte.
describe('simulator value formats', () => {
  const f = useSimulator();
  let doc = '';

  const fetchRow = async (format?: string) => {
    const query = new URLSearchParams({ tableName: 'fmt' });
    if (format) query.set('format', format);
    const res = await f.call(`/api/list_snapshot?${query}`);
    expect(res.status).toBe(200);
    return res.text;
  };

  it('prepares a document holding every value type', () => {
    const { ids } = f.write([
      {
        op: 'insert',
        table: 'fmt',
        doc: {
          big: { $integer: le64((b) => b.writeBigInt64LE(-5n)) },
          bytes: { $bytes: Buffer.from([1, 2, 3]).toString('base64') },
          inf: { $float: le64((b) => b.writeDoubleLE(Number.POSITIVE_INFINITY)) },
          nan: { $float: le64((b) => b.writeDoubleLE(Number.NaN)) },
          ninf: { $float: le64((b) => b.writeDoubleLE(Number.NEGATIVE_INFINITY)) },
          negzero: { $float: le64((b) => b.writeDoubleLE(-0)) },
          one: 1,
          huge: 1e21,
          tiny: 1.5e-7,
          nested: { list: [1.5, 'a', null, true] },
        },
      },
    ]);
    doc = ids[0] as string;
    expect(doc).toMatch(/^[0-9a-z]{31,37}$/);
  });

  it('clean json: int64 as a decimal string, bytes as base64, non-finite floats as strings, .0 on integral floats', async () => {
    const text = await fetchRow();
    expect(text).toContain('"big":"-5"');
    expect(text).toContain('"bytes":"AQID"');
    expect(text).toContain('"inf":"Infinity"');
    expect(text).toContain('"nan":"NaN"');
    expect(text).toContain('"ninf":"-Infinity"');
    expect(text).toContain('"negzero":-0.0');
    expect(text).toContain('"one":1.0');
    expect(text).toContain('"huge":1e21');
    expect(text).toContain('"tiny":1.5e-7');
    expect(text).toContain('"nested":{"list":[1.5,"a",null,true]}');
  });

  it('convex_encoded_json: $integer, $float and $bytes with standard padded base64 of little-endian bytes', async () => {
    const text = await fetchRow('convex_encoded_json');
    expect(text).toContain(`"big":{"$integer":"${le64((b) => b.writeBigInt64LE(-5n))}"}`);
    expect(text).toContain('"bytes":{"$bytes":"AQID"}');
    expect(text).toContain(`"nan":{"$float":"${le64((b) => b.writeDoubleLE(Number.NaN))}"}`);
    expect(text).toContain(`"negzero":{"$float":"${le64((b) => b.writeDoubleLE(-0))}"}`);
    expect(text).toContain('"one":1.0');
    const withoutSnapshot = (t: string) => t.replace(/"snapshot":\d+/, '');
    expect(withoutSnapshot(await fetchRow('convex_json'))).toBe(withoutSnapshot(text));
  });

  it('export_json: bare int64, $float for non-finite, -0.0 as a number, $bytes', async () => {
    const text = await fetchRow('export_json');
    expect(text).toContain('"big":-5,');
    expect(text).toContain(
      `"inf":{"$float":"${le64((b) => b.writeDoubleLE(Number.POSITIVE_INFINITY))}"}`,
    );
    expect(text).toContain('"negzero":-0.0');
    expect(text).toContain('"bytes":{"$bytes":"AQID"}');
  });

  it('sorts document fields by byte order after the metadata', async () => {
    const text = await fetchRow();
    expect(text).toMatch(
      /^\{"values":\[\{"_component":"","_table":"fmt","_ts":\d{19},"_creationTime":[\d.]+,"_id":"[0-9a-z]+","big":/,
    );
    expect(text).toMatch(/"big":[^}]*"bytes":[^}]*"huge":[^}]*"inf":[^}]*"nan":/);
  });

  it('rejects an unknown format with 400 BadFormat, after everything else succeeded', async () => {
    const res = await f.call('/api/list_snapshot?format=xml');
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      code: 'BadFormat',
      message: 'format param must be one of [`json`]. Got xml',
    });
    const unauth = await f.raw('/api/list_snapshot?format=xml');
    expect(unauth.status).toBe(403);
  });
});
