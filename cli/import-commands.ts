import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createInterface as createPrompt } from 'node:readline/promises';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { SqsMessageQueue } from '../shared/adapters/sqs-message-queue.js';
import { chunkForSqs } from '../shared/adapters/sqs-quarantine.js';
import { createSecretsManagerClient, createSqsClient } from '../shared/aws/clients.js';
import { loadConvexConnection } from '../shared/config/convex-connection.js';
import { parseEnv } from '../shared/config/parse-env.js';
import { ENV } from '../shared/env.js';
import { loadImportConfig, parseImportTables } from '../shared/import/config.js';
import { drainQueue, type ImportTotals } from '../shared/import/drain-queue.js';
import { primaryKeyValues, validateMessage } from '../shared/import/import-message.js';
import { MemoryMetrics } from '../shared/ports/observability.js';
import { stringifyLossless } from '../shared/values/lossless-json.js';
import { connectToConvex } from '../shared/wiring/convex.js';
import { buildImportDeps, importOptionsFrom } from '../shared/wiring/import.js';
import { EXIT, print, stderrLog, UsageError } from './output.js';

const queueSchema = z.object({
  [ENV.queueUrl]: z.string({ message: 'is required (the import queue)' }).url(),
});

/** `import [--follow]`: receive from the queue, import, delete what is done; outside Lambda. */
export async function importCommand(flags: { follow: boolean; verbose: boolean }): Promise<number> {
  const { [ENV.queueUrl]: queueUrl } = parseEnv(queueSchema, process.env);
  const config = loadImportConfig(process.env);
  const metrics = new MemoryMetrics();
  const deps = await buildImportDeps(config, { metrics, log: stderrLog(flags.verbose) });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let totals: ImportTotals;
  try {
    totals = await drainQueue(new SqsMessageQueue(createSqsClient(), queueUrl), deps, {
      import: importOptionsFrom(config, () => Number.POSITIVE_INFINITY),
      follow: flags.follow,
      signal: stop.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  print(
    `import: ${totals.imported} imported, ${totals.quarantined} quarantined (DLQ), ${totals.retried} left for retry`,
  );
  return totals.retried > 0 && !flags.follow ? EXIT.failed : EXIT.ok;
}

/** `send --table T [--op delete] [file.jsonl]`: one JSON object per line becomes one message's data. */
export async function sendCommand(flags: {
  table: string | undefined;
  op: string;
  file: string | undefined;
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
  const input = flags.file ? createReadStream(flags.file) : process.stdin;
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const ready: { body: string; group: string }[] = [];
  let lineNo = 0;
  let bad = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch (error) {
      process.stderr.write(`line ${lineNo}: not JSON (${(error as Error).message})\n`);
      bad++;
      continue;
    }
    const body = JSON.stringify({ table: flags.table, op: flags.op, data });
    const checked = validateMessage(body, settings);
    if ('rejection' in checked) {
      process.stderr.write(
        `line ${lineNo}: ${checked.rejection.code}: ${checked.rejection.message}\n`,
      );
      bad++;
      continue;
    }
    const key = primaryKeyValues(checked.message).map((v) => stringifyLossless(v));
    ready.push({ body, group: `${flags.table}:${key.join('|')}`.slice(0, 128) });
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
  print(
    `sent ${sent} message(s) to the queue${bad > 0 ? `; ${bad} line(s) refused (see above)` : ''}`,
  );
  return bad > 0 ? EXIT.usage : sent === ready.length ? EXIT.ok : EXIT.failed;
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
  await client.clearTables(flags.tables);
  print(`cleared ${flags.tables.join(', ')}`);
  return EXIT.ok;
}
