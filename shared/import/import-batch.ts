import { METRICS } from '../names.js';
import {
  type ImportTarget,
  RecordsRejectedError,
  type RefusalKind,
  TargetRefusedError,
} from '../ports/import-target.js';
import type { InboundMessage } from '../ports/message-queue.js';
import type { LogSink, MetricsSink } from '../ports/observability.js';
import type { Quarantine, QuarantineItem } from '../ports/quarantine.js';
import { stringifyLossless } from '../values/lossless-json.js';
import {
  type ImportSettings,
  primaryKeyValues,
  type Rejection,
  type ValidMessage,
  validateMessage,
} from './import-message.js';
import { type PlannedRequest, planRequests, type RequestLimits } from './plan-requests.js';
import type { PrimaryKeyIndexes } from './primary-key-indexes.js';

export type { InboundMessage } from '../ports/message-queue.js';

/** Prepares the primary-key indexes a keyed import needs (`PrimaryKeyIndexes`). */
export type IndexPreparer = Pick<PrimaryKeyIndexes, 'ensure'>;

export interface ImportDeps {
  readonly target: ImportTarget;
  readonly indexes: IndexPreparer;
  readonly quarantine: Quarantine;
  readonly metrics: MetricsSink;
  readonly log: LogSink;
}

export interface ImportOptions {
  readonly settings: ImportSettings;
  readonly limits: RequestLimits;
  readonly remainingMs: () => number;
  /** No new request starts when less than this remains. */
  readonly safetyMarginMs: number;
  readonly indexReadyTimeoutMs: number;
}

/** Why a batch stopped: the target refuses every request until a setting is fixed. */
export interface ImportHalt {
  readonly kind: RefusalKind;
  /** The target's name for the refusal, e.g. `BadAdminKey` or `HTTP 404`. */
  readonly code: string;
  /** What to fix, naming the setting, and what the target answered. */
  readonly message: string;
}

export interface ImportResult {
  /** Messages to hand back to the queue (transient failures): SQS redelivers exactly these. */
  readonly failedIds: readonly string[];
  readonly imported: number;
  readonly quarantined: number;
  readonly requests: number;
  /**
   * Set when the target refused a request whatever its content (a wrong key): no request was
   * sent after it, and every valid message not yet imported is in `failedIds`, to be backed off.
   */
  readonly halt?: ImportHalt;
}

interface Item {
  readonly inbound: InboundMessage;
  readonly message: ValidMessage;
}

/**
 * Imports one batch: invalid messages go to the DLQ at once with their reason; valid ones are sent
 * in as few requests as the limits allow; a request Convex rejects with 400 is bisected down to the
 * records it refuses, so the rest still import; transient failures are returned for redelivery.
 */
export async function importBatch(
  deps: ImportDeps,
  batch: readonly InboundMessage[],
  options: ImportOptions,
): Promise<ImportResult> {
  const failed = new Set<string>();
  /** FIFO groups and document keys with a failed message: their later messages must wait. */
  const blockedKeys = new Set<string>();
  const toQuarantine: QuarantineItem[] = [];
  const valid: Item[] = [];
  let imported = 0;
  let requests = 0;
  let halt: ImportHalt | undefined;
  const haltOn = (error: TargetRefusedError) => {
    halt ??= { kind: error.kind, code: error.code, message: error.message };
  };

  const fail = (items: readonly Item[]) => {
    for (const item of items) {
      failed.add(item.inbound.id);
      for (const key of orderKeys(item)) blockedKeys.add(key);
    }
  };
  const park = (inbound: InboundMessage, rejection: Rejection) => {
    toQuarantine.push({
      id: inbound.id,
      body: inbound.body,
      code: rejection.code,
      reason: rejection.message,
      ...(rejection.table !== undefined ? { table: rejection.table } : {}),
      ...(inbound.groupId !== undefined ? { groupId: inbound.groupId } : {}),
      ...(inbound.attributes !== undefined ? { attributes: inbound.attributes } : {}),
    });
  };

  for (const inbound of batch) {
    const result = validateMessage(inbound.body, options.settings);
    if ('rejection' in result) park(inbound, result.rejection);
    else valid.push({ inbound, message: result.message });
  }
  logRenames(deps.log, valid);

  const keyed = new Map<string, readonly (readonly string[])[]>();
  for (const { message } of valid)
    if (message.primaryKey) keyed.set(message.table, message.primaryKey);
  let sendable = valid;
  if (keyed.size > 0) {
    let waiting: ReadonlySet<string> = new Set();
    try {
      const waitMs = Math.min(
        options.indexReadyTimeoutMs,
        Math.max(0, options.remainingMs() - options.safetyMarginMs),
      );
      const backfilling = await deps.indexes.ensure(keyed, waitMs);
      if (backfilling.length > 0) {
        deps.log.error('primary key indexes are not ready; retrying those messages later', {
          tables: backfilling,
          error: `primary key index for ${backfilling.join(', ')} still backfilling after ${waitMs} ms`,
        });
      }
      waiting = new Set(backfilling);
    } catch (error) {
      if (error instanceof TargetRefusedError) {
        haltOn(error);
      } else {
        deps.log.error('could not prepare the primary key indexes; retrying those messages later', {
          error: String((error as Error).message),
        });
      }
      waiting = new Set(keyed.keys());
    }
    // A halt holds every valid message back; otherwise only the tables whose index is not ready.
    const held = (v: Item) => halt !== undefined || waiting.has(v.message.table);
    fail(valid.filter(held));
    sendable = valid.filter((v) => !held(v));
  }

  const send = async (request: PlannedRequest<Item>): Promise<void> => {
    if (halt) {
      fail(request.items);
      return;
    }
    requests++;
    deps.metrics.add(METRICS.importRequests, 1, 'Count');
    deps.metrics.add(METRICS.importBytes, Buffer.byteLength(request.body), 'Bytes');
    try {
      await deps.target.importRecords(request.body);
      imported += request.items.length;
    } catch (error) {
      if (error instanceof RecordsRejectedError) {
        if (request.items.length === 1) {
          const item = request.items[0] as Item;
          park(item.inbound, {
            code: 'ConvexRejected',
            message: `Convex refused this record: ${error.code}: ${error.serverMessage}`,
            table: item.message.table,
          });
          return;
        }
        // Bisect: some record in here is refused; import the halves separately to find it.
        const mid = Math.ceil(request.items.length / 2);
        for (const half of [request.items.slice(0, mid), request.items.slice(mid)]) {
          for (const sub of planRequests(half, options.limits)) await sendUnlessBlocked(sub);
        }
        return;
      }
      if (error instanceof TargetRefusedError) {
        haltOn(error);
        fail(request.items);
        return;
      }
      const e = error as { status?: number; code?: string; message?: string };
      deps.log.error('import request failed; its messages will be redelivered', {
        status: e.status,
        code: e.code,
        error: e.message ?? String(error),
        messages: request.items.length,
      });
      deps.metrics.add(METRICS.messagesRetried, request.items.length, 'Count');
      fail(request.items);
    }
  };

  // Once a message failed, later messages of its FIFO group, and later changes of the same
  // document on any queue, are handed back too: applied now, they would be overwritten by the
  // older one when it is redelivered.
  const sendUnlessBlocked = async (request: PlannedRequest<Item>): Promise<void> => {
    const blocked = request.items.filter((i) => orderKeys(i).some((k) => blockedKeys.has(k)));
    if (halt || options.remainingMs() < options.safetyMarginMs) {
      fail(request.items);
      return;
    }
    if (blocked.length === 0) return send(request);
    fail(blocked);
    const rest = request.items.filter((i) => !blocked.includes(i));
    for (const sub of planRequests(rest, options.limits)) await send(sub);
  };

  for (const request of planRequests(sendable, options.limits)) await sendUnlessBlocked(request);

  const unparked = toQuarantine.length > 0 ? await deps.quarantine.send(toQuarantine) : [];
  for (const { id, reason } of unparked) {
    // Not parked: hand it back untouched, so the queue's redrive policy still moves it to the DLQ.
    failed.add(id);
    deps.log.error('could not send a rejected message to the DLQ; returning it to the queue', {
      messageId: id,
      reason,
    });
  }
  const quarantined = toQuarantine.length - unparked.length;
  deps.metrics.add(METRICS.messagesImported, imported, 'Count');
  deps.metrics.add(METRICS.messagesQuarantined, quarantined, 'Count');
  for (const q of toQuarantine) deps.metrics.add(`Quarantined${q.code}`, 1, 'Count');
  if (halt) {
    deps.metrics.add(METRICS.importHalted, 1, 'Count');
    deps.log.error('import halted: Convex refuses every request; nothing more is sent', {
      error: halt.message,
      code: halt.code,
      kind: halt.kind,
      heldBack: failed.size,
    });
  }
  deps.log.info('import batch finished', {
    messages: batch.length,
    imported,
    quarantined,
    failed: failed.size,
    requests,
    perTable: countBy(valid.map((v) => v.message.table)),
    reasons: countBy(toQuarantine.map((q) => q.code)),
  });
  return {
    failedIds: batch.filter((m) => failed.has(m.id)).map((m) => m.id),
    imported,
    quarantined,
    requests,
    ...(halt ? { halt } : {}),
  };
}

/** What a message's order depends on: its FIFO group, and its document key (primary-key tables). */
function orderKeys(item: Item): string[] {
  const keys: string[] = [];
  if (item.inbound.groupId !== undefined) keys.push(`group\u0000${item.inbound.groupId}`);
  if (item.message.primaryKey) {
    keys.push(
      `key\u0000${item.message.table}\u0000${stringifyLossless(primaryKeyValues(item.message))}`,
    );
  }
  return keys;
}

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** Convex renames `_`-prefixed and non-identifier fields with `source_`; say so once per batch. */
function logRenames(log: LogSink, items: readonly Item[]): void {
  const byTable = new Map<string, Set<string>>();
  for (const { message } of items) {
    for (const path of message.renames) {
      const set = byTable.get(message.table) ?? new Set<string>();
      if (set.size < 20) set.add(path);
      byTable.set(message.table, set);
    }
  }
  if (byTable.size > 0) {
    log.warn(
      'Convex will rename these fields with a source_ prefix (not identifiers, or starting with _)',
      {
        renamed: Object.fromEntries([...byTable].map(([t, s]) => [t, [...s]])),
      },
    );
  }
}
