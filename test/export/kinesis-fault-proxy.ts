import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does to one PutRecords call. */
export type PutRecordsFault =
  /** Kinesis writes some entries and refuses the others (throttled), answering 200. */
  | { readonly kind: 'partial'; readonly failEach: number }
  /** The call is written, then the client gets a 500: outcome unknown to it. */
  | { readonly kind: 'landed-500' }
  /** The call is written, then the connection dies (a timeout or reset): outcome unknown. */
  | { readonly kind: 'landed-reset'; readonly afterMs: number }
  /** Nothing is written; the client gets a 500. */
  | { readonly kind: 'refused-500' };

/** What a PutRecords call carries, for a test to decide what to do with it. */
export interface PutRecordsCall {
  readonly records: number;
  /** The eventIds of the control events' copies in it (partition key `_control`), in order. */
  readonly controls: readonly string[];
}

/**
 * What a test may do with a call as it arrives: `drop` it (nothing is written and the
 * connection dies, as when the process dies before sending), or apply a fault instead of the
 * one `choose` would pick. A promise holds the call until it settles (e.g. to reshard meanwhile).
 */
export type ArrivalDecision = 'drop' | PutRecordsFault | undefined;

export interface KinesisFaultProxy {
  readonly url: string;
  /** PutRecords calls seen and faults injected, by kind. */
  readonly stats: Record<string, number>;
  /** Called as a PutRecords call arrives (before) and after its records were written. */
  onPutRecords:
    | ((
        phase: 'arrived' | 'landed',
        call: PutRecordsCall,
      ) => ArrivalDecision | Promise<ArrivalDecision>)
    | undefined;
  close(): Promise<void>;
}

const CONTROL_PARTITION_KEY = '_control';

function describeCall(body: Buffer): PutRecordsCall {
  try {
    const input = JSON.parse(body.toString('utf8')) as {
      Records?: { PartitionKey?: string; Data?: string }[];
    };
    const records = input.Records ?? [];
    const controls = records
      .filter((r) => r.PartitionKey === CONTROL_PARTITION_KEY)
      .map(
        (r) =>
          (JSON.parse(Buffer.from(r.Data ?? '', 'base64').toString('utf8')) as { eventId: string })
            .eventId,
      );
    return { records: records.length, controls };
  } catch {
    return { records: 0, controls: [] };
  }
}

/**
 * An HTTP proxy in front of kinesalite for child processes (whose SDK clients cannot be reached
 * from the test): PutRecords calls get partial failures, 500s and dropped connections chosen by
 * `choose`, the way Kinesis does them; everything else passes through unchanged.
 */
export async function startKinesisFaultProxy(
  target: string,
  choose: (call: PutRecordsCall) => PutRecordsFault | undefined,
  random: () => number,
): Promise<KinesisFaultProxy> {
  const stats: Record<string, number> = {};
  const bump = (k: string) => {
    stats[k] = (stats[k] ?? 0) + 1;
  };
  const forward = (
    req: http.IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, 'content-length': String(body.length) };
      const up = http.request(
        new URL(req.url ?? '/', target),
        { method: req.method, headers },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () =>
            resolve({
              status: answer.statusCode ?? 502,
              headers: answer.headers,
              body: Buffer.concat(chunks),
            }),
          );
          answer.on('error', reject);
        },
      );
      up.on('error', reject);
      up.end(body);
    });
  const proxy: KinesisFaultProxy = {
    url: '',
    stats,
    onPutRecords: undefined,
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const target = String(req.headers['x-amz-target'] ?? '');
        const reply = (status: number, headers: http.IncomingHttpHeaders, out: Buffer) => {
          const { 'content-length': _l, 'transfer-encoding': _t, ...rest } = headers;
          res.writeHead(status, { ...rest, 'content-length': String(out.length) });
          res.end(out);
        };
        if (!target.endsWith('.PutRecords')) {
          const out = await forward(req, body);
          return reply(out.status, out.headers, out.body);
        }
        bump('calls');
        const call = describeCall(body);
        if (call.controls.length > 0) bump('control-calls');
        const decision = await proxy.onPutRecords?.('arrived', call);
        if (decision === 'drop') {
          bump('dropped');
          req.socket.destroy();
          return;
        }
        const fault = decision ?? choose(call);
        const json = { 'content-type': 'application/x-amz-json-1.1' };
        const internal = Buffer.from(
          JSON.stringify({ __type: 'InternalFailure', message: 'injected' }),
        );
        if (fault?.kind === 'refused-500') {
          bump(fault.kind);
          return reply(500, json, internal);
        }
        if (fault?.kind === 'partial') {
          const input = JSON.parse(body.toString('utf8')) as { Records: unknown[] };
          const fail = input.Records.map(() => random() < fault.failEach);
          const kept = input.Records.filter((_, i) => !fail[i]);
          let results: unknown[] = [];
          let failedCount = 0;
          if (kept.length > 0) {
            const out = await forward(
              req,
              Buffer.from(JSON.stringify({ ...input, Records: kept })),
            );
            if (out.status !== 200) return reply(out.status, out.headers, out.body);
            const parsed = JSON.parse(out.body.toString('utf8')) as {
              Records: unknown[];
              FailedRecordCount?: number;
            };
            results = parsed.Records;
            failedCount = parsed.FailedRecordCount ?? 0;
          }
          void proxy.onPutRecords?.('landed', call);
          bump(fault.kind);
          let k = 0;
          const merged = fail.map((f) =>
            f
              ? {
                  ErrorCode: 'ProvisionedThroughputExceededException',
                  ErrorMessage: 'Rate exceeded for shard (injected)',
                }
              : results[k++],
          );
          const failed = failedCount + fail.filter(Boolean).length;
          return reply(
            200,
            json,
            Buffer.from(JSON.stringify({ FailedRecordCount: failed, Records: merged })),
          );
        }
        const out = await forward(req, body);
        void proxy.onPutRecords?.('landed', call);
        if (fault?.kind === 'landed-500') {
          bump(fault.kind);
          return reply(500, json, internal);
        }
        if (fault?.kind === 'landed-reset') {
          bump(fault.kind);
          await new Promise((r) => setTimeout(r, fault.afterMs));
          req.socket.destroy();
          return;
        }
        reply(out.status, out.headers, out.body);
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}
