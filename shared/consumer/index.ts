/**
 * The reference consumer of the change stream (docs/events.md, "Consuming"): apply records to a
 * key-value store with the contract's rules. Copy this folder and `shared/events/change-event.ts`
 * (types only); nothing else of the bridge is needed.
 */
export {
  type ConsumerStore,
  type DocumentEntry,
  documentKey,
  finalState,
  MemoryConsumerStore,
  type RemovedBy,
  type ScanScope,
  type SchemaEntry,
} from './consumer-store.js';
export {
  FULL_RANGE,
  type HashBounds,
  intersectRanges,
  MAX_HASH_KEY,
  partitionKeyHash,
  rangeContains,
  toBounds,
} from './hash-key.js';
export {
  fromListShards,
  type ListedShard,
  type OrderedRecord,
  orderStreamRecords,
  type ShardInfo,
} from './shard-order.js';
export {
  type ApplyOutcome,
  type ClaimCheckResolver,
  type ConsumerContext,
  ConsumerRecordError,
  StreamConsumer,
  type StreamConsumerOptions,
} from './stream-consumer.js';
