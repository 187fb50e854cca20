// A namespace import lets esbuild drop what is unused (zod's locales): 460 -> 99 KiB per bundle.
import * as z from 'zod';
import {
  type ConvexConnection,
  convexConnectionShape,
  deployKeyRequired,
  toConvexConnection,
} from '../config/convex-connection.js';
import { commaList, intSetting, parseEnv } from '../config/parse-env.js';
import { ENV } from '../env.js';
import type { TableFilter } from './table-filter.js';

const int = intSetting;

const schema = z
  .object({
    ...convexConnectionShape,
    [ENV.streamName]: z
      .string({ message: 'is required (the Kinesis stream to publish to)' })
      .min(1),
    [ENV.stateTable]: z
      .string({ message: 'is required (the DynamoDB table for cursors and the lease)' })
      .min(1),
    [ENV.oversizeBucket]: z
      .string({ message: 'is required (the S3 bucket for events above the record size)' })
      .min(1),
    [ENV.exportId]: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ . -')
      .default('default'),
    [ENV.includeTables]: z.string().optional(),
    [ENV.excludeTables]: z.string().optional(),
    [ENV.includeComponents]: z.string().optional(),
    [ENV.excludeComponents]: z.string().optional(),
    [ENV.pollIntervalMs]: int(50, 60_000, 500),
    [ENV.safetyMarginMs]: int(1_000, 300_000, 10_000),
    [ENV.leaseTtlMs]: int(1_000, 3_600_000, 60_000),
    [ENV.maxRecordBytes]: int(1_024, 10 * 1024 * 1024, 1024 * 1024),
    [ENV.valueFormat]: z.enum(['json', 'convex_encoded_json', 'export_json']).default('json'),
    [ENV.publishConcurrency]: int(1, 32, 4),
    [ENV.source]: z.enum(['auto', 'data-sync', 'legacy']).default('auto'),
    [ENV.onExpiredCursor]: z.enum(['resync', 'stop']).default('resync'),
    [ENV.schemaCheckSeconds]: int(10, 7 * 24 * 3600, 3600),
    [ENV.retentionSeconds]: int(3600, 365 * 24 * 3600, 14 * 24 * 3600),
  })
  .refine(...deployKeyRequired);

export interface ExportConfig {
  readonly convex: ConvexConnection;
  readonly streamName: string;
  readonly stateTable: string;
  readonly oversizeBucket: string;
  readonly exportId: string;
  readonly filter: TableFilter;
  readonly pollIntervalMs: number;
  readonly safetyMarginMs: number;
  readonly leaseTtlMs: number;
  readonly maxRecordBytes: number;
  readonly valueFormat: 'json' | 'convex_encoded_json' | 'export_json';
  readonly publishConcurrency: number;
  /** `auto`: Data Sync for a new export when the deployment serves it; an export keeps its source. */
  readonly source: 'auto' | 'data-sync' | 'legacy';
  readonly onExpiredCursor: 'resync' | 'stop';
  readonly schemaCheckSeconds: number;
  readonly retentionSeconds: number;
}

export function loadExportConfig(env: Readonly<Record<string, string | undefined>>): ExportConfig {
  const e = parseEnv(schema, env);
  const filter: TableFilter = Object.fromEntries(
    (
      [
        ['includeTables', commaList(e[ENV.includeTables])],
        ['excludeTables', commaList(e[ENV.excludeTables])],
        ['includeComponents', commaList(e[ENV.includeComponents])],
        ['excludeComponents', commaList(e[ENV.excludeComponents])],
      ] as const
    ).filter(([, v]) => v !== undefined),
  );
  return {
    convex: toConvexConnection(e),
    streamName: e[ENV.streamName],
    stateTable: e[ENV.stateTable],
    oversizeBucket: e[ENV.oversizeBucket],
    exportId: e[ENV.exportId],
    filter,
    pollIntervalMs: e[ENV.pollIntervalMs],
    safetyMarginMs: e[ENV.safetyMarginMs],
    leaseTtlMs: e[ENV.leaseTtlMs],
    maxRecordBytes: e[ENV.maxRecordBytes],
    valueFormat: e[ENV.valueFormat],
    publishConcurrency: e[ENV.publishConcurrency],
    source: e[ENV.source],
    onExpiredCursor: e[ENV.onExpiredCursor],
    schemaCheckSeconds: e[ENV.schemaCheckSeconds],
    retentionSeconds: e[ENV.retentionSeconds],
  };
}
