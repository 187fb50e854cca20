import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { validateMessage } from '../../shared/import/import-message.js';

const schema = JSON.parse(
  readFileSync(new URL('../../docs/import-message.schema.json', import.meta.url), 'utf8'),
) as object;
const settings = {
  tables: { users: { primaryKey: [['email']] } },
  unknownTables: 'append' as const,
};

describe('docs/import-message.schema.json agrees with the validator', () => {
  const validate = new Ajv().compile(schema);
  it.each([
    [{ table: 'users', data: { email: 'a' } }, true],
    [{ table: 'users', op: 'delete', data: { email: 'a' } }, true],
    [{ table: 'my-table', data: {} }, false],
    [{ table: 'users', op: 'remove', data: { email: 'a' } }, false],
    [{ table: 'users' }, false],
    [{ table: 'users', data: { email: 'a' }, extra: 1 }, false],
    [{ table: 'users', data: { _ab_cdc_deleted_at: 'x', email: 'a' } }, false],
  ])('%j → %s', (message, valid) => {
    expect(validate(message)).toBe(valid);
    expect('message' in validateMessage(JSON.stringify(message), settings)).toBe(valid);
  });
});
