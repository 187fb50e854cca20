// Lambda's SQS event source mapping, modelled: `maxConcurrency` pollers, each gathering up to
// `batchSize` messages (10 per ReceiveMessage) until the batch is full or the batching window
// has run since its first message, invoking the function with the batch, then deleting the
// messages the function did not report in batchItemFailures. A reported or thrown-away message
// stays invisible until its visibility timeout ends and is then received again.
//
// Scaling, as documented for standard queues: five concurrent batches at first, then one more
// (up to maxConcurrency) every 200 ms while messages wait with no poller free to take them,
// i.e. Lambda's "up to 300 more a minute". A run can also start fully scaled (`scaled`), to
// measure the steady state a long backlog reaches.
//
// Not modelled: the invoke call's own overhead, scaling back down (runs here are short),
// Lambda's optimisation to as few as two pollers at low traffic (not available with maximum
// concurrency set), and the documented case where a long poll outlasts a short window at very
// low traffic (Lambda may then wait up to 20 s).

import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { PolledQueue, QueuedMessage } from './sqs-model.js';

export interface EsmSettings {
  readonly batchSize: number;
  /** 0: invoke with what one receive returned (no batching window; FIFO queues have none). */
  readonly batchingWindowMs: number;
  readonly maxConcurrency: number;
}

export type Invoke = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface EsmStats {
  invocations: number;
  messagesInvoked: number;
  messagesDeleted: number;
  /** Messages reported in batchItemFailures or in a batch whose invocation threw. */
  messagesFailed: number;
  invocationErrors: number;
  peakPollers: number;
}

/** Lambda refuses synchronous invocation payloads above 6 MB; pollers stop gathering before it. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const LONG_POLL_MS = 20_000;
const FUNCTION_TIMEOUT_MS = 60_000;
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:123456789012:bench-import';

/** One record as Lambda hands it to the function. */
export function sqsRecord(m: QueuedMessage, fifo: boolean): SQSRecord {
  return {
    messageId: m.messageId,
    receiptHandle: m.receiptHandle,
    body: m.body,
    attributes: {
      ApproximateReceiveCount: String(m.receiveCount),
      SentTimestamp: String(m.sentTimestamp),
      SenderId: 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: String(m.firstReceiveTimestamp),
      ...(fifo && m.groupId !== undefined
        ? {
            MessageGroupId: m.groupId,
            MessageDeduplicationId: m.messageId,
            SequenceNumber: '18849496460467696128',
          }
        : {}),
    },
    messageAttributes: {},
    md5OfBody: '00000000000000000000000000000000',
    eventSource: 'aws:sqs',
    eventSourceARN: fifo ? `${QUEUE_ARN}.fifo` : QUEUE_ARN,
    awsRegion: 'us-east-1',
  };
}

function lambdaContext(requestId: string): Context {
  const deadline = Date.now() + FUNCTION_TIMEOUT_MS;
  return {
    functionName: 'bench-import',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:bench-import',
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/bench-import',
    logStreamName: 'bench',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  } as Context;
}

/** Gathers one batch the way a poller does; empty when `signal` fired. */
async function gather(
  queue: PolledQueue,
  settings: EsmSettings,
  signal: AbortSignal,
): Promise<{ batch: QueuedMessage[]; records: SQSRecord[]; payload: string[] }> {
  const batch: QueuedMessage[] = [];
  const records: SQSRecord[] = [];
  const payload: string[] = [];
  let bytes = '{"Records":[]}'.length;
  let largest = 0;
  let windowEnd: number | undefined;
  while (batch.length < settings.batchSize && !signal.aborted) {
    // Room for ten more records of the largest size seen so far, or stop here.
    if (bytes + 10 * (largest + 1) > MAX_PAYLOAD_BYTES) break;
    const waitMs = windowEnd === undefined ? LONG_POLL_MS : windowEnd - Date.now();
    if (waitMs <= 0) break;
    const got = await queue.receive(
      Math.min(10, settings.batchSize - batch.length),
      waitMs,
      signal,
    );
    if (got.length === 0) {
      if (windowEnd === undefined) continue; // nothing yet: keep long-polling
      break; // the window ended without another message
    }
    for (const m of got) {
      const record = sqsRecord(m, queue.fifo);
      const json = JSON.stringify(record);
      batch.push(m);
      records.push(record);
      payload.push(json);
      bytes += json.length + 1;
      largest = Math.max(largest, json.length);
    }
    if (settings.batchingWindowMs === 0) break;
    windowEnd ??= Date.now() + settings.batchingWindowMs;
  }
  // Stopped while gathering: the batch is dropped, as a poller shut down mid-batch would leave it
  // for the visibility timeout (the benchmark stops only once every measured message is in).
  if (signal.aborted) return { batch: [], records: [], payload: [] };
  return { batch, records, payload };
}

/** Lambda starts an SQS mapping with five concurrent batches. */
export const INITIAL_POLLERS = 5;
const SCALE_STEP_MS = 200;

/**
 * Runs the mapping until `signal` fires; each poller finishes the batch it is invoking first.
 * The event goes through JSON as it does between Lambda and the runtime, so the function pays
 * for parsing it.
 */
export async function runEventSourceMapping(
  queue: PolledQueue,
  settings: EsmSettings,
  invoke: Invoke,
  signal: AbortSignal,
  options: {
    readonly scaled?: boolean;
    readonly onDeleted?: (messages: readonly QueuedMessage[]) => void;
  } = {},
): Promise<EsmStats> {
  const onDeleted = options.onDeleted;
  const stats: EsmStats = {
    invocations: 0,
    messagesInvoked: 0,
    messagesDeleted: 0,
    messagesFailed: 0,
    invocationErrors: 0,
    peakPollers: 0,
  };
  const poller = async (id: number) => {
    for (let n = 0; !signal.aborted; n++) {
      const { batch, payload } = await gather(queue, settings, signal);
      if (batch.length === 0) continue;
      stats.invocations++;
      stats.messagesInvoked += batch.length;
      const event = JSON.parse(`{"Records":[${payload.join(',')}]}`) as SQSEvent;
      let failed: Set<string>;
      try {
        const response = await invoke(event, lambdaContext(`bench-${id}-${n}`));
        failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      } catch {
        stats.invocationErrors++;
        failed = new Set(batch.map((m) => m.messageId));
      }
      stats.messagesFailed += failed.size;
      const done = batch.filter((m) => !failed.has(m.messageId));
      if (done.length > 0) {
        await queue.delete(done);
        stats.messagesDeleted += done.length;
        onDeleted?.(done);
      }
    }
  };
  const running: Promise<void>[] = [];
  const start = () => {
    running.push(poller(running.length));
    stats.peakPollers = running.length;
  };
  const first = options.scaled
    ? settings.maxConcurrency
    : Math.min(INITIAL_POLLERS, settings.maxConcurrency);
  for (let i = 0; i < first; i++) start();
  const scaler = setInterval(() => {
    if (running.length < settings.maxConcurrency && (queue.waiting?.() ?? 0) > 0) start();
  }, SCALE_STEP_MS);
  try {
    // Pollers started while waiting join the list; wait until none is left running.
    for (let done = 0; done < running.length; ) {
      const n = running.length;
      await Promise.all(running.slice(done, n));
      done = n;
    }
  } finally {
    clearInterval(scaler);
  }
  return stats;
}

/** The same pollers against a real SQS API (moto here): ReceiveMessage and DeleteMessageBatch. */
export class SdkQueue implements PolledQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    readonly fifo: boolean,
    private readonly visibilityTimeoutS: number,
  ) {}

  async receive(max: number, waitMs: number, signal: AbortSignal): Promise<QueuedMessage[]> {
    if (signal.aborted) return [];
    try {
      const out = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: max,
          // The API takes whole seconds: a window of 0.3 s left waits up to 1 s here.
          WaitTimeSeconds: Math.min(20, Math.ceil(waitMs / 1000)),
          VisibilityTimeout: this.visibilityTimeoutS,
          MessageSystemAttributeNames: ['All'],
        }),
        { abortSignal: signal },
      );
      return (out.Messages ?? []).map((m) => ({
        messageId: m.MessageId as string,
        receiptHandle: m.ReceiptHandle as string,
        body: m.Body ?? '',
        ...(m.Attributes?.MessageGroupId !== undefined
          ? { groupId: m.Attributes.MessageGroupId }
          : {}),
        sentTimestamp: Number(m.Attributes?.SentTimestamp ?? 0),
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
        firstReceiveTimestamp: Number(m.Attributes?.ApproximateFirstReceiveTimestamp ?? 0),
      }));
    } catch (error) {
      if (signal.aborted) return [];
      throw error;
    }
  }

  async delete(messages: readonly QueuedMessage[]): Promise<void> {
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < messages.length; i += 10) {
      calls.push(
        this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: messages
              .slice(i, i + 10)
              .map((m, j) => ({ Id: String(j), ReceiptHandle: m.receiptHandle })),
          }),
        ),
      );
    }
    await Promise.all(calls);
  }
}
