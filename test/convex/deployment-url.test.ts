import { describe, expect, it } from 'vitest';
import { parseDeploymentUrl, validateDeployKey } from '../../shared/convex/deployment-url.js';
import { ConfigError } from '../../shared/errors.js';

describe('parseDeploymentUrl', () => {
  it('accepts an https origin and drops a trailing slash', () => {
    expect(parseDeploymentUrl('https://happy-animal-123.convex.cloud/').href).toBe(
      'https://happy-animal-123.convex.cloud/',
    );
  });

  it('allows plain http only for loopback, and only when asked', () => {
    expect(parseDeploymentUrl('http://127.0.0.1:3210', { allowInsecureLoopback: true }).port).toBe(
      '3210',
    );
    expect(
      parseDeploymentUrl('http://localhost:3210', { allowInsecureLoopback: true }).hostname,
    ).toBe('localhost');
    expect(() => parseDeploymentUrl('http://127.0.0.1:3210')).toThrow(/enable local mode/);
    expect(() =>
      parseDeploymentUrl('http://secret-team.example.com', { allowInsecureLoopback: true }),
    ).toThrow(/must use https/);
  });

  it.each([
    ['a query string', 'https://secret-team.convex.cloud/?x=1', /query string/],
    ['a bare ? query', 'https://secret-team.convex.cloud/?', /query string/],
    ['a fragment', 'https://secret-team.convex.cloud/#frag', /fragment/],
    ['a path', 'https://secret-team.convex.cloud/api', /without a path/],
    ['credentials', 'https://user:pw@secret-team.convex.cloud', /credentials/],
    ['another scheme', 'ftp://secret-team.convex.cloud', /must use https/],
    ['no scheme', 'secret-team.convex.cloud', /not a valid absolute URL/],
  ])('rejects %s without echoing the URL', (_, url, message) => {
    const error = (() => {
      try {
        parseDeploymentUrl(url, { allowInsecureLoopback: true });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('secret-team');
  });
});

describe('validateDeployKey', () => {
  it('trims and accepts a printable key', () => {
    expect(validateDeployKey(' prod:abc|def== \n')).toBe('prod:abc|def==');
  });

  it.each(['', '   ', 'prod:abc\r\nX-Injected: 1', 'key with space'])(
    'rejects %j without echoing it',
    (key) => {
      expect(() => validateDeployKey(key)).toThrow(ConfigError);
      try {
        validateDeployKey(key);
      } catch (e) {
        if (key.trim()) expect((e as Error).message).not.toContain(key.trim());
      }
    },
  );
});
