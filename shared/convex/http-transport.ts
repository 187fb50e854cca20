import http from 'node:http';
import https from 'node:https';

export interface TransportRequest {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal: AbortSignal;
}

export interface TransportResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

/** The seam between the Convex client and the network; tests may substitute their own. */
export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

/** Raised when the connection ends before the whole body (per Content-Length) arrived. */
export class TruncatedBodyError extends Error {
  constructor(received: number, expected: number) {
    super(`response body truncated: received ${received} of ${expected} bytes`);
    this.name = 'TruncatedBodyError';
  }
}

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 16 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 16 }),
};

/**
 * node:http rather than `fetch`: Convex's `primary_key_indexes_ready` is a GET with a JSON body,
 * which undici's fetch refuses, and we want to see a short body as an error, not as bad JSON.
 */
export const nodeHttpTransport: Transport = (request) =>
  new Promise<TransportResponse>((resolve, reject) => {
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
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          received += chunk.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          const expected = Number(res.headers['content-length'] ?? Number.NaN);
          if (!res.complete || (Number.isFinite(expected) && received < expected)) {
            reject(new TruncatedBodyError(received, Number.isFinite(expected) ? expected : -1));
            return;
          }
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('aborted', () => reject(new TruncatedBodyError(received, -1)));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
