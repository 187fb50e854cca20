import {
  type KinesisClient,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import {
  type ChangeEvent,
  type ChangeOp,
  type ControlEvent,
  type ControlOp,
  isControlEvent,
  type StreamEvent,
  serializeEvent,
  toEventRef,
} from '../events/change-event.js';
import {
  KINESIS_DEFAULT_MAX_RECORD_BYTES,
  type PlannedRecord,
  planBatches,
  planRounds,
} from '../events/publish-plan.js';
import { compareSeq } from '../export/stream-mark.js';
import {
  type ClaimCheckStore,
  type ControlCopy,
  type EventPublisher,
  PublishError,
  type PublishOptions,
  type PublishResult,
  type StreamMark,
  type StreamTail,
} from '../ports/event-publisher.js';
import { backoffDelayMs, type RetryPolicy } from '../retry.js';
import {
  listShards,
  type ShardInfo,
  shardInfo,
  toHashKeyRange,
  uncoveredShards,
} from './kinesis-shards.js';
import { KinesisStreamTail } from './kinesis-stream-reader.js';

export interface KinesisPublisherOptions {
  readonly streamName: string;
  /** The stream's maximum record size (data plus partition key); larger events go to S3. */
  readonly maxRecordBytes?: number;
  readonly claimCheck?: ClaimCheckStore;
  /** PutRecords calls in flight at once within one round. */
  readonly concurrency?: number;
  readonly retry?: RetryPolicy;
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Reads the shards after a PutRecords call whose outcome is unknown (timeout, reset, 5xx), so
   * its records that did land are not sent again. Default: a KinesisStreamTail on the same
   * client; `false` retries blindly (at-least-once, as before).
   */
  readonly tail?: StreamTail | false;
}

interface EventRecord extends PlannedRecord {
  readonly op: ChangeOp;
  readonly eventId: string;
}

/** Per publish: the highest sequence number seen per shard (responses and tail reads). */
type Written = Map<string, string>;

/** A PutRecords attempt failed in a way that does not say whether its records were written. */
class OutcomeUnknownError extends Error {
  constructor(readonly first: unknown) {
    super(`PutRecords outcome unknown: ${(first as Error)?.message ?? String(first)}`);
    this.name = 'PutRecordsOutcomeUnknown';
  }
}

/**
 * A throttle or a 4xx refusal means nothing was written; a timeout, a reset or a 5xx may have
 * written any of the call's records.
 */
function outcomeUnknown(error: unknown): boolean {
  if (error instanceof OutcomeUnknownError) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === undefined || status >= 500;
}

const RETRYABLE_CALL_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ThrottlingException',
  'KMSThrottlingException',
  'TimeoutError',
  'RequestTimeout',
]);
const THROTTLE_CODES = new Set([
  'ProvisionedThroughputExceededException',
  'KMSThrottlingException',
  'ThrottlingException',
]);

function isRetryableCallError(error: unknown): boolean {
  const e = error as { name?: string; $fault?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name && RETRYABLE_CALL_ERRORS.has(e.name)) return true;
  if (e.$fault === 'server') return true;
  return e.$metadata?.httpStatusCode === undefined; // no HTTP answer at all: a network failure
}

/** Keeps the highest sequence number per shard. */
function see(written: Written, shard: string, seq: string): void {
  const old = written.get(shard);
  if (old === undefined || compareSeq(seq, old) > 0) written.set(shard, seq);
}

/**
 * The SDK retries a timed-out or 5xx PutRecords on its own, which may write its records twice.
 * This stops the SDK's retry after such an attempt (a throttle is still retried: nothing was
 * written) and hands the unknown outcome to the publisher, which reads the shard before retrying.
 */
function withoutBlindRetries(command: PutRecordsCommand): PutRecordsCommand {
  let unknown: unknown;
  command.middlewareStack.add(
    (next) => async (args) => {
      if (unknown !== undefined) throw new OutcomeUnknownError(unknown);
      try {
        return await next(args);
      } catch (error) {
        if (outcomeUnknown(error)) unknown = error;
        throw error;
      }
    },
    { step: 'deserialize', name: 'bridgeNoBlindPutRecordsRetry', priority: 'high' },
  );
  return command;
}

/** Per-record codes that will not clear by retrying (e.g. a disabled KMS key). */
const isFatalRecordCode = (code: string) => code.startsWith('KMS') && !THROTTLE_CODES.has(code);

/** Records read per shard when checking an unknown outcome: two batches' worth. */
const TAIL_READ_LIMIT = 10_000;

/** The partition key of control events' copies (their ExplicitHashKey picks the shard). */
export const CONTROL_PARTITION_KEY = '_control';

/** Broadcast rounds repeated because the shards changed under them, before giving up. */
const MAX_RESHARD_ROUNDS = 8;

const claimCheckKey = (e: ChangeEvent) =>
  `${e.component === '' ? '_root' : e.component}/${e.table}/${e.id}/${e.ts}.json`;

interface Totals {
  records: number;
  bytes: number;
  calls: number;
  retriedRecords: number;
  throttledRecords: number;
  claimChecks: number;
  alreadyLanded: number;
}

/** A copy this publish wrote or found, with the shard it was aimed at when it wrote it. */
interface CopyLanded extends ControlCopy {
  readonly aimed?: string;
}

/** What one broadcast round's PutRecords calls did. */
interface CopyRound {
  readonly landed: CopyLanded[];
  /** The last per-entry code or call error; undefined when every entry was acknowledged. */
  readonly problem?: string;
  /** Set when a call's outcome was unknown: where its entries may have landed. */
  readonly unknownSince?: StreamMark;
}

export class KinesisEventPublisher implements EventPublisher {
  private readonly maxRecordBytes: number;
  private readonly concurrency: number;
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly tail: StreamTail | undefined;

  constructor(
    private readonly kinesis: KinesisClient,
    private readonly options: KinesisPublisherOptions,
  ) {
    this.maxRecordBytes = options.maxRecordBytes ?? KINESIS_DEFAULT_MAX_RECORD_BYTES;
    this.concurrency = options.concurrency ?? 4;
    this.retry = options.retry ?? { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 5_000 };
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.tail =
      options.tail === false
        ? undefined
        : (options.tail ?? new KinesisStreamTail(kinesis, options.streamName));
  }

  /**
   * Document events go out in rounds per partition key; each control event splits the batch:
   * everything before it is acknowledged, then it is broadcast to every open shard, then the
   * events after it are sent.
   */
  async publish(
    events: readonly StreamEvent[],
    signal?: AbortSignal,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    const totals: Totals = {
      records: 0,
      bytes: 0,
      calls: 0,
      retriedRecords: 0,
      throttledRecords: 0,
      claimChecks: 0,
      alreadyLanded: 0,
    };
    const written: Written = new Map();
    const byOp: Record<ChangeOp, number> = { snapshot: 0, upsert: 0, delete: 0 };
    const controls: Partial<Record<ControlOp, number>> = {};
    let segment: ChangeEvent[] = [];
    for (const event of events) {
      if (!isControlEvent(event)) {
        segment.push(event);
        continue;
      }
      await this.publishDocuments(segment, totals, byOp, written, signal);
      segment = [];
      const landed = options.landedCopies?.get(event.eventId) ?? [];
      await this.broadcast(event, landed, totals, written, signal);
      controls[event.op] = (controls[event.op] ?? 0) + 1;
    }
    await this.publishDocuments(segment, totals, byOp, written, signal);
    const shards = Object.fromEntries([...written].map(([shard, seq]) => [shard, { seq }]));
    return {
      ...totals,
      byOp,
      ...(Object.keys(controls).length > 0 ? { controls } : {}),
      mark: { shards, at: new Date().toISOString() },
    };
  }

  private async publishDocuments(
    events: readonly ChangeEvent[],
    totals: Totals,
    byOp: Record<ChangeOp, number>,
    written: Written,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const records: EventRecord[] = [];
    for (const event of events) {
      records.push(await this.toRecord(event, totals));
      byOp[event.op]++;
    }
    for (const round of planRounds(records)) {
      const batches = planBatches(round);
      let next = 0;
      const worker = async () => {
        while (next < batches.length) {
          const batch = batches[next++] as EventRecord[];
          await this.putWithRetry(batch, totals, written, signal);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, batches.length) }, worker));
    }
    totals.records += records.length;
  }

  /**
   * Writes copies of a control event until every open shard is covered: lists the shards, aims
   * one copy at each uncovered open shard (ExplicitHashKey = its starting hash key, the copy's
   * `hashKeyRange` = its range), and repeats while entries were refused, an outcome was unknown
   * (read back first, so only what is missing goes again), or a copy landed on another shard
   * than aimed (the shards changed between listing and writing).
   */
  private async broadcast(
    event: ControlEvent,
    landed: readonly ControlCopy[],
    totals: Totals,
    written: Written,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const copies: CopyLanded[] = [...landed];
    let failures = 0;
    let reshards = 0;
    let lastProblem = '';
    for (;;) {
      if (signal?.aborted)
        throw new PublishError(
          `publishing was cancelled before control event ${event.eventId} reached every shard`,
        );
      const shards = await this.openShards(signal);
      const targets = uncoveredShards(shards, copies);
      if (targets.length === 0) return;
      if (failures >= this.retry.maxAttempts)
        throw new PublishError(
          `control event ${event.eventId} still missing on ${targets.length} shard(s) after ${failures} PutRecords attempts (last: ${lastProblem})`,
        );
      if (reshards >= MAX_RESHARD_ROUNDS)
        throw new PublishError(
          `control event ${event.eventId} still missing on ${targets.length} shard(s): the stream's shards changed during each of ${reshards} rounds`,
        );
      if (failures > 0) totals.retriedRecords += targets.length;
      const round = await this.putCopies(event, targets, totals, written, signal);
      copies.push(...round.landed);
      if (round.problem !== undefined) {
        failures++;
        lastProblem = round.problem;
        await this.sleep(backoffDelayMs(this.retry, failures, Math.random));
        if (round.unknownSince !== undefined)
          copies.push(
            ...(await this.copiesSince(event, round.unknownSince, copies, totals, written, signal)),
          );
        continue;
      }
      // Each copy is on the shard it was aimed at, which was open when it took it: every shard
      // opened since descends from a covered one. Otherwise the shards changed: list again.
      if (round.landed.every((c) => c.shard === c.aimed)) return;
      reshards++;
    }
  }

  private async openShards(signal: AbortSignal | undefined): Promise<ShardInfo[]> {
    try {
      return (await listShards(this.kinesis, this.options.streamName, signal)).map(shardInfo);
    } catch (error) {
      throw new PublishError(
        `ListShards on ${this.options.streamName} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** One copy per target shard, in as few PutRecords calls as the limits allow. */
  private async putCopies(
    event: ControlEvent,
    targets: readonly ShardInfo[],
    totals: Totals,
    written: Written,
    signal: AbortSignal | undefined,
  ): Promise<CopyRound> {
    const entries = targets.map((target) => {
      const range = toHashKeyRange(target.range);
      const data = Buffer.from(serializeEvent({ ...event, hashKeyRange: range }), 'utf8');
      if (data.length + CONTROL_PARTITION_KEY.length > this.maxRecordBytes)
        throw new PublishError(
          `control event ${event.eventId} is ${data.length} bytes, above the stream's ${this.maxRecordBytes}-byte record limit`,
        );
      return { partitionKey: CONTROL_PARTITION_KEY, data, target, range };
    });
    const landed: CopyLanded[] = [];
    let problem: string | undefined;
    let unknownSince: StreamMark | undefined;
    for (const batch of planBatches(entries)) {
      if (signal?.aborted)
        throw new PublishError(
          `publishing was cancelled before control event ${event.eventId} reached every shard`,
        );
      const sentAt = this.markOf(written);
      totals.calls++;
      try {
        const out = await this.kinesis.send(
          withoutBlindRetries(
            new PutRecordsCommand({
              StreamName: this.options.streamName,
              Records: batch.map((e) => ({
                PartitionKey: e.partitionKey,
                ExplicitHashKey: e.target.range.start.toString(),
                Data: e.data,
              })),
            }),
          ),
          signal ? { abortSignal: signal } : {},
        );
        const results = out.Records ?? [];
        batch.forEach((entry, i) => {
          const r = results[i];
          if (r?.ShardId && r.SequenceNumber) {
            see(written, r.ShardId, r.SequenceNumber);
            landed.push({
              shard: r.ShardId,
              seq: r.SequenceNumber,
              range: entry.range,
              aimed: entry.target.id,
            });
            totals.records++;
            totals.bytes += entry.data.length;
            return;
          }
          const code = r?.ErrorCode ?? 'NoResult';
          if (isFatalRecordCode(code))
            throw new PublishError(
              `Kinesis rejected a record with ${code}: ${r?.ErrorMessage ?? ''}`,
            );
          if (THROTTLE_CODES.has(code)) totals.throttledRecords++;
          problem = code;
        });
      } catch (error) {
        if (error instanceof PublishError) throw error;
        if (!isRetryableCallError(error))
          throw new PublishError(
            `PutRecords to ${this.options.streamName} failed: ${(error as Error).message}`,
            { cause: error },
          );
        if ((error as { name?: string }).name === 'ProvisionedThroughputExceededException')
          totals.throttledRecords += batch.length;
        problem = (error as Error).name;
        if (this.tail !== undefined && outcomeUnknown(error)) unknownSince ??= sentAt;
      }
    }
    return {
      landed,
      ...(problem !== undefined ? { problem } : {}),
      ...(unknownSince !== undefined ? { unknownSince } : {}),
    };
  }

  /**
   * Copies of `event` that a call with an unknown outcome did write: read from the shards after
   * where it was sent. A read that fails finds none (the shards they were for get another).
   */
  private async copiesSince(
    event: ControlEvent,
    since: StreamMark,
    known: readonly ControlCopy[],
    totals: Totals,
    written: Written,
    signal: AbortSignal | undefined,
  ): Promise<ControlCopy[]> {
    if (this.tail === undefined) return [];
    const scan = await this.tail
      .landedSince(since, { limitPerShard: TAIL_READ_LIMIT, ...(signal ? { signal } : {}) })
      .catch(() => undefined);
    const isKnown = (c: ControlCopy) => known.some((k) => k.shard === c.shard && k.seq === c.seq);
    const found = (scan?.copies.get(event.eventId) ?? []).filter((c) => !isKnown(c));
    for (const c of found) see(written, c.shard, c.seq);
    totals.alreadyLanded += found.length;
    return [...found];
  }

  private async toRecord(
    event: ChangeEvent,
    totals: { claimChecks: number; bytes: number },
  ): Promise<EventRecord> {
    let data = Buffer.from(serializeEvent(event), 'utf8');
    if (data.length + Buffer.byteLength(event.id) > this.maxRecordBytes) {
      if (!this.options.claimCheck) {
        throw new PublishError(
          `event ${event.eventId} is ${data.length} bytes, above the stream's ${this.maxRecordBytes}-byte record limit, and no oversize bucket is configured (BRIDGE_OVERSIZE_BUCKET)`,
        );
      }
      const ref = await this.options.claimCheck.put(claimCheckKey(event), data);
      data = Buffer.from(serializeEvent(toEventRef(event, ref)), 'utf8');
      totals.claimChecks++;
    }
    totals.bytes += data.length;
    return { partitionKey: event.id, data, op: event.op, eventId: event.eventId };
  }

  /** The mark this publish's next call's records land after (shards it has not seen: by time). */
  private markOf(written: Written): StreamMark {
    const shards = Object.fromEntries([...written].map(([shard, seq]) => [shard, { seq }]));
    return { shards, at: new Date().toISOString() };
  }

  /**
   * The entries of a call whose outcome was unknown that are not in the stream: reads each shard
   * after where the call was sent. A read that fails leaves every entry to be sent again.
   */
  private async notLanded(
    pending: readonly EventRecord[],
    since: StreamMark,
    totals: { alreadyLanded: number },
    written: Written,
    signal: AbortSignal | undefined,
  ): Promise<readonly EventRecord[]> {
    if (this.tail === undefined) return pending;
    const scan = await this.tail
      .landedSince(since, { limitPerShard: TAIL_READ_LIMIT, ...(signal ? { signal } : {}) })
      .catch(() => undefined);
    if (scan === undefined) return pending;
    const left = pending.filter((r) => {
      const at = scan.found.get(r.eventId);
      if (at === undefined) return true;
      see(written, at.shard, at.seq);
      return false;
    });
    totals.alreadyLanded += pending.length - left.length;
    return left;
  }

  private async putWithRetry(
    batch: readonly EventRecord[],
    totals: Totals,
    written: Written,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let pending = batch;
    let lastProblem = '';
    let unknownSince: StreamMark | undefined;
    for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
      if (attempt > 1) {
        await this.sleep(backoffDelayMs(this.retry, attempt - 1, Math.random));
        if (unknownSince !== undefined) {
          pending = await this.notLanded(pending, unknownSince, totals, written, signal);
          unknownSince = undefined;
          if (pending.length === 0) return;
        }
        totals.retriedRecords += pending.length;
      }
      if (signal?.aborted)
        throw new PublishError('publishing was cancelled before every event was acknowledged');
      const entries: PutRecordsRequestEntry[] = pending.map((r) => ({
        PartitionKey: r.partitionKey,
        Data: r.data,
      }));
      totals.calls++;
      let failed: EventRecord[];
      // Where these records can land: after what this publish saw, and not before now.
      const sentAt = this.markOf(written);
      try {
        const out = await this.kinesis.send(
          withoutBlindRetries(
            new PutRecordsCommand({ StreamName: this.options.streamName, Records: entries }),
          ),
          signal ? { abortSignal: signal } : {},
        );
        const results = out.Records ?? [];
        for (const r of results)
          if (r.ShardId && r.SequenceNumber) see(written, r.ShardId, r.SequenceNumber);
        if (!out.FailedRecordCount) return;
        failed = [];
        pending.forEach((record, i) => {
          const code = results[i]?.ErrorCode;
          if (!code) return;
          if (isFatalRecordCode(code)) {
            throw new PublishError(
              `Kinesis rejected a record with ${code}: ${results[i]?.ErrorMessage ?? ''}`,
            );
          }
          if (THROTTLE_CODES.has(code)) totals.throttledRecords++;
          lastProblem = code;
          failed.push(record);
        });
      } catch (error) {
        if (error instanceof PublishError) throw error;
        if (!isRetryableCallError(error)) {
          throw new PublishError(
            `PutRecords to ${this.options.streamName} failed: ${(error as Error).message}`,
            { cause: error },
          );
        }
        if ((error as { name?: string }).name === 'ProvisionedThroughputExceededException') {
          totals.throttledRecords += pending.length;
        }
        lastProblem = (error as Error).name;
        if (this.tail !== undefined && outcomeUnknown(error)) unknownSince = sentAt;
        failed = [...pending];
      }
      pending = failed;
    }
    if (unknownSince !== undefined) {
      pending = await this.notLanded(pending, unknownSince, totals, written, signal);
      if (pending.length === 0) return;
    }
    throw new PublishError(
      `${pending.length} record(s) still failing after ${this.retry.maxAttempts} PutRecords attempts (last: ${lastProblem})`,
    );
  }
}
