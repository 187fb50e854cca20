import { stringifyLossless } from '../values/lossless-json.js';
import type { ValidMessage } from './import-message.js';

export interface RequestLimits {
  /** Well under Convex's 20 MiB `import_airbyte_records` body limit (a 400 BadJsonBody above it). */
  readonly maxBytes: number;
  readonly maxMessages: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxBytes: 8 * 1024 * 1024,
  maxMessages: 10_000,
};

export interface PlannedRequest<T> {
  readonly body: string;
  readonly items: readonly T[];
}

function streamEntry(message: ValidMessage): string {
  const primaryKey = message.primaryKey ? JSON.stringify(message.primaryKey) : 'null';
  return `${JSON.stringify(message.table)}:{"primaryKey":${primaryKey},"jsonSchema":{}}`;
}

function keyFields(message: ValidMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of message.primaryKey ?? []) {
    let src: unknown = message.data;
    let dst = out;
    path.forEach((segment, i) => {
      src = (src as Record<string, unknown>)[segment];
      if (i === path.length - 1) dst[segment] = src;
      else {
        const next = (dst[segment] as Record<string, unknown> | undefined) ?? {};
        dst[segment] = next;
        dst = next;
      }
    });
  }
  return out;
}

/**
 * Convex deletes only through the CDC flag, and *inserts* a row when the key is unknown. So a
 * delete is sent as a key-only upsert followed by the flagged delete: the row is gone afterwards
 * whether or not it existed, and a redelivered delete is harmless.
 */
function recordEntry(message: ValidMessage): string {
  const table = JSON.stringify(message.table);
  if (message.op !== 'delete')
    return `{"tableName":${table},"data":${stringifyLossless(message.data)}}`;
  const key = stringifyLossless(keyFields(message));
  const flagged = `${key.slice(0, -1)}${key.length > 2 ? ',' : ''}"_ab_cdc_deleted_at":"deleted"}`;
  return `{"tableName":${table},"data":${key}},{"tableName":${table},"data":${flagged}}`;
}

/**
 * Packs messages, in order, into as few `import_airbyte_records` bodies as the limits allow.
 * Sizes are counted in bytes of the exact body sent, not estimated.
 */
export function planRequests<T extends { readonly message: ValidMessage }>(
  items: readonly T[],
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
): PlannedRequest<T>[] {
  const out: PlannedRequest<T>[] = [];
  let records: string[] = [];
  let streams = new Map<string, string>();
  let batch: T[] = [];
  let bytes = 0;
  const overhead = Buffer.byteLength('{"tables":{},"messages":[]}');
  const flush = () => {
    if (batch.length === 0) return;
    out.push({
      body: `{"tables":{${[...streams.values()].join(',')}},"messages":[${records.join(',')}]}`,
      items: batch,
    });
    records = [];
    streams = new Map();
    batch = [];
    bytes = 0;
  };
  for (const item of items) {
    const record = recordEntry(item.message);
    const stream = streams.has(item.message.table) ? undefined : streamEntry(item.message);
    const added = Buffer.byteLength(record) + 1 + (stream ? Buffer.byteLength(stream) + 1 : 0);
    if (
      batch.length > 0 &&
      (batch.length >= limits.maxMessages || overhead + bytes + added > limits.maxBytes)
    )
      flush();
    if (!streams.has(item.message.table))
      streams.set(item.message.table, streamEntry(item.message));
    records.push(record);
    batch.push(item);
    bytes += Buffer.byteLength(record) + 1 + (stream ? Buffer.byteLength(stream) + 1 : 0);
  }
  flush();
  return out;
}
