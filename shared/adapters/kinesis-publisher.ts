import {
  type KinesisClient,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import {
  type ChangeEvent,
  type ChangeOp,
  serializeEvent,
  toEventRef,
} from '../events/change-event.js';
import {
  KINESIS_DEFAULT_MAX_RECORD_BYTES,
  type PlannedRecord,
  planBatches,
  planRounds,
} from '../events/publish-plan.js';
import {
  type ClaimCheckStore,
  type EventPublisher,
  PublishError,
  type PublishResult,
} from '../ports/event-publisher.js';
import { backoffDelayMs, type RetryPolicy } from '../retry.js';

export interface KinesisPublisherOptions {
  readonly streamName: string;
  /** The stream's maximum record size (data plus partition key); larger events go to S3. */
  readonly maxRecordBytes?: number;
  readonly claimCheck?: ClaimCheckStore;
  /** PutRecords calls in flight at once within one round. */
  readonly concurrency?: number;
  readonly retry?: RetryPolicy;
  readonly sleep?: (ms: number) => Promise<void>;
}

interface EventRecord extends PlannedRecord {
  readonly op: ChangeOp;
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

/** Per-record codes that will not clear by retrying (e.g. a disabled KMS key). */
const isFatalRecordCode = (code: string) => code.startsWith('KMS') && !THROTTLE_CODES.has(code);

const claimCheckKey = (e: ChangeEvent) =>
  `${e.component === '' ? '_root' : e.component}/${e.table}/${e.id}/${e.ts}.json`;

export class KinesisEventPublisher implements EventPublisher {
  private readonly maxRecordBytes: number;
  private readonly concurrency: number;
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly kinesis: KinesisClient,
    private readonly options: KinesisPublisherOptions,
  ) {
    this.maxRecordBytes = options.maxRecordBytes ?? KINESIS_DEFAULT_MAX_RECORD_BYTES;
    this.concurrency = options.concurrency ?? 4;
    this.retry = options.retry ?? { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 5_000 };
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async publish(events: readonly ChangeEvent[], signal?: AbortSignal): Promise<PublishResult> {
    const totals = {
      records: 0,
      bytes: 0,
      calls: 0,
      retriedRecords: 0,
      throttledRecords: 0,
      claimChecks: 0,
    };
    const byOp: Record<ChangeOp, number> = { snapshot: 0, upsert: 0, delete: 0 };
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
          await this.putWithRetry(batch, totals, signal);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, batches.length) }, worker));
    }
    totals.records = records.length;
    return { ...totals, byOp };
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
    return { partitionKey: event.id, data, op: event.op };
  }

  private async putWithRetry(
    batch: readonly EventRecord[],
    totals: { calls: number; retriedRecords: number; throttledRecords: number },
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let pending = batch;
    let lastProblem = '';
    for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
      if (attempt > 1) {
        totals.retriedRecords += pending.length;
        await this.sleep(backoffDelayMs(this.retry, attempt - 1, Math.random));
      }
      if (signal?.aborted)
        throw new PublishError('publishing was cancelled before every event was acknowledged');
      const entries: PutRecordsRequestEntry[] = pending.map((r) => ({
        PartitionKey: r.partitionKey,
        Data: r.data,
      }));
      totals.calls++;
      let failed: EventRecord[];
      try {
        const out = await this.kinesis.send(
          new PutRecordsCommand({ StreamName: this.options.streamName, Records: entries }),
          signal ? { abortSignal: signal } : {},
        );
        if (!out.FailedRecordCount) return;
        const results = out.Records ?? [];
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
        failed = [...pending];
      }
      pending = failed;
    }
    throw new PublishError(
      `${pending.length} record(s) still failing after ${this.retry.maxAttempts} PutRecords attempts (last: ${lastProblem})`,
    );
  }
}
