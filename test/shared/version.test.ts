import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BRIDGE_VERSION, CONVEX_CLIENT_HEADER } from '../../shared/version.js';
import { isValidClientVersion } from '../../simulator/server.js';

describe('version', () => {
  it('matches package.json', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    expect(BRIDGE_VERSION).toBe(pkg.version);
  });

  it('forms a Convex-Client value Convex accepts', () => {
    expect(isValidClientVersion(CONVEX_CLIENT_HEADER)).toBe(true);
    expect(isValidClientVersion('foo')).toBe(false);
  });
});
