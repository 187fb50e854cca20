import {
  type KinesisClient,
  ProvisionedThroughputExceededException,
  type PutRecordsCommandInput,
  type PutRecordsCommandOutput,
} from '@aws-sdk/client-kinesis';

/**
 * Emulators never throttle, so failures are injected in the SDK client itself (the approach in
 * emulators.md): chosen entries are removed from the request before it is sent, so they are
 * really not written, and come back as per-record errors, exactly as Kinesis reports them.
 */
export interface PutRecordsFaults {
  /** Return an ErrorCode to fail this entry, or undefined to send it. */
  entry?: (call: number, index: number, partitionKey: string) => string | undefined;
  /** Return true to fail the whole call with ProvisionedThroughputExceededException. */
  call?: (call: number) => boolean;
}

export function injectPutRecordsFaults(
  kinesis: KinesisClient,
  faults: PutRecordsFaults,
): { calls: () => number } {
  let calls = 0;
  kinesis.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') return next(args);
      const call = calls++;
      if (faults.call?.(call)) {
        throw new ProvisionedThroughputExceededException({
          message: 'Rate exceeded for stream (injected)',
          $metadata: { httpStatusCode: 400 },
        });
      }
      const input = args.input as PutRecordsCommandInput;
      const records = input.Records ?? [];
      const codes = records.map((r, i) => faults.entry?.(call, i, r.PartitionKey ?? ''));
      const kept = records.filter((_, i) => codes[i] === undefined);
      let sent: PutRecordsCommandOutput | undefined;
      let response: unknown = {};
      if (kept.length > 0) {
        const out = await next({ ...args, input: { ...input, Records: kept } });
        sent = out.output as PutRecordsCommandOutput;
        response = out.response;
      }
      let k = 0;
      const results = codes.map((code) =>
        code ? { ErrorCode: code, ErrorMessage: 'injected' } : (sent?.Records?.[k++] ?? {}),
      );
      const output = {
        $metadata: sent?.$metadata ?? {},
        FailedRecordCount: (sent?.FailedRecordCount ?? 0) + codes.filter(Boolean).length,
        Records: results,
      };
      return { output, response } as Awaited<ReturnType<typeof next>>;
    },
    { step: 'initialize', name: 'injectPutRecordsFaults' },
  );
  return { calls: () => calls };
}
