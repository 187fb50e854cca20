/**
 * Names the runtime writes and the CDK app reads (or sets): one source, so a dashboard, an alarm
 * or a table key can never drift from what the functions actually use. Constants only: the CDK
 * app may import this file (docs/architecture.md).
 */

/** CloudWatch namespace of every metric the bridge emits. */
export const METRICS_NAMESPACE = 'ConvexStreamBridge';

/** The `service` dimension (Powertools) of each function's metrics, and its logger's name. */
export const SERVICES = {
  export: { metrics: 'export', logger: 'convex-bridge-export' },
  import: { metrics: 'import', logger: 'convex-bridge-import' },
} as const;

/** Every metric name; `Quarantined<Code>` adds one per quarantine reason code. */
export const METRICS = {
  pages: 'Pages',
  snapshotEvents: 'SnapshotEvents',
  upsertEvents: 'UpsertEvents',
  deleteEvents: 'DeleteEvents',
  bytesPublished: 'BytesPublished',
  publishRetries: 'PublishRetries',
  throttles: 'Throttles',
  claimChecks: 'ClaimChecks',
  convexRetries: 'ConvexRetries',
  lagSeconds: 'LagSeconds',
  cursorAgeSeconds: 'CursorAgeSeconds',
  resyncRequired: 'ResyncRequired',
  /** A new generation was started (automatic resync or `convex-bridge resync`). */
  resyncStarted: 'ResyncStarted',
  /** Control events published (each counted once, not per shard copy). */
  controlEvents: 'ControlEvents',
  truncates: 'Truncates',
  schemaChanges: 'SchemaChanges',
  /** The cursor's age as a percentage of Convex's retention window; warned at 50. */
  cursorRetentionUsed: 'CursorRetentionUsed',
  /** 1 while the Data Sync source reports `snapshotting`, else 0. */
  sourceSnapshotting: 'SourceSnapshotting',
  /** 1 while the Data Sync source reports `upToDate`, 0 while `stale` or `snapshotting`. */
  sourceUpToDate: 'SourceUpToDate',
  leaseLost: 'LeaseLost',
  duplicates: 'Duplicates',
  recoveredRecords: 'RecoveredRecords',
  importRequests: 'ImportRequests',
  importBytes: 'ImportBytes',
  messagesImported: 'MessagesImported',
  messagesQuarantined: 'MessagesQuarantined',
  messagesRetried: 'MessagesRetried',
  /** One per import batch halted because Convex refuses every request (a bad key): alarmed. */
  importHalted: 'ImportHalted',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS] | `Quarantined${string}`;

/**
 * The metric dimension naming the export of a deployment in a multi-deployment stack (its
 * BRIDGE_EXPORT_ID); the single-deployment form emits none, as before.
 */
export const EXPORT_ID_DIMENSION = 'exportId';

/** The state table's partition key: a string attribute holding `export#<exportId>`. */
export const STATE_TABLE_KEY = 'pk';
