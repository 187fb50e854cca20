import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { StreamConsumer } from '../../shared/consumer/index.js';
import type { HashKeyRange } from '../../shared/events/change-event.js';

export interface ConsumerHandlerDeps {
  /** Applies records with the contract's rules to your store (shared/consumer). */
  readonly consumer: StreamConsumer;
  /** The hash-key range of a shard, from ListShards (cache it: it never changes for a shard). */
  readonly shardRange: (shardId: string) => Promise<HashKeyRange>;
  /** Where to report a record that could not be applied (your logger). */
  readonly onError?: (error: unknown, record: { shardId: string; sequenceNumber: string }) => void;
}

/**
 * A Lambda handler for a Kinesis event source mapping (with `ReportBatchItemFailures` and
 * `ParallelizationFactor` 1): applies the batch's records in order, and on the first failure
 * stops and reports that record, so Lambda retries the batch from it. Records before it are
 * applied; applying them again on the retry is harmless (the consumer's rules drop replays).
 */
export function createConsumerHandler(deps: ConsumerHandlerDeps) {
  return async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
    for (const record of event.Records) {
      const sequenceNumber = record.kinesis.sequenceNumber;
      // eventID is `<shardId>:<sequenceNumber>`; every record of a batch comes from one shard.
      const shardId = record.eventID.slice(0, record.eventID.lastIndexOf(':'));
      try {
        const hashKeyRange = await deps.shardRange(shardId);
        await deps.consumer.applyRecord(Buffer.from(record.kinesis.data, 'base64'), {
          shardId,
          hashKeyRange,
        });
      } catch (error) {
        deps.onError?.(error, { shardId, sequenceNumber });
        return { batchItemFailures: [{ itemIdentifier: sequenceNumber }] };
      }
    }
    return { batchItemFailures: [] };
  };
}
