import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createInterface as createPrompt } from 'node:readline/promises';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { DynamoDbTableClearLog } from '../shared/adapters/dynamodb-table-clears.js';
import { chunkForSqs } from '../shared/adapters/sqs-quarantine.js';
import { createSecretsManagerClient, createSqsClient } from '../shared/aws/clients.js';
import { createDynamoDbClient } from '../shared/aws/dynamodb-client.js';
import { loadConvexConnection } from '../shared/config/convex-connection.js';
import { parseEnv } from '../shared/config/parse-env.js';
import { withoutEmpty } from '../shared/config/setting-examples.js';
import type { ConvexClient } from '../shared/convex/client.js';
import { ENV } from '../shared/env.js';
import { splitTableEntry } from '../shared/export/table-filter.js';
import { loadImportConfig, parseImportTables } from '../shared/import/config.js';
import { type Dependency, drainQueue, type ImportTotals } from '../shared/import/drain-queue.js';
import { primaryKeyValues, validateMessage } from '../shared/import/import-message.js';
import type { QueueDepth } from '../shared/ports/message-queue.js';
import { MemoryMetrics } from '../shared/ports/observability.js';
import { stringifyLossless } from '../shared/values/lossless-json.js';
import { connectToConvex } from '../shared/wiring/convex.js';
import { buildImportDeps, buildMessageQueue, importOptionsFrom } from '../shared/wiring/import.js';
import { EXIT, print, stderrLog, UsageError } from './output.js';

const queueSchema = z.object({
  [ENV.queueUrl]: z.string({ message: 'is required (the import queue)' }).url(),
});

/**
 * Exit codes of the import commands beyond cli/output.ts's EXIT (0 ok, 1 failure, 2 usage or
 * configuration): documented in the README's "CLI" and in `--help`.
 */
export const IMPORT_EXIT = {
  /** `import`: the run went well, but the queue still holds messages (in flight, blocked, delayed). */
  notDrained: 5,
  /** `send`: the input file is missing, unreadable, or has invalid lines; nothing was queued. */
  badInput: 6,
} as const;

const DEPENDENCY_NAMES: Record<Dependency, string> = { queue: 'SQS', target: 'Convex' };

/** What the queue still holds, in words, or undefined when it is empty. */
export function describeLeft(left: QueueDepth, fifo: boolean): string | undefined {
  const parts: string[] = [];
  if (left.inFlight > 0)
    parts.push(`${left.inFlight} in flight (invisible until their visibility timeout ends)`);
  if (left.visible > 0)
    parts.push(
      fifo && left.inFlight > 0
        ? `${left.visible} waiting behind them in their FIFO groups`
        : `${left.visible} waiting to be received`,
    );
  if (left.delayed > 0) parts.push(`${left.delayed} delayed (sent with a delay)`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/**
 * `import [--follow]`: receive from the queue, import, delete what is done; outside Lambda. A
 * one-shot run ends with the queue's state and exits 0 only when it is empty; a follower rides
 * out outages of SQS and Convex, saying what it waits for; a halt (Convex refuses the key) ends
 * either with the fix.
 */
export async function importCommand(flags: { follow: boolean; verbose: boolean }): Promise<number> {
  const { [ENV.queueUrl]: queueUrl } = parseEnv(queueSchema, process.env);
  const config = loadImportConfig(process.env);
  const metrics = new MemoryMetrics();
  const deps = await buildImportDeps(config, { metrics, log: stderrLog(flags.verbose) });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const queue = buildMessageQueue(queueUrl);
  let totals: ImportTotals;
  try {
    totals = await drainQueue(queue, deps, {
      import: importOptionsFrom(config, () => Number.POSITIVE_INFINITY),
      follow: flags.follow,
      signal: stop.signal,
      onWait: (what, reason, delayMs) =>
        process.stderr.write(
          `import: waiting ${Math.max(1, Math.round(delayMs / 1000))} s for ${DEPENDENCY_NAMES[what]} (${reason})\n`,
        ),
      onResume: (what) =>
        process.stderr.write(`import: ${DEPENDENCY_NAMES[what]} is reachable again; resuming\n`),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  print(
    `import: ${totals.imported} imported, ${totals.quarantined} quarantined (DLQ), ${totals.retried} left for retry`,
  );
  if (totals.halt) {
    process.stderr.write(
      `convex-bridge: import halted: ${totals.halt.message}\n` +
        `  ${totals.retried} message(s) stay in the queue, backed off (longer at each receive); run import again once fixed\n`,
    );
    return EXIT.failed;
  }
  if (flags.follow) return EXIT.ok; // stopped on request
  // The queue's own counts: what this run could not receive is still there (in flight after a
  // failed run, or behind such messages in their FIFO group), and "0 imported" would not say so.
  let depth: QueueDepth;
  try {
    depth = await queue.depth();
  } catch (error) {
    print(`queue state unknown: ${(error as Error).message}`);
    return totals.retried > 0 ? EXIT.failed : IMPORT_EXIT.notDrained;
  }
  const left = describeLeft(depth, queueUrl.endsWith('.fifo'));
  print(left === undefined ? 'queue drained' : `queue not drained: ${left}`);
  if (totals.retried > 0) return EXIT.failed;
  return left === undefined ? EXIT.ok : IMPORT_EXIT.notDrained;
}

/** Reads every line of `file` (stdin without one); resolves undefined, having said why, if it cannot. */
async function readLines(file: string | undefined): Promise<string[] | undefined> {
  const input = file ? createReadStream(file) : process.stdin;
  const out: string[] = [];
  try {
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) out.push(line);
  } catch (error) {
    process.stderr.write(
      `convex-bridge: cannot read ${file ?? 'stdin'}: ${(error as Error).message}\n`,
    );
    return undefined;
  }
  return out;
}

/**
 * `send --table T [--op delete] [--skip-invalid] [file.jsonl]`: one JSON object per line becomes
 * one message's data. All or nothing: every line is checked first and nothing is queued if one is
 * invalid (exit 6), unless --skip-invalid queues the valid ones.
 */
export async function sendCommand(flags: {
  table: string | undefined;
  op: string;
  file: string | undefined;
  skipInvalid: boolean;
}): Promise<number> {
  if (!flags.table) throw new UsageError('send needs --table NAME');
  if (flags.op !== 'upsert' && flags.op !== 'delete')
    throw new UsageError(`--op must be upsert or delete, got '${flags.op}'`);
  const { [ENV.queueUrl]: queueUrl } = parseEnv(queueSchema, process.env);
  const tables = parseImportTables(process.env.BRIDGE_IMPORT_TABLES ?? '{}');
  const settings = {
    tables,
    unknownTables:
      process.env.BRIDGE_IMPORT_UNKNOWN_TABLES === 'append' || !(flags.table in tables)
        ? ('append' as const)
        : ('reject' as const),
  };
  const fifo = queueUrl.endsWith('.fifo');
  const lines = await readLines(flags.file);
  if (lines === undefined) return IMPORT_EXIT.badInput;
  const ready: { body: string; group: string }[] = [];
  let bad = 0;
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    if (line.trim() === '') return;
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch (error) {
      process.stderr.write(`line ${lineNo}: not JSON (${(error as Error).message})\n`);
      bad++;
      return;
    }
    const body = JSON.stringify({ table: flags.table, op: flags.op, data });
    const checked = validateMessage(body, settings);
    if ('rejection' in checked) {
      process.stderr.write(
        `line ${lineNo}: ${checked.rejection.code}: ${checked.rejection.message}\n`,
      );
      bad++;
      return;
    }
    const key = primaryKeyValues(checked.message).map((v) => stringifyLossless(v));
    ready.push({ body, group: `${flags.table}:${key.join('|')}`.slice(0, 128) });
  });
  if (bad > 0 && (!flags.skipInvalid || ready.length === 0)) {
    process.stderr.write(
      ready.length === 0
        ? `nothing sent: no valid line in ${flags.file ?? 'stdin'}\n`
        : `nothing sent: ${bad} of ${lines.length} line(s) are invalid (above); fix them, or pass --skip-invalid to send the other ${ready.length}\n`,
    );
    return IMPORT_EXIT.badInput;
  }
  const sqs = createSqsClient();
  let sent = 0;
  for (const chunk of chunkForSqs(ready, (r) => r.body, 256)) {
    const out = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((r, i) => ({
          Id: String(i),
          MessageBody: r.body,
          // Per-key groups keep each document's messages in order on a FIFO queue.
          ...(fifo ? { MessageGroupId: r.group, MessageDeduplicationId: randomUUID() } : {}),
        })),
      }),
    );
    for (const f of out.Failed ?? []) process.stderr.write(`not sent: ${f.Code}: ${f.Message}\n`);
    sent += chunk.length - (out.Failed ?? []).length;
  }
  if (bad > 0) process.stderr.write(`skipped ${bad} invalid line(s) (above)\n`);
  print(`sent ${sent} message(s) to the queue`);
  return sent === ready.length ? EXIT.ok : EXIT.failed;
}

/** `clear-tables T…`: empties Convex tables atomically (after confirmation). Never from a message. */
export async function clearTablesCommand(flags: {
  tables: string[];
  yes: boolean;
}): Promise<number> {
  if (flags.tables.length === 0) throw new UsageError('clear-tables needs at least one table name');
  const connection = loadConvexConnection(process.env);
  if (!flags.yes) {
    if (!process.stdin.isTTY)
      throw new UsageError(
        'clear-tables deletes every document of those tables; pass --yes to confirm',
      );
    const rl = createPrompt({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(
      `Delete every document in ${flags.tables.join(', ')}? Type "clear" to confirm: `,
    );
    rl.close();
    if (answer.trim() !== 'clear') {
      print('clear-tables cancelled');
      return EXIT.usage;
    }
  }
  const client = await connectToConvex(connection, () => createSecretsManagerClient());
  const log = clearLog();
  // Convex's time just before the clear: the exporter publishes the truncate where its change
  // log passes it, so no older change of these tables follows it (docs/events.md).
  const before = log ? await convexNow(client) : undefined;
  await client.clearTables(flags.tables);
  print(`cleared ${flags.tables.join(', ')}`);
  if (log === undefined || before === undefined) {
    print(
      `note: ${ENV.stateTable} is not set, so no export learns of this clear; consumers keep the old rows`,
    );
    return EXIT.ok;
  }
  const recordedAt = new Date().toISOString();
  for (const table of flags.tables) {
    const [component, name] = splitTableEntry(table);
    await log.record({ component, table: name, before, recordedAt });
  }
  print(`recorded for export '${log.exportId}': consumers get a truncate event for each table`);
  return EXIT.ok;
}

/** The clear log of the export named by the environment, when a state table is configured. */
function clearLog(): (DynamoDbTableClearLog & { exportId: string }) | undefined {
  const env = withoutEmpty(process.env);
  const table = env[ENV.stateTable];
  if (table === undefined) return undefined;
  const exportId = env[ENV.exportId] ?? 'default';
  return Object.assign(new DynamoDbTableClearLog(createDynamoDbClient(), table, exportId), {
    exportId,
  });
}

/** Convex's latest timestamp: a snapshot of no tables costs one small request. */
async function convexNow(client: ConvexClient): Promise<string> {
  const page = await client.listSnapshot({ selection: { selection: { _other: 'excluded' } } });
  return page.snapshot;
}
