/** Every limit of the simulated deployment; defaults are the open-source backend's (knobs.rs). */
export interface Knobs {
  /** Rows read and rows returned per document_deltas page, before extending to the timestamp's end. */
  documentDeltasLimit: number;
  /** Documents per list_snapshot page. */
  snapshotListLimit: number;
  /** document_deltas refuses cursors older than this (InvalidWindowToReadDocuments). */
  retentionSeconds: number;
  /** list_snapshot refuses snapshots older than this (SnapshotTooOld). */
  snapshotMaxAgeSeconds: number;
  importBodyLimitBytes: number;
  /** axum's default for every other JSON route. */
  defaultBodyLimitBytes: number;
  /** Streaming import commits and starts a new transaction after this many writes. */
  transactionMaxWrites: number;
  transactionMaxBytes: number;
  /** How many primary_key_indexes_ready polls answer false after an index is added. */
  indexBackfillPolls: number;
  /** false reproduces a non-Pro Cloud deployment: 403 StreamingExportNotEnabled. */
  streamingExportEnabled: boolean;
  /** true: the read timestamp moves with the clock even with no writes (a busy deployment). */
  readTsFollowsClock: boolean;
  maxDocumentBytes: number;
  /** Answer 408 when a request (with injected latency) takes longer than this. */
  requestTimeoutMs: number;
  /** false reproduces a backend older than Data Sync: its three routes answer 404. */
  dataSyncEnabled: boolean;
  /** Data Sync entries per page (a target: one transaction is never split). */
  dataSyncPageSizeLimit: number;
  /** Data Sync bytes of emitted documents per page (a target, as above). */
  dataSyncPageBytesLimit: number;
  /** Data Sync log rows read per page, unselected and system rows included. */
  dataSyncMaxRowsRead: number;
  /** A table walk reads by id only while the sync's timestamp lags the latest by less than this. */
  dataSyncByIdFreshnessSeconds: number;
}

export const DEFAULT_KNOBS: Knobs = {
  documentDeltasLimit: 128,
  snapshotListLimit: 1024,
  retentionSeconds: 14 * 24 * 3600,
  snapshotMaxAgeSeconds: 5 * 24 * 3600,
  importBodyLimitBytes: 20 * 1024 * 1024,
  defaultBodyLimitBytes: 2 * 1024 * 1024,
  transactionMaxWrites: 16_000,
  transactionMaxBytes: 16 * 1024 * 1024,
  indexBackfillPolls: 1,
  streamingExportEnabled: true,
  readTsFollowsClock: true,
  maxDocumentBytes: 1024 * 1024,
  requestTimeoutMs: 300_000,
  dataSyncEnabled: true,
  dataSyncPageSizeLimit: 16_384,
  dataSyncPageBytesLimit: 64 * 1024 * 1024,
  dataSyncMaxRowsRead: 32_768,
  dataSyncByIdFreshnessSeconds: 30,
};
