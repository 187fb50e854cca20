import { describe, expect, it } from 'vitest';
import { useSimulator } from '../helpers/simulator.js';

const float64Base64 = (x: number) => {
  const buf = Buffer.alloc(8);
  buf.writeDoubleLE(x);
  return buf.toString('base64');
};
const nanBase64 = float64Base64(Number.NaN);
const infBase64 = float64Base64(Number.POSITIVE_INFINITY);

// docs/convex-api.md §11.10: json_schemas shape.
describe('simulator json_schemas', () => {
  const f = useSimulator();

  it('describes each table as a draft-07 object schema with required fields and Id descriptions', async () => {
    f.write([
      { op: 'insert', table: 'js_users', doc: { name: 'a', age: 3 } },
      { op: 'insert', table: 'js_users', doc: { name: 'b' } },
    ]);
    const res = await f.call('/api/json_schemas');
    const schema = (res.json as Record<string, Record<string, unknown>>).js_users;
    expect(schema).toMatchObject({
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      additionalProperties: false,
      required: ['_creationTime', '_id', 'name'],
      properties: {
        _id: { $description: 'Id(js_users)', type: 'string' },
        age: { type: 'number' },
      },
    });
    expect(schema?.properties).not.toHaveProperty('_ts');
  });

  it('adds the four delta fields with deltaSchema=true, and groups by component with byComponent=true', async () => {
    f.write([{ op: 'insert', table: 'js_users', component: 'chat', doc: { x: 1 } }]);
    const res = await f.call('/api/json_schemas?deltaSchema=true&byComponent=true');
    const byComponent = res.json as Record<
      string,
      Record<string, { properties: Record<string, unknown>; required: string[] }>
    >;
    expect(Object.keys(byComponent).sort()).toEqual(['', 'chat']);
    const props = byComponent['']?.js_users?.properties ?? {};
    expect(props).toMatchObject({
      _table: { type: 'string' },
      _component: { type: 'string' },
      _ts: { type: 'integer' },
      _deleted: { type: 'boolean' },
    });
    expect(byComponent['']?.js_users?.required).not.toContain('_ts');
  });

  it('describes a float field that held NaN or ±inf as number or string in clean json', async () => {
    f.write([
      { op: 'insert', table: 'js_floats', doc: { x: 1.5, y: 2 } },
      { op: 'insert', table: 'js_floats', doc: { x: { $float: nanBase64 }, y: 3 } },
    ]);
    const res = await f.call('/api/json_schemas');
    const props = (res.json as Record<string, { properties: Record<string, unknown> }>).js_floats
      ?.properties;
    expect(props?.x).toEqual({
      $description: 'float64',
      anyOf: [{ type: 'number' }, { type: 'string', $description: '-inf, inf, or NaN' }],
    });
    expect(props?.y).toEqual({ type: 'number' });
  });

  it('describes bytes and int64 in convex_encoded_json as objects with $bytes and $integer', async () => {
    f.write([
      {
        op: 'insert',
        table: 'js_encoded',
        doc: { b: { $bytes: 'AAE=' }, n: { $integer: 'AQAAAAAAAAA=' }, f: { $float: infBase64 } },
      },
    ]);
    const res = await f.call('/api/json_schemas?format=convex_encoded_json');
    const props = (res.json as Record<string, { properties: Record<string, unknown> }>).js_encoded
      ?.properties;
    expect(props?.b).toEqual({
      type: 'object',
      $description: 'base64 bytes',
      properties: { $bytes: { type: 'string' } },
    });
    expect(props?.n).toEqual({
      $description: 'int64',
      type: 'object',
      properties: {
        $integer: { $description: 'int64 -> little-endian -> base64', type: 'string' },
      },
    });
    expect(props?.f).toMatchObject({
      $description: 'float64',
      anyOf: [{ type: 'number' }, { type: 'object', properties: { $float: { type: 'string' } } }],
    });
  });

  it('rejects a non-boolean deltaSchema and POST', async () => {
    expect((await f.call('/api/json_schemas?deltaSchema=yes')).status).toBe(400);
    expect((await f.call('/api/json_schemas', { method: 'POST' })).status).toBe(405);
  });
});
