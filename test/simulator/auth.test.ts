import { describe, expect, it } from 'vitest';
import { DEPLOY_KEY, READ_ONLY_KEY, useSimulator } from '../helpers/simulator.js';

// docs/convex-api.md §11.2: the authentication ladder, in order, with exact codes.
describe('simulator auth ladder', () => {
  const f = useSimulator();
  const snapshot = (authorization?: string) =>
    f.raw('/api/list_snapshot', authorization === undefined ? {} : { headers: { authorization } });

  it('rejects a header shorter than 7 characters with 400 InvalidHeaderFailure', async () => {
    const res = await snapshot('Conv');
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      code: 'InvalidHeaderFailure',
      message: 'Invalid authentication header',
    });
  });

  it('rejects an unknown scheme with 400 InvalidAdminKey', async () => {
    const res = await snapshot('Basic dXNlcjpwYXNz');
    expect(res.status).toBe(400);
    expect((res.json as { code: string }).code).toBe('InvalidAdminKey');
  });

  it('rejects a wrong key with 401 BadAdminKey', async () => {
    const res = await snapshot('Convex prod:other|abc');
    expect(res.status).toBe(401);
    expect(res.json).toEqual({
      code: 'BadAdminKey',
      message: 'The provided admin key was invalid for this instance',
    });
  });

  it('rejects malformed act-as attributes with 400 HeaderParseFailure', async () => {
    const res = await snapshot(`Convex ${DEPLOY_KEY}:%%%not-base64-json`);
    expect(res.status).toBe(400);
    expect((res.json as { code: string }).code).toBe('HeaderParseFailure');
  });

  it('treats a missing key as anonymous: 403 BadDeployKey', async () => {
    const res = await snapshot();
    expect(res.status).toBe(403);
    expect((res.json as { code: string }).code).toBe('BadDeployKey');
  });

  it('treats a bearer token as a user without admin rights: 403 BadDeployKey', async () => {
    const res = await snapshot('Bearer eyJhbGciOi.payload.sig');
    expect(res.status).toBe(403);
    expect((res.json as { code: string }).code).toBe('BadDeployKey');
  });

  it('accepts the Convex scheme case-insensitively', async () => {
    expect((await snapshot(`CONVEX ${DEPLOY_KEY}`)).status).toBe(200);
    expect((await snapshot(`convex ${DEPLOY_KEY}`)).status).toBe(200);
  });

  it('falls back to the adminKey query parameter when no header is sent', async () => {
    const res = await f.raw(`/api/list_snapshot?adminKey=${encodeURIComponent(DEPLOY_KEY)}`);
    expect(res.status).toBe(200);
  });

  it('lets a read-only key export but not import', async () => {
    const headers = { authorization: `Convex ${READ_ONLY_KEY}` };
    expect((await f.raw('/api/list_snapshot', { headers })).status).toBe(200);
    const res = await f.raw('/api/streaming_import/clear_tables', {
      method: 'PUT',
      headers,
      body: { tableNames: ['x'] },
    });
    expect(res.status).toBe(403);
    expect((res.json as { code: string }).code).toBe('OperationNotPermitted');
  });

  it('checks the plan before the permission, so even anonymous callers see StreamingExportNotEnabled', async () => {
    f.sim.knobs.streamingExportEnabled = false;
    for (const authorization of [undefined, `Convex ${DEPLOY_KEY}`]) {
      const res = await snapshot(authorization);
      expect(res.status).toBe(403);
      expect((res.json as { code: string }).code).toBe('StreamingExportNotEnabled');
    }
  });

  it('parses the import body before the permission: no key + malformed body is 400, + valid body is 403', async () => {
    const path = '/api/streaming_import/clear_tables';
    const malformed = await f.raw(path, {
      method: 'PUT',
      body: '{not json',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect((malformed.json as { code: string }).code).toBe('BadJsonBody');
    const valid = await f.raw(path, { method: 'PUT', body: { tableNames: [] } });
    expect(valid.status).toBe(403);
    expect((valid.json as { code: string }).code).toBe('BadDeployKey');
  });

  it('checks a bad key before the import body: 401 even when the body is malformed', async () => {
    const res = await f.raw('/api/streaming_import/clear_tables', {
      method: 'PUT',
      body: '{not json',
      headers: { authorization: 'Convex wrong', 'content-type': 'application/json' },
    });
    expect(res.status).toBe(401);
  });

  it('rejects a Convex-Client header without a version on every route', async () => {
    for (const path of ['/version', '/api/list_snapshot']) {
      const res = await f.call(path, { headers: { 'convex-client': 'foo' } });
      expect(res.status).toBe(400);
      expect((res.json as { code: string }).code).toBe('InvalidClientVersion');
    }
    expect(
      (
        await f.call('/api/list_snapshot', {
          headers: { 'convex-client': 'convex-stream-bridge-0.1.0' },
        })
      ).status,
    ).toBe(200);
  });
});
