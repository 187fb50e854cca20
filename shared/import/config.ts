// A namespace import lets esbuild drop what is unused (zod's locales): 460 -> 99 KiB per bundle.
import * as z from 'zod';
import {
  type ConvexConnection,
  convexConnectionShape,
  deployKeyRequired,
  toConvexConnection,
} from '../config/convex-connection.js';
import { intSetting, parseEnv } from '../config/parse-env.js';
import { ENV } from '../env.js';
import { ConfigError } from '../errors.js';
import type { ImportSettings } from './import-message.js';
import type { RequestLimits } from './plan-requests.js';

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
    [ENV.dlqUrl]: z
      .string({ message: 'is required (the dead-letter queue for messages that can never import)' })
      .url(),
    [ENV.importTables]: z.string().default('{}'),
    [ENV.importUnknownTables]: z.enum(['reject', 'append']).default('reject'),
    [ENV.importMaxRequestBytes]: int(64 * 1024, 19 * 1024 * 1024, 8 * 1024 * 1024),
    [ENV.importMaxRequestMessages]: int(1, 100_000, 10_000),
    [ENV.indexReadyTimeoutMs]: int(0, 900_000, 60_000),
    [ENV.safetyMarginMs]: int(0, 300_000, 5_000),
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
      `invalid configuration:\n  ${ENV.importTables}: is not JSON (expected {"table":{"primaryKey":[["field"]]}})`,
    );
  }
  const result = tablesSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map(
      (i) => `${ENV.importTables}.${i.path.map(String).join('.')}: ${i.message}`,
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
    dlqUrl: e[ENV.dlqUrl],
    settings: {
      tables: parseImportTables(e[ENV.importTables]),
      unknownTables: e[ENV.importUnknownTables],
    },
    limits: {
      maxBytes: e[ENV.importMaxRequestBytes],
      maxMessages: e[ENV.importMaxRequestMessages],
    },
    indexReadyTimeoutMs: e[ENV.indexReadyTimeoutMs],
    safetyMarginMs: e[ENV.safetyMarginMs],
  };
}
