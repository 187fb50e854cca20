import type { IncomingHttpHeaders } from 'node:http';
import { isLosslessNumber, parse as parseLosslessJson } from 'lossless-json';
import type { KeyConfig } from './auth.js';
import type { Deployment } from './deployment.js';
import type { FaultAction } from './faults.js';
import { SimError, untaggedError } from './sim-error.js';

export interface RouteContext {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly bodyTooLarge: boolean;
  readonly deployment: Deployment;
  readonly keys: KeyConfig;
  readonly fault: FaultAction | undefined;
}

export interface RouteResponse {
  readonly status: number;
  readonly body?: string;
  readonly contentType?: string;
}

export type RouteHandler = (ctx: RouteContext) => RouteResponse;

export const json = (body: string, status = 200): RouteResponse => ({
  status,
  body,
  contentType: 'application/json',
});

/** Import routes answer success with 200 and no body at all. */
export const empty = (): RouteResponse => ({ status: 200 });

const badJson = (message: string) => new SimError(400, 'BadJsonBody', message);

/**
 * axum's Json extractor: content type first, then the size limit (a 400, not 413), then syntax.
 * With `lossless`, numbers stay exact text so int64 cursors are not rounded.
 */
export function readJsonBody(ctx: RouteContext, options: { lossless?: boolean } = {}): unknown {
  const type = (ctx.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (
    !(type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json')))
  ) {
    throw badJson('Expected request with `Content-Type: application/json`');
  }
  if (ctx.bodyTooLarge) throw badJson('Failed to buffer the request body: length limit exceeded');
  const text = ctx.body.toString('utf8');
  try {
    return options.lossless ? parseLosslessJson(text) : JSON.parse(text);
  } catch (error) {
    throw badJson(`Failed to parse the request body as JSON: ${(error as Error).message}`);
  }
}

export function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badJson(
      `Failed to deserialize the JSON body into the target type: ${what}: invalid type, expected a map`,
    );
  }
  return value as Record<string, unknown>;
}

export function missingField(field: string): SimError {
  return badJson(
    `Failed to deserialize the JSON body into the target type: missing field \`${field}\``,
  );
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * An optional int64 argument from a query string or a lossless JSON body. Negative values are
 * accepted by the parser and then fail unsigned conversion without metadata: a 500, as in Convex.
 */
export function int64Arg(raw: unknown, name: string, fromQuery: boolean): bigint | undefined {
  if (raw === undefined || raw === null) return undefined;
  let text: string;
  if (fromQuery && typeof raw === 'string') text = raw;
  else if (!fromQuery && isLosslessNumber(raw)) text = raw.value;
  else
    throw badJson(
      `Failed to deserialize the JSON body into the target type: ${name}: invalid type, expected i64`,
    );
  if (!/^-?[0-9]+$/.test(text) || BigInt(text) < INT64_MIN || BigInt(text) > INT64_MAX) {
    if (fromQuery)
      throw new SimError(
        400,
        'BadQueryArgs',
        `Failed to deserialize query string: ${name}: invalid digit found in string`,
      );
    throw badJson(
      `Failed to deserialize the JSON body into the target type: ${name}: invalid type, expected i64`,
    );
  }
  const value = BigInt(text);
  if (value < 0n) throw untaggedError();
  return value;
}

/** Arguments from the query string (GET) or the JSON body (POST), as one record. */
export function exportArgs(ctx: RouteContext): Record<string, unknown> {
  if (ctx.method === 'GET') return Object.fromEntries(ctx.query.entries());
  return requireObject(readJsonBody(ctx, { lossless: true }), '(root)');
}
