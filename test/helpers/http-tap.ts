import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Deferred, deferred } from './sync.js';

export interface TappedRequest {
  readonly method: string;
  readonly path: string;
}

export interface HttpTap {
  /** Point the client here instead of at the target. */
  readonly url: string;
  /** Every request received so far, in arrival order. */
  readonly requests: readonly TappedRequest[];
  /** Resolves with the first request that arrives (at once if one already has). */
  firstRequest(): Promise<TappedRequest>;
  close(): Promise<void>;
}

/**
 * A pass-through HTTP proxy on 127.0.0.1 in front of `target`, so a test can react to the moment
 * a client (e.g. a child process) makes a request instead of polling for its effects. Each
 * request is forwarded unchanged and its answer streamed back unchanged.
 */
export async function startHttpTap(target: string): Promise<HttpTap> {
  const requests: TappedRequest[] = [];
  const first: Deferred<TappedRequest> = deferred();
  const server = http.createServer((req, res) => {
    const seen = {
      method: req.method ?? 'GET',
      path: new URL(req.url ?? '/', 'http://tap').pathname,
    };
    requests.push(seen);
    first.resolve(seen);
    const upstream = http.request(
      new URL(req.url ?? '/', target),
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    // A client that goes away (a killed process) takes its upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    firstRequest: () => first.promise,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
