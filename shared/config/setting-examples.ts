// Plain data and one helper, without the schema library: `status` reads its settings with them.

/** A valid value of each setting, shown with any error about it (numbers show their default). */
export const SETTING_EXAMPLES: Readonly<Record<string, string>> = {
  CONVEX_URL: 'https://happy-animal-123.convex.cloud',
  CONVEX_DEPLOY_KEY_SECRET_ID: 'convex-bridge/deploy-key',
  BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
  BRIDGE_STREAM_NAME: 'convex-changes',
  BRIDGE_STATE_TABLE: 'convex-bridge-state',
  BRIDGE_OVERSIZE_BUCKET: 'convex-bridge-oversize',
  BRIDGE_EXPORT_ID: 'default',
  BRIDGE_INCLUDE_TABLES: 'users,messages',
  BRIDGE_EXCLUDE_TABLES: 'audit_log',
  BRIDGE_SOURCE: 'auto',
  BRIDGE_ON_EXPIRED_CURSOR: 'resync',
  BRIDGE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/convex-import',
  BRIDGE_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/convex-import-dlq',
  BRIDGE_IMPORT_TABLES: '{"users":{"primaryKey":[["email"]]}}',
};

/** Empty (or blank) variables count as unset, as a shell's `VAR=` means "no value". */
export function withoutEmpty(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env))
    if (value !== undefined && value.trim() !== '') out[key] = value;
  return out;
}
