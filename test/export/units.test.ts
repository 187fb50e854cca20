import { describe, expect, it } from 'vitest';
import { serverSelection } from '../../shared/adapters/convex-legacy-feed.js';
import { ConfigError } from '../../shared/errors.js';
import { planBatches, planRounds } from '../../shared/events/publish-plan.js';
import { loadExportConfig } from '../../shared/export/config.js';
import { tablePredicate } from '../../shared/export/table-filter.js';

const rec = (key: string, bytes = 10) => ({ partitionKey: key, data: new Uint8Array(bytes) });

describe('planRounds', () => {
  it('puts the n-th record of each key in round n, keeping input order inside a round', () => {
    const rounds = planRounds([rec('a'), rec('b'), rec('a'), rec('c'), rec('a'), rec('b')]);
    expect(rounds.map((r) => r.map((x) => x.partitionKey))).toEqual([
      ['a', 'b', 'c'],
      ['a', 'b'],
      ['a'],
    ]);
  });
});

describe('planBatches', () => {
  it('keeps calls within 500 records and 5 MiB, counting partition key bytes', () => {
    const many = Array.from({ length: 1_201 }, (_, i) => rec(`k${i}`));
    expect(planBatches(many).map((b) => b.length)).toEqual([500, 500, 201]);
    // Data plus a 2-byte key: exactly 1 MiB each, so five fill 5 MiB exactly; one byte more and only four fit.
    const exact = Array.from({ length: 6 }, (_, i) => rec(`k${i}`, 1024 * 1024 - 2));
    expect(planBatches(exact).map((b) => b.length)).toEqual([5, 1]);
    const over = Array.from({ length: 6 }, (_, i) => rec(`k${i}`, 1024 * 1024 - 1));
    expect(planBatches(over).map((b) => b.length)).toEqual([4, 2]);
  });
});

describe('table filter', () => {
  it('includes, excludes, and understands component/table entries', () => {
    const p = tablePredicate({
      includeTables: ['users', 'chat/messages'],
      excludeComponents: ['legacy'],
    });
    expect([
      p('', 'users'),
      p('chat', 'messages'),
      p('chat', 'users'),
      p('', 'orders'),
      p('legacy', 'users'),
    ]).toEqual([true, true, false, false, false]);
    const q = tablePredicate({ excludeTables: ['audit'] });
    expect([q('', 'audit'), q('', 'users'), q('x', 'audit')]).toEqual([false, true, true]);
  });

  it('builds the matching Convex selection object', () => {
    expect(serverSelection({})).toBeUndefined();
    expect(serverSelection({ includeTables: ['users', 'chat/messages'] })).toEqual({
      selection: {
        _other: 'excluded',
        '': { _other: 'excluded', users: { _other: 'included' } },
        chat: { _other: 'excluded', messages: { _other: 'included' } },
      },
    });
    expect(serverSelection({ excludeTables: ['audit'], excludeComponents: ['legacy'] })).toEqual({
      selection: {
        _other: 'included',
        '': { _other: 'included', audit: 'excluded' },
        legacy: 'excluded',
      },
    });
  });
});

describe('loadExportConfig', () => {
  const base = {
    CONVEX_URL: 'https://x.convex.cloud',
    CONVEX_DEPLOY_KEY: 'prod:x|secret-value',
    BRIDGE_STREAM_NAME: 's',
    BRIDGE_STATE_TABLE: 't',
    BRIDGE_OVERSIZE_BUCKET: 'b',
  };

  it('applies defaults and parses lists', () => {
    const config = loadExportConfig({ ...base, BRIDGE_INCLUDE_TABLES: 'users, orders,' });
    expect(config).toMatchObject({
      pollIntervalMs: 500,
      safetyMarginMs: 10_000,
      exportId: 'default',
      filter: { includeTables: ['users', 'orders'] },
    });
  });

  it('names every bad setting at once and never echoes a value', () => {
    const error = (() => {
      try {
        loadExportConfig({
          ...base,
          CONVEX_DEPLOY_KEY: undefined,
          BRIDGE_STREAM_NAME: undefined,
          BRIDGE_POLL_INTERVAL_MS: '5',
          BRIDGE_VALUE_FORMAT: 'xml',
        });
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('BRIDGE_STREAM_NAME');
    expect(error.message).toContain('BRIDGE_POLL_INTERVAL_MS');
    expect(error.message).toContain('BRIDGE_VALUE_FORMAT');
    const missingKey = (() => {
      try {
        loadExportConfig({ ...base, CONVEX_DEPLOY_KEY: undefined });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(missingKey).toContain('set CONVEX_DEPLOY_KEY or CONVEX_DEPLOY_KEY_SECRET_ID');
    expect(error.message).not.toContain('secret-value');
  });
});
