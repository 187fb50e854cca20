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

/** Keep-alive connection pools, one per protocol. */
export interface Agents {
  readonly 'http:': http.Agent;
  readonly 'https:': https.Agent;
}

export const keepAliveAgents = (maxSockets: number): Agents => ({
  'http:': new http.Agent({ keepAlive: true, maxSockets }),
  'https:': new https.Agent({ keepAlive: true, maxSockets }),
});

/**
 * Sends `request` on the pool for its protocol (with Content-Length for a body); `onResponse`
 * reads the answer, `onError` hears a failure of the request itself. Returns the request.
 */
export function sendRequest(
  request: TransportRequest,
  agents: Agents,
  onResponse: (res: http.IncomingMessage) => void,
  onError: (error: Error) => void,
): http.ClientRequest {
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
    onResponse,
  );
  req.on('error', onError);
  req.end(body);
  return req;
}

/** The answer ended short of its Content-Length (or of the connection's end): undefined if whole. */
export function truncation(
  res: http.IncomingMessage,
  received: number,
): TruncatedBodyError | undefined {
  const expected = Number(res.headers['content-length'] ?? Number.NaN);
  return !res.complete || (Number.isFinite(expected) && received < expected)
    ? new TruncatedBodyError(received, Number.isFinite(expected) ? expected : -1)
    : undefined;
}

const agents = keepAliveAgents(16);

/**
 * node:http rather than `fetch`: Convex's `primary_key_indexes_ready` is a GET with a JSON body,
 * which undici's fetch refuses, and we want to see a short body as an error, not as bad JSON.
 */
export const nodeHttpTransport: Transport = (request) =>
  new Promise<TransportResponse>((resolve, reject) => {
    sendRequest(
      request,
      agents,
      (res) => {
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          received += chunk.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          const short = truncation(res, received);
          if (short) {
            reject(short);
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
      reject,
    );
  });
