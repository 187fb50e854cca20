import { readFileSync } from 'node:fs';
import { z } from 'zod';

const tableName = z
  .string()
  .regex(/^([A-Za-z0-9_]+\/)*[A-Za-z][A-Za-z0-9_]{0,63}$/, 'must be table or component/table');
const keyField = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'primary key fields must be identifiers');

const exportSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Minutes between scheduled ticks; each invocation follows changes for the whole period. */
    scheduleMinutes: z.number().int().min(1).max(15).default(1),
    includeTables: z.array(tableName).default([]),
    excludeTables: z.array(tableName).default([]),
    streamMode: z.enum(['ON_DEMAND', 'PROVISIONED']).default('ON_DEMAND'),
    shardCount: z.number().int().min(1).max(500).default(1),
    retentionHours: z.number().int().min(24).max(8760).default(24),
    pollIntervalMs: z.number().int().min(50).max(60_000).default(500),
    memoryMb: z.number().int().min(256).max(10_240).default(512),
    /** Kinesis maximum record size in KiB (default 1024); larger lets fewer events go to S3. */
    maxRecordKiB: z.number().int().min(1024).max(10_240).default(1024),
  })
  .strict();

const importSchema = z
  .object({
    enabled: z.boolean().default(true),
    fifo: z.boolean().default(false),
    tables: z
      .record(
        z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/),
        z.object({ primaryKey: z.array(z.array(keyField).min(1)).min(1).optional() }).strict(),
      )
      .default({}),
    unknownTables: z.enum(['reject', 'append']).default('reject'),
    /** Default 100, or 10 on FIFO queues (their Lambda limit). */
    batchSize: z.number().int().min(1).max(10_000).optional(),
    batchingWindowSeconds: z.number().int().min(0).max(300).default(5),
    maxConcurrency: z.number().int().min(2).max(1000).default(5),
    maxReceiveCount: z.number().int().min(1).max(1000).default(5),
    timeoutSeconds: z.number().int().min(10).max(900).default(60),
    memoryMb: z.number().int().min(256).max(10_240).default(512),
  })
  .strict()
  .refine((i) => !i.fifo || i.batchSize === undefined || i.batchSize <= 10, {
    message: 'FIFO queues deliver at most 10 messages per Lambda batch',
    path: ['batchSize'],
  })
  .transform((i) => ({ ...i, batchSize: i.batchSize ?? (i.fifo ? 10 : 100) }));

const alarmSchema = z
  .object({
    /** Alarm when the newest exported change is older than this. */
    lagSeconds: z.number().int().min(10).default(300),
    /** Alarm when the export cursor is this old: Convex keeps 14 days of log. */
    cursorAgeHours: z.number().int().min(1).max(335).default(168),
    /** Alarm when the oldest queued import message is this old. */
    oldestMessageSeconds: z.number().int().min(60).default(900),
    email: z.string().email().optional(),
    snsTopicArn: z.string().startsWith('arn:').optional(),
  })
  .strict();

const schema = z
  .object({
    convexUrl: z
      .string()
      .url()
      .refine((u) => u.startsWith('https://'), 'must be an https:// deployment URL'),
    /** Reference an existing secret holding the deploy key; otherwise an empty one is created. */
    deployKeySecret: z
      .object({ name: z.string().min(1).optional(), arn: z.string().startsWith('arn:').optional() })
      .strict()
      .optional(),
    export: exportSchema.default(exportSchema.parse({})),
    import: importSchema.default(importSchema.parse({})),
    alarms: alarmSchema.default(alarmSchema.parse({})),
  })
  .strict()
  .refine((c) => c.export.enabled || c.import.enabled, {
    message: 'enable export, import or both',
    path: ['export', 'enabled'],
  });

export type BridgeConfig = z.output<typeof schema>;
export type ExportSettings = BridgeConfig['export'];
export type ImportSettings = BridgeConfig['import'];
export type AlarmSettings = BridgeConfig['alarms'];

/** Validates deploy-time settings; the error names every bad setting by its path. */
export function parseBridgeConfig(raw: unknown, source: string): BridgeConfig {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map(
    (i) => `  ${i.path.map(String).join('.') || '(root)'}: ${i.message}`,
  );
  throw new Error(`invalid bridge configuration in ${source}:\n${lines.join('\n')}`);
}

/** From `-c configFile=path.json`, else the `bridge` object in cdk.json's context. */
export function loadBridgeConfig(context: (key: string) => unknown): BridgeConfig {
  const file = context('configFile');
  if (typeof file === 'string')
    return parseBridgeConfig(JSON.parse(readFileSync(file, 'utf8')), file);
  return parseBridgeConfig(context('bridge'), 'cdk.json context "bridge"');
}
