import {
  keepAliveAgents,
  sendRequest,
  type TransportRequest,
  TruncatedBodyError,
  truncation,
} from './http-transport.js';

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

/** Its own small pool: a few 64 MiB pages at a time, never crowding out the other calls. */
const agents = keepAliveAgents(4);

/**
 * node:http with the body handed on as it arrives instead of gathered: a Data Sync page can be
 * 64 MiB (docs/convex-api.md §5) and the exporter's 512 MB must hold its parsed values, not also
 * its bytes and text. A body cut short is a TruncatedBodyError, as in http-transport.ts.
 */
export const nodeStreamingTransport: StreamingTransport = (request, sink) =>
  new Promise((resolve, reject) => {
    const req = sendRequest(
      request,
      agents,
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
          const short = truncation(res, received);
          if (short) {
            reject(short);
            return;
          }
          resolve({ status, body: Buffer.concat(errorChunks).toString('utf8') });
        });
      },
      reject,
    );
  });
