import http from 'node:http';
import https from 'node:https';
import { type TransportRequest, TruncatedBodyError } from './http-transport.js';

/** The body of a 2xx answer goes to `sink` chunk by chunk; other answers come back as text. */
export type StreamingTransport = (
  request: TransportRequest,
  sink: (chunk: Buffer) => void,
) => Promise<{ readonly status: number; readonly body: string }>;

/** The sink refused the body (it is not the JSON expected): not a network failure, not retried. */
export class BodyRejectedError extends Error {
  constructor(cause: unknown) {
    super(`response body rejected: ${(cause as Error).message}`, { cause });
    this.name = 'BodyRejectedError';
  }
}

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 4 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 4 }),
};

/**
 * node:http with the body handed on as it arrives instead of gathered: a Data Sync page can be
 * 64 MiB (docs/convex-api.md §5) and the exporter's 512 MB must hold its parsed values, not also
 * its bytes and text. A body cut short is a TruncatedBodyError, as in http-transport.ts.
 */
export const nodeStreamingTransport: StreamingTransport = (request, sink) =>
  new Promise((resolve, reject) => {
    const { url } = request;
    const isHttps = url.protocol === 'https:';
    const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
    const headers: Record<string, string> = { ...request.headers };
    if (body) headers['content-length'] = String(body.length);
    const req = (isHttps ? https : http).request(
      url,
      {
        method: request.method,
        headers,
        agent: isHttps ? agents['https:'] : agents['http:'],
        signal: request.signal,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        const errorChunks: Buffer[] = [];
        let received = 0;
        let failed = false;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (failed) return;
          if (!ok) {
            errorChunks.push(chunk);
            return;
          }
          try {
            sink(chunk);
          } catch (error) {
            failed = true;
            req.destroy();
            reject(new BodyRejectedError(error));
          }
        });
        res.on('error', (error) => {
          if (!failed) reject(error);
        });
        res.on('aborted', () => reject(new TruncatedBodyError(received, -1)));
        res.on('end', () => {
          if (failed) return;
          const expected = Number(res.headers['content-length'] ?? Number.NaN);
          if (!res.complete || (Number.isFinite(expected) && received < expected)) {
            reject(new TruncatedBodyError(received, Number.isFinite(expected) ? expected : -1));
            return;
          }
          resolve({ status, body: Buffer.concat(errorChunks).toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
