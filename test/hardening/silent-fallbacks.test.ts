import { describe, expect, it } from 'vitest';
import { findMotoPython } from '../../local/local-aws.js';
import { runCli } from '../helpers/run-cli.js';

// Issue 15 (7): no silent fallbacks.

describe('npm start with a half-configured deployment', () => {
  it('stops with an error naming CONVEX_DEPLOY_KEY instead of running the demo', async () => {
    const result = await runCli(['start'], {
      CONVEX_URL: 'https://happy-animal-123.convex.cloud',
      CONVEX_DEPLOY_KEY: '',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CONVEX_DEPLOY_KEY');
    expect(result.stderr).toContain('CONVEX_URL is set');
    expect(result.stdout).not.toContain('starting local AWS stand-ins');
  });

  it('and a key without a URL the same way', async () => {
    const result = await runCli(['start'], { CONVEX_URL: '', CONVEX_DEPLOY_KEY: 'prod:x|y' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('CONVEX_DEPLOY_KEY is set but CONVEX_URL is not');
    expect(result.stderr).not.toContain('prod:x|y');
  });
});

describe('MOTO_PYTHON', () => {
  it('is an error when it does not exist', () => {
    expect(() => findMotoPython({ MOTO_PYTHON: '/no/such/python3' })).toThrow(
      /MOTO_PYTHON=\/no\/such\/python3 .*(does not exist|cannot be run)/,
    );
  });

  it('is an error when it cannot import moto', () => {
    // node is a real program that is not a python with moto.
    expect(() => findMotoPython({ MOTO_PYTHON: process.execPath })).toThrow(
      /MOTO_PYTHON=.* cannot import moto/,
    );
  });

  it('is used when it works; unset, the usual pythons are tried', () => {
    const found = findMotoPython({});
    expect(findMotoPython({ MOTO_PYTHON: found })).toBe(found);
    expect(findMotoPython({ MOTO_PYTHON: '' })).toBe(found);
  });
});
