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
    /**
     * Which Convex export API a new export reads (BRIDGE_SOURCE): `auto` takes Data Sync where the
     * deployment serves it and moves a legacy export onto it once; an export keeps its source.
     */
    source: z.enum(['auto', 'data-sync', 'legacy']).default('auto'),
    /** When Convex refuses the cursor as too old (BRIDGE_ON_EXPIRED_CURSOR): resync, or stop. */
    onExpiredCursor: z.enum(['resync', 'stop']).default('resync'),
  })
  .strict();

/** Settings of the stream itself: with `"stream": "shared"` they come from the top level only. */
const STREAM_SETTINGS = ['streamMode', 'shardCount', 'retentionHours', 'maxRecordKiB'] as const;

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
    /**
     * Default 500, or 10 on FIFO queues (their Lambda limit). With a 1 s window and 20 concurrent
     * batches this measured 2.6x the backlog rate of 100 / 5 s / 5 with a fifth of the requests,
     * and p99 latency at low traffic 1 s instead of 5 s (README "Performance", docs/import.md).
     */
    batchSize: z.number().int().min(1).max(10_000).optional(),
    batchingWindowSeconds: z.number().int().min(0).max(300).default(1),
    maxConcurrency: z.number().int().min(2).max(1000).default(20),
    maxReceiveCount: z.number().int().min(1).max(1000).default(5),
    timeoutSeconds: z.number().int().min(10).max(900).default(60),
    memoryMb: z.number().int().min(256).max(10_240).default(512),
    /**
     * Keep the import queue and its DLQ on `cdk destroy` (default): quarantined messages are
     * someone's data until an operator redrives or purges them (`convex-bridge dlq`).
     */
    retainQueues: z.boolean().default(true),
  })
  .strict()
  .refine((i) => !i.fifo || i.batchSize === undefined || i.batchSize <= 10, {
    message: 'FIFO queues deliver at most 10 messages per Lambda batch',
    path: ['batchSize'],
  })
  .transform((i) => ({ ...i, batchSize: i.batchSize ?? (i.fifo ? 10 : 500) }));

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

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** A plain-http URL on this machine: only a local stand-in (simulator, emulator deploy) uses one. */
export function isLoopbackHttp(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname);
  } catch {
    return false;
  }
}

const convexUrl = z
  .string()
  .url()
  .refine(
    (u) => u.startsWith('https://') || isLoopbackHttp(u),
    'must be an https:// deployment URL (plain http only on 127.0.0.1 or localhost, for a local stand-in)',
  );

/** Reference an existing secret holding the deploy key; otherwise an empty one is created. */
const deployKeySecret = z
  .object({ name: z.string().min(1).optional(), arn: z.string().startsWith('arn:').optional() })
  .strict();

/** The original form: one deployment, settings at the top level. */
const singleSchema = z
  .object({
    convexUrl,
    deployKeySecret: deployKeySecret.optional(),
    export: exportSchema.default(exportSchema.parse({})),
    import: importSchema.default(importSchema.parse({})),
    alarms: alarmSchema.default(alarmSchema.parse({})),
  })
  .strict()
  .refine((c) => c.export.enabled || c.import.enabled, {
    message: 'enable export, import or both',
    path: ['export', 'enabled'],
  });

/**
 * Every deployment costs about 30 resources and 10 outputs; CloudFormation allows 500 and 200 per
 * stack. Ten leaves room for the shared ones.
 */
export const MAX_DEPLOYMENTS = 10;

// Overrides are merged over the top-level sections key by key, then validated as a whole.
const section = z.record(z.string(), z.unknown()).default({});

const multiSchema = z
  .object({
    deployments: z
      .array(
        z
          .object({
            /** Names its state item (BRIDGE_EXPORT_ID), metrics, alarms and outputs. */
            name: z
              .string()
              .max(32)
              .regex(
                /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/,
                'must be lower-case letters and digits, words joined by single hyphens (e.g. prod-eu)',
              ),
            convexUrl,
            deployKeySecret: deployKeySecret.optional(),
            export: section,
            import: section,
            alarms: section,
          })
          .strict(),
      )
      .min(1)
      .max(MAX_DEPLOYMENTS),
    stream: z.enum(['perDeployment', 'shared']).default('perDeployment'),
    stateTable: z.enum(['shared', 'perDeployment']).default('shared'),
    export: section,
    import: section,
    alarms: section,
  })
  .strict();

export type ExportSettings = z.output<typeof exportSchema>;
export type ImportSettings = z.output<typeof importSchema>;
export type AlarmSettings = z.output<typeof alarmSchema>;

/** One Convex deployment and what the bridge runs for it. */
export interface DeploymentConfig {
  /** `default` in the single-deployment form; otherwise the configured name. */
  readonly name: string;
  readonly convexUrl: string;
  readonly deployKeySecret?:
    | { readonly name?: string | undefined; readonly arn?: string | undefined }
    | undefined;
  readonly export: ExportSettings;
  readonly import: ImportSettings;
  readonly alarms: AlarmSettings;
}

export interface BridgeConfig {
  /**
   * false for the single-deployment form (`convexUrl` at the top level): its construct IDs,
   * outputs and state item stay exactly as they were before deployment lists existed.
   */
  readonly named: boolean;
  readonly deployments: readonly DeploymentConfig[];
  /** One stream per deployment, or one stream all exports publish to. */
  readonly stream: 'perDeployment' | 'shared';
  /** One state table holding an item per deployment, or one table per deployment. */
  readonly stateTable: 'shared' | 'perDeployment';
  /** The top-level alarm settings: a deployment that names another e-mail or topic gets its own. */
  readonly alarms: AlarmSettings;
}

type Issue = { path: PropertyKey[]; message: string };

function formatIssues(issues: readonly Issue[], source: string): Error {
  const lines = issues.map((i) => `  ${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  return new Error(`invalid bridge configuration in ${source}:\n${lines.join('\n')}`);
}

function parseMulti(raw: unknown, source: string): BridgeConfig {
  const top = multiSchema.safeParse(raw);
  if (!top.success) throw formatIssues(top.error.issues, source);
  const c = top.data;
  const issues: Issue[] = [];
  const sections = { export: exportSchema, import: importSchema, alarms: alarmSchema } as const;
  // The top-level sections are defaults and must be valid on their own.
  const topOk = Object.fromEntries(
    (Object.keys(sections) as (keyof typeof sections)[]).map((key) => {
      const r = sections[key].safeParse(c[key]);
      if (!r.success) issues.push(...r.error.issues.map((i) => ({ ...i, path: [key, ...i.path] })));
      return [key, r.success];
    }),
  ) as Record<keyof typeof sections, boolean>;
  const seen = new Set<string>();
  const deployments: DeploymentConfig[] = [];
  c.deployments.forEach((d, index) => {
    const at = (...path: PropertyKey[]) => ['deployments', index, ...path];
    if (seen.has(d.name)) issues.push({ path: at('name'), message: `'${d.name}' is used twice` });
    seen.add(d.name);
    if (c.stream === 'shared')
      for (const key of STREAM_SETTINGS)
        if (key in d.export)
          issues.push({
            path: at('export', key),
            message: 'with "stream": "shared" the stream settings are set once, at the top level',
          });
    const parsed = {
      export: exportSchema.safeParse({ ...c.export, ...d.export }),
      import: importSchema.safeParse({ ...c.import, ...d.import }),
      alarms: alarmSchema.safeParse({ ...c.alarms, ...d.alarms }),
    };
    for (const key of Object.keys(sections) as (keyof typeof sections)[]) {
      const r = parsed[key];
      // A bad top-level default is reported once, above, not once per deployment.
      if (!r.success && topOk[key])
        issues.push(...r.error.issues.map((i) => ({ ...i, path: at(key, ...i.path) })));
    }
    if (parsed.export.success && parsed.import.success && parsed.alarms.success) {
      if (!parsed.export.data.enabled && !parsed.import.data.enabled)
        issues.push({ path: at('export', 'enabled'), message: 'enable export, import or both' });
      deployments.push({
        name: d.name,
        convexUrl: d.convexUrl,
        deployKeySecret: d.deployKeySecret,
        export: parsed.export.data,
        import: parsed.import.data,
        alarms: parsed.alarms.data,
      });
    }
  });
  if (issues.length > 0) throw formatIssues(issues, source);
  return {
    named: true,
    deployments,
    stream: c.stream,
    stateTable: c.stateTable,
    alarms: alarmSchema.parse(c.alarms),
  };
}

/** Validates deploy-time settings; the error names every bad setting by its path. */
export function parseBridgeConfig(raw: unknown, source: string): BridgeConfig {
  if (typeof raw === 'object' && raw !== null && 'deployments' in raw)
    return parseMulti(raw, source);
  const result = singleSchema.safeParse(raw);
  if (!result.success) throw formatIssues(result.error.issues, source);
  const { convexUrl: url, deployKeySecret: secret, ...settings } = result.data;
  return {
    named: false,
    deployments: [{ name: 'default', convexUrl: url, deployKeySecret: secret, ...settings }],
    stream: 'perDeployment',
    stateTable: 'perDeployment',
    alarms: settings.alarms,
  };
}

/** From `-c configFile=path.json`, else the `bridge` object in cdk.json's context. */
export function loadBridgeConfig(context: (key: string) => unknown): BridgeConfig {
  const file = context('configFile');
  if (typeof file === 'string')
    return parseBridgeConfig(JSON.parse(readFileSync(file, 'utf8')), file);
  return parseBridgeConfig(context('bridge'), 'cdk.json context "bridge"');
}
