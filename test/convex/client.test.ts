import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConvexClient } from '../../shared/convex/client.js';
import {
  FatalConvexError,
  MalformedResponseError,
  ResyncRequiredError,
  RetryableConvexError,
} from '../../shared/convex/errors.js';
import { nodeHttpTransport, type TransportRequest } from '../../shared/convex/http-transport.js';
import { deltaCursorAfterSnapshot, toDeltaCursor } from '../../shared/values/int64.js';
import { stringifyLossless } from '../../shared/values/lossless-json.js';
import { CONVEX_CLIENT_HEADER } from '../../shared/version.js';
import { countRequests, DEPLOY_KEY, useSimulator } from '../helpers/simulator.js';

const le64 = (x: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(x);
  return b.toString('base64');
};

describe('ConvexClient against the simulator', () => {
  const f = useSimulator();
  const sent: TransportRequest[] = [];
  const recording = (request: TransportRequest) => {
    sent.push(request);
    return nodeHttpTransport(request);
  };

  it('keeps _ts, snapshot and cursor exact through parse, storage and the next request', async () => {
    const { ts } = f.write([{ op: 'insert', table: 'exact', doc: { n: 1 } }]);
    expect(BigInt(Number(ts))).not.toBe(ts); // a float64 would have rounded this timestamp
    const client = f.client({ transport: recording });
    const page = await client.listSnapshot({ selection: { tableName: 'exact' } });
    expect(page.values.map((d) => d.ts)).toEqual([ts.toString()]);
    expect(page.snapshot).toMatch(/^\d{19}$/);
    // Stored as text (as DynamoDB will hold it) and read back.
    const stored = JSON.parse(JSON.stringify({ snapshot: page.snapshot })) as { snapshot: string };
    sent.length = 0;
    const cursor = deltaCursorAfterSnapshot(page.snapshot);
    await client.documentDeltas({ cursor, selection: { tableName: 'exact' } });
    expect(sent[0]?.body).toContain(`"cursor":${stored.snapshot}`);
    // Exclusive at nanosecond precision: one less includes the write, equal excludes it.
    const before = await client.documentDeltas({
      cursor: toDeltaCursor((ts - 1n).toString()),
      selection: { tableName: 'exact' },
    });
    expect(before.values.map((d) => d.ts)).toEqual([ts.toString()]);
    const at = await client.documentDeltas({
      cursor: toDeltaCursor(ts.toString()),
      selection: { tableName: 'exact' },
    });
    expect(at.values).toEqual([]);
    expect(BigInt(at.cursor)).toBeGreaterThanOrEqual(ts);
  });

  it('keeps the exact text of numbers inside documents and lifts metadata out', async () => {
    f.write([
      {
        op: 'insert',
        table: 'numbers',
        doc: { one: 1, huge: 1e21, tenth: 0.1, big: { $integer: le64(9007199254740993n) } },
      },
    ]);
    const page = await f.client().listSnapshot({ selection: { tableName: 'numbers' } });
    const doc = page.values[0];
    expect(doc).toMatchObject({ table: 'numbers', component: '', deleted: false });
    const text = stringifyLossless(doc?.doc);
    expect(text).toContain('"one":1.0');
    expect(text).toContain('"huge":1e21');
    expect(text).toContain('"tenth":0.1');
    expect(text).toContain('"big":"9007199254740993"');
    expect(Object.keys(doc?.doc ?? {})).not.toContain('_ts');
    expect(Object.keys(doc?.doc ?? {})).not.toContain('_table');
  });

  it('reports deletions with deleted true and only _id in doc', async () => {
    const { ids, ts } = f.write([{ op: 'insert', table: 'gone', doc: { x: 1 } }]);
    f.write([{ op: 'delete', id: ids[0] as string }]);
    const page = await f
      .client()
      .documentDeltas({ cursor: toDeltaCursor(ts.toString()), selection: { tableName: 'gone' } });
    expect(page.values).toEqual([
      {
        component: '',
        table: 'gone',
        id: ids[0],
        ts: expect.any(String),
        deleted: true,
        doc: { _id: ids[0] },
      },
    ]);
  });

  it('sends Authorization: Convex <key> and its Convex-Client version', async () => {
    sent.length = 0;
    await f.client({ transport: recording }).testStreamingExportConnection();
    expect(sent[0]?.headers).toMatchObject({
      authorization: `Convex ${DEPLOY_KEY}`,
      'convex-client': CONVEX_CLIENT_HEADER,
    });
    expect(CONVEX_CLIENT_HEADER).toMatch(/^convex-stream-bridge-\d+\.\d+\.\d+$/);
  });

  it.each([408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524])(
    'retries a %i and then succeeds',
    async (status) => {
      f.sim.faults.configure({
        script: [
          {
            path: 'list_snapshot',
            action: { kind: 'status', status, code: 'X', message: 'injected' },
          },
        ],
      });
      const retries: number[] = [];
      const page = await f
        .client({ onRetry: ({ error }) => retries.push(error.status ?? 0) })
        .listSnapshot();
      expect(page.hasMore).toBeTypeOf('boolean');
      expect(retries).toEqual([status]);
      expect(countRequests(f.sim, '/api/list_snapshot')).toBe(2);
    },
  );

  it.each([
    ['a connection reset', { kind: 'reset' as const }],
    ['a truncated body', { kind: 'truncate' as const }],
    ['a hung request (timeout)', { kind: 'hang' as const }],
  ])('retries %s and then succeeds', async (_, action) => {
    f.sim.faults.configure({ script: [{ path: 'document_deltas', action }] });
    const errors: string[] = [];
    const client = f.client({ timeoutMs: 300, onRetry: ({ error }) => errors.push(error.message) });
    const page = await client.documentDeltas({
      cursor: toDeltaCursor(f.sim.deployment.now().toString()),
    });
    expect(page.hasMore).toBe(false);
    expect(errors).toHaveLength(1);
    expect(countRequests(f.sim, '/api/document_deltas')).toBe(2);
  });

  it('gives up after maxAttempts on a persistent 503', async () => {
    f.sim.faults.configure({
      script: [
        { action: { kind: 'status', status: 503, code: 'Overloaded', message: 'busy' }, times: 10 },
      ],
    });
    const error = await f
      .client()
      .listSnapshot()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableConvexError);
    expect(error).toMatchObject({
      status: 503,
      code: 'Overloaded',
      serverMessage: 'busy',
      endpoint: '/api/list_snapshot',
    });
    expect(countRequests(f.sim, '/api/list_snapshot')).toBe(4);
  });

  it.each([
    ['400 BadJsonBody', 400, 'BadJsonBody'],
    ['403 StreamingExportNotEnabled', 403, 'StreamingExportNotEnabled'],
    ['404 without a body', 404, undefined],
    ['401 BadAdminKey', 401, 'BadAdminKey'],
  ])('does not retry %s', async (_, status, code) => {
    f.sim.faults.configure({
      script: [
        {
          action: code
            ? { kind: 'status', status, code, message: 'm' }
            : { kind: 'status', status },
        },
      ],
    });
    const error = await f
      .client()
      .listSnapshot()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FatalConvexError);
    expect(error).toMatchObject({ status, code });
    expect(countRequests(f.sim, '/api/list_snapshot')).toBe(1);
  });

  it('classifies a real wrong key as fatal with the server code kept', async () => {
    const error = await f
      .client({ deployKey: 'prod:wrong|key' })
      .listSnapshot()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FatalConvexError);
    expect(error).toMatchObject({
      status: 401,
      code: 'BadAdminKey',
      serverMessage: 'The provided admin key was invalid for this instance',
    });
  });

  it('classifies an expired delta cursor as resync-needed, without retrying', async () => {
    const cursor = toDeltaCursor(f.sim.deployment.now().toString());
    f.sim.knobs.retentionSeconds = 1;
    f.sim.deployment.advanceClock(2_000);
    const error = await f
      .client()
      .documentDeltas({ cursor })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResyncRequiredError);
    expect(error).toMatchObject({ code: 'InvalidWindowToReadDocuments', failure: 'resync' });
    expect(countRequests(f.sim, '/api/document_deltas')).toBe(1);
  });

  it('classifies SnapshotTooOld and 409 as resync-needed', async () => {
    const first = await f.client().listSnapshot();
    f.sim.deployment.advanceClock(6 * 24 * 3600 * 1000);
    await expect(f.client().listSnapshot({ snapshot: first.snapshot })).rejects.toBeInstanceOf(
      ResyncRequiredError,
    );
    f.sim.faults.configure({ script: [{ action: { kind: 'status', status: 409 } }] });
    await expect(f.client().listSnapshot()).rejects.toMatchObject({
      failure: 'resync',
      status: 409,
    });
  });

  it('times out a hung request with an error that says so', async () => {
    f.sim.faults.configure({ script: [{ action: { kind: 'hang' } }] });
    const t0 = Date.now();
    const error = await f
      .client({ timeoutMs: 150, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } })
      .listSnapshot()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableConvexError);
    expect((error as Error).message).toBe(
      'Convex /api/list_snapshot timed out after 150 ms (BRIDGE_CONVEX_TIMEOUT_MS)',
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('stops at once, without retrying, when the caller aborts', async () => {
    f.sim.faults.configure({ script: [{ action: { kind: 'hang' }, times: 5 }] });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('budget spent')), 50);
    const error = await f
      .client({ timeoutMs: 10_000 })
      .listSnapshot({}, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(RetryableConvexError);
    expect(countRequests(f.sim, '/api/list_snapshot')).toBe(1);
  });

  it('works the import endpoints, including the GET with a body', async () => {
    const client = f.client();
    await client.addPrimaryKeyIndexes({ people: [['email']] });
    expect(await client.primaryKeyIndexesReady(['people'])).toBe(false);
    expect(await client.primaryKeyIndexesReady(['people'])).toBe(true);
    await client.importAirbyteRecords({
      tables: { people: { primaryKey: [['email']], jsonSchema: {} } },
      messages: [
        { tableName: 'people', data: { email: 'a@x', name: 'A' } },
        { tableName: 'people', data: { email: 'a@x', name: 'B' } },
      ],
    });
    expect(f.sim.deployment.documents('people')).toEqual([
      expect.objectContaining({ email: 'a@x', name: 'B' }),
    ]);
    await client.clearTables(['people']);
    expect(f.sim.deployment.documents('people')).toEqual([]);
    const schemas = await client.jsonSchemas({ deltaSchema: true });
    expect(schemas.people).toMatchObject({ type: 'object' });
  });

  it('surfaces an import rejection with the server code and message', async () => {
    const error = await f
      .client()
      .importAirbyteRecords({ tables: {}, messages: [{ tableName: 'nope', data: {} }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FatalConvexError);
    expect(error).toMatchObject({
      status: 400,
      code: 'MissingStream',
      serverMessage: 'Missing stream for table nope',
    });
  });
});

describe('ConvexClient keeps secrets out of errors', () => {
  const f = useSimulator();
  const KEY = DEPLOY_KEY;

  const leaks = (error: unknown, host: string) => {
    const e = error as Error & Record<string, unknown>;
    const text = [
      String(e),
      e.message,
      e.stack ?? '',
      JSON.stringify(e),
      JSON.stringify(Object.entries(e)),
      String(e.cause ?? ''),
    ].join('\n');
    return [KEY, host, 'sim-deployment|'].filter((secret) => text.includes(secret));
  };

  it('redacts the key and host even when the server echoes them', async () => {
    const host = new URL(f.sim.url).host;
    f.sim.faults.configure({
      script: [
        {
          action: {
            kind: 'status',
            status: 400,
            code: 'Echo',
            message: `bad key ${KEY} for ${host}`,
          },
        },
      ],
    });
    const error = await f
      .client()
      .listSnapshot()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FatalConvexError);
    expect((error as FatalConvexError).serverMessage).toContain('[redacted]');
    expect(leaks(error, host)).toEqual([]);
  });

  it.each(['reset', 'hang'] as const)('keeps them out of %s errors', async (kind) => {
    const host = new URL(f.sim.url).host;
    f.sim.faults.configure({ script: [{ action: { kind }, times: 5 }] });
    const error = await f
      .client({ timeoutMs: 100, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } })
      .listSnapshot()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableConvexError);
    expect(leaks(error, host)).toEqual([]);
  });

  it('keeps them out of connection-refused errors', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const client = new ConvexClient({
      url: `http://127.0.0.1:${port}`,
      deployKey: KEY,
      allowInsecureLoopback: true,
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const error = await client.listSnapshot().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableConvexError);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect(leaks(error, `127.0.0.1:${port}`)).toEqual([]);
  });
});

describe('ConvexClient rejects malformed responses', () => {
  let server: http.Server;
  let body = '';
  let url = '';
  beforeAll(async () => {
    server = http.createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  const client = () =>
    new ConvexClient({
      url,
      deployKey: 'k',
      allowInsecureLoopback: true,
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });

  it.each([
    [
      'values is not an array',
      '{"values":1,"snapshot":1,"cursor":null,"hasMore":false}',
      /at values: /,
    ],
    [
      'snapshot is a float',
      '{"values":[],"snapshot":1.5,"cursor":null,"hasMore":false}',
      /at snapshot: /,
    ],
    ['hasMore is missing', '{"values":[],"snapshot":1,"cursor":null}', /at hasMore: /],
    [
      'a row lacks _ts',
      '{"values":[{"_table":"t","_component":"","_id":"x"}],"snapshot":1,"cursor":null,"hasMore":false}',
      /values\[0\]: _ts is missing/,
    ],
    [
      'a snapshot row has _deleted',
      '{"values":[{"_table":"t","_ts":1,"_id":"x","_deleted":false}],"snapshot":1,"cursor":null,"hasMore":false}',
      /values\[0\]: _deleted must not appear/,
    ],
    ['the body is not JSON', '<html>', /not JSON/],
  ])('fails loudly when %s', async (_, text, message) => {
    body = text;
    const error = await client()
      .listSnapshot()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedResponseError);
    expect((error as Error).message).toMatch(message);
  });
});
