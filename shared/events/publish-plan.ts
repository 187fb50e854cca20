/** Kinesis PutRecords limits (AWS API reference). */
export const KINESIS_MAX_RECORDS_PER_CALL = 500;
export const KINESIS_MAX_BYTES_PER_CALL = 5 * 1024 * 1024;
export const KINESIS_DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

export interface PlannedRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/**
 * Splits records into rounds, then each round into PutRecords batches.
 *
 * Round r holds the r-th record of every partition key, in input order, so a key appears at
 * most once per round and once per call. Publishing round r only after round r-1 succeeded
 * means a retried earlier change can never land after a later change of the same document.
 */
export function planRounds<T extends PlannedRecord>(records: readonly T[]): T[][] {
  const seen = new Map<string, number>();
  const rounds: T[][] = [];
  for (const record of records) {
    const round = seen.get(record.partitionKey) ?? 0;
    seen.set(record.partitionKey, round + 1);
    const bucket = rounds[round] ?? [];
    bucket.push(record);
    rounds[round] = bucket;
  }
  return rounds;
}

/** Cuts one round into calls within the record-count and byte limits (data plus key bytes). */
export function planBatches<T extends PlannedRecord>(
  round: readonly T[],
  limits = { maxRecords: KINESIS_MAX_RECORDS_PER_CALL, maxBytes: KINESIS_MAX_BYTES_PER_CALL },
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const record of round) {
    const size = record.data.length + Buffer.byteLength(record.partitionKey);
    if (
      current.length > 0 &&
      (current.length >= limits.maxRecords || bytes + size > limits.maxBytes)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
