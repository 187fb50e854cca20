import { z } from 'zod';
import {
  type ConvexConnection,
  convexConnectionShape,
  deployKeyRequired,
  toConvexConnection,
} from '../../shared/config/convex-connection.js';
import { intSetting, parseEnv } from '../../shared/config/parse-env.js';
import { ConfigError } from '../../shared/errors.js';
import type { ImportSettings } from '../../shared/import/import-message.js';
import type { RequestLimits } from '../../shared/import/plan-requests.js';

const int = intSetting;
const fieldName = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9_]*$/,
    'primary key fields must be identifiers (a letter, then letters, digits or _)',
  );

const tablesSchema = z.record(
  z
    .string()
    .regex(
      /^[A-Za-z][A-Za-z0-9_]{0,63}$/,
      'table names must be identifiers of at most 64 characters',
    ),
  z.object({ primaryKey: z.array(z.array(fieldName).min(1)).min(1).optional() }).strict(),
);

const schema = z
  .object({
    ...convexConnectionShape,
    BRIDGE_DLQ_URL: z
      .string({ message: 'is required (the dead-letter queue for messages that can never import)' })
      .url(),
    BRIDGE_IMPORT_TABLES: z.string().default('{}'),
    BRIDGE_IMPORT_UNKNOWN_TABLES: z.enum(['reject', 'append']).default('reject'),
    BRIDGE_IMPORT_MAX_REQUEST_BYTES: int(64 * 1024, 19 * 1024 * 1024, 8 * 1024 * 1024),
    BRIDGE_IMPORT_MAX_REQUEST_MESSAGES: int(1, 100_000, 10_000),
    BRIDGE_INDEX_READY_TIMEOUT_MS: int(0, 900_000, 60_000),
    BRIDGE_SAFETY_MARGIN_MS: int(0, 300_000, 5_000),
  })
  .refine(...deployKeyRequired);

export interface ImportConfig {
  readonly convex: ConvexConnection;
  readonly dlqUrl: string;
  readonly settings: ImportSettings;
  readonly limits: RequestLimits;
  readonly indexReadyTimeoutMs: number;
  readonly safetyMarginMs: number;
}

/** Parses BRIDGE_IMPORT_TABLES, e.g. {"users":{"primaryKey":[["email"]]},"events":{}}. */
export function parseImportTables(raw: string): ImportSettings['tables'] {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError(
      'invalid configuration:\n  BRIDGE_IMPORT_TABLES: is not JSON (expected {"table":{"primaryKey":[["field"]]}})',
    );
  }
  const result = tablesSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map(
      (i) => `BRIDGE_IMPORT_TABLES.${i.path.map(String).join('.')}: ${i.message}`,
    );
    throw new ConfigError(`invalid configuration:\n  ${issues.join('\n  ')}`);
  }
  return Object.fromEntries(
    Object.entries(result.data).map(([table, t]) => [
      table,
      t.primaryKey ? { primaryKey: t.primaryKey } : {},
    ]),
  );
}

export function loadImportConfig(env: Readonly<Record<string, string | undefined>>): ImportConfig {
  const e = parseEnv(schema, env);
  return {
    convex: toConvexConnection(e),
    dlqUrl: e.BRIDGE_DLQ_URL,
    settings: {
      tables: parseImportTables(e.BRIDGE_IMPORT_TABLES),
      unknownTables: e.BRIDGE_IMPORT_UNKNOWN_TABLES,
    },
    limits: {
      maxBytes: e.BRIDGE_IMPORT_MAX_REQUEST_BYTES,
      maxMessages: e.BRIDGE_IMPORT_MAX_REQUEST_MESSAGES,
    },
    indexReadyTimeoutMs: e.BRIDGE_INDEX_READY_TIMEOUT_MS,
    safetyMarginMs: e.BRIDGE_SAFETY_MARGIN_MS,
  };
}
