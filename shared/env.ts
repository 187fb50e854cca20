/** Environment variable names, shared by the runtime (reads) and the CDK app (sets). */
export const ENV = {
  convexUrl: 'CONVEX_URL',
  deployKey: 'CONVEX_DEPLOY_KEY',
  deployKeySecretId: 'CONVEX_DEPLOY_KEY_SECRET_ID',
  allowInsecureLoopback: 'BRIDGE_ALLOW_INSECURE_LOOPBACK',
  streamName: 'BRIDGE_STREAM_NAME',
  stateTable: 'BRIDGE_STATE_TABLE',
  oversizeBucket: 'BRIDGE_OVERSIZE_BUCKET',
  exportId: 'BRIDGE_EXPORT_ID',
  includeTables: 'BRIDGE_INCLUDE_TABLES',
  excludeTables: 'BRIDGE_EXCLUDE_TABLES',
  includeComponents: 'BRIDGE_INCLUDE_COMPONENTS',
  excludeComponents: 'BRIDGE_EXCLUDE_COMPONENTS',
  pollIntervalMs: 'BRIDGE_POLL_INTERVAL_MS',
  safetyMarginMs: 'BRIDGE_SAFETY_MARGIN_MS',
  leaseTtlMs: 'BRIDGE_LEASE_TTL_MS',
  maxRecordBytes: 'BRIDGE_MAX_RECORD_BYTES',
  valueFormat: 'BRIDGE_VALUE_FORMAT',
  publishConcurrency: 'BRIDGE_PUBLISH_CONCURRENCY',
  /** `auto` | `data-sync` | `legacy`: which Convex export API a new export reads. */
  source: 'BRIDGE_SOURCE',
  /** `resync` | `stop`: what the exporter does when Convex refuses its cursor as too old. */
  onExpiredCursor: 'BRIDGE_ON_EXPIRED_CURSOR',
  /** How often (seconds) the exporter compares Convex's table schemas with what it published. */
  schemaCheckSeconds: 'BRIDGE_SCHEMA_CHECK_SECONDS',
  /** Convex's change-log retention (seconds) the watchdog measures the cursor's age against. */
  retentionSeconds: 'BRIDGE_RETENTION_SECONDS',
  convexTimeoutMs: 'BRIDGE_CONVEX_TIMEOUT_MS',
  dlqUrl: 'BRIDGE_DLQ_URL',
  /** Read by the CLI's `import`/`send` (outside Lambda, where no event source mapping delivers). */
  queueUrl: 'BRIDGE_QUEUE_URL',
  importTables: 'BRIDGE_IMPORT_TABLES',
  importUnknownTables: 'BRIDGE_IMPORT_UNKNOWN_TABLES',
  importMaxRequestBytes: 'BRIDGE_IMPORT_MAX_REQUEST_BYTES',
  importMaxRequestMessages: 'BRIDGE_IMPORT_MAX_REQUEST_MESSAGES',
  indexReadyTimeoutMs: 'BRIDGE_INDEX_READY_TIMEOUT_MS',
} as const;
