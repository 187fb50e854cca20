import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/errors.js';
import { BRIDGE_VERSION } from '../shared/version.js';
import { EXIT, forTerminal, UsageError } from './output.js';

// Each command's module (and with it the AWS SDK, the Convex client, local mode and the simulator)
// is imported only when that command runs, so `--help` and `status` start fast. Keep it that way:
// test/cli/startup.test.ts fails if `--help` loads a command module.

const HELP: Record<string, string> = {
  '': `Usage: convex-bridge <command> [options]

Commands:
  start [--docs N] [--latency MS] [--writes N] [--import]
                      run the whole bridge on this machine with a live view (npm start)
  export [--follow] [--heartbeat S] [--quiet]
                      copy the snapshot, then changes, into Kinesis (until caught up, or keep following)
  setup               create the stream, state table and oversize bucket where missing
  status [--json]     caught up, idle or behind; phase, cursors, lag, lease holder and last error
  tail [--table T] [--from-start] [--follow]
                      print the stream's events as JSON lines (all shards)
  resync [--yes]      restart the export from a fresh snapshot
  migrate-source [--dry-run]
                      move a legacy export onto Convex's Data Sync, without a re-copy
  import [--follow]   import queued messages into Convex (until the queue is empty, or keep following)
  send --table T [--op delete] [--skip-invalid] [file.jsonl]
                      queue one message per JSON line (stdin by default); all or nothing
  clear-tables T... [--yes]
                      empty Convex tables (never done from a message)
  dlq list|show ID|redrive [--reason CODE] [--table T] [--dry-run]|purge [--yes]
                      look into the dead-letter queue, move messages back to the queue

Settings come from the environment (see README, "Configuration").
Exit codes: 0 ok, 1 failure (or messages left for retry, or a refused migration), 2 usage or
configuration error, 3 lease held elsewhere, 4 resync required, 5 import: queue not drained,
6 send: invalid input.
Run 'convex-bridge <command> --help' for a command's options; 'convex-bridge --version' for the version.`,
  start: `Usage: convex-bridge start [--docs N] [--latency MS] [--writes N] [--import]

Starts local AWS stand-ins (moto, kinesalite), creates the stream, state table, bucket and queues,
and runs the exporter (following changes) and the importer, showing live what flows. Ctrl-C stops
everything it started.

Without CONVEX_URL and CONVEX_DEPLOY_KEY it starts the Convex simulator with demo tables, a demo
writer and a demo message sender. With them it reads that deployment (never writes to it unless
--import is given).

  --docs N        extra demo documents in table 'events' (default 20000)
  --latency MS    simulated Convex latency per request (default 20)
  --writes N      demo writer changes per second (default 3; 0 for none)
  --import        import queued messages into the real deployment too`,
  export: `Usage: convex-bridge export [--follow] [--heartbeat SECONDS] [--quiet] [--verbose]

  --follow        keep polling for changes after catching up, until Ctrl-C; waits out outages of
                  Convex and AWS (retrying with backoff up to BRIDGE_FOLLOW_RETRY_MAX_MS, default
                  30000) and says so on stderr
  --heartbeat S   with --follow, a line on stderr every S seconds (default 30): events published,
                  lag of the newest event, cursor age
  --quiet         no heartbeat
  --verbose       log every step (JSON lines on stderr)

Needs CONVEX_URL, CONVEX_DEPLOY_KEY (or CONVEX_DEPLOY_KEY_SECRET_ID), BRIDGE_STREAM_NAME,
BRIDGE_STATE_TABLE, BRIDGE_OVERSIZE_BUCKET.`,
  setup: `Usage: convex-bridge setup

Creates whatever is configured and missing: BRIDGE_STREAM_NAME, BRIDGE_STATE_TABLE,
BRIDGE_OVERSIZE_BUCKET, and the import queue BRIDGE_QUEUE_URL with its dead-letter queue
BRIDGE_DLQ_URL (redrive after 5 receives). Meant for local emulators and trials; deploy production
resources with the CDK app.`,
  tail: `Usage: convex-bridge tail [--table NAME] [--from-start] [--follow]

Prints the events of BRIDGE_STREAM_NAME as JSON lines, exactly as stored, reading every shard;
says on stderr how many it read, from which stream and endpoint, and which tables it saw.
--from-start reads from the oldest record kept (default: only records newer than the command);
--follow keeps reading until Ctrl-C (default: stop when every shard is caught up).`,
  import: `Usage: convex-bridge import [--follow] [--verbose]

Receives from BRIDGE_QUEUE_URL, imports into Convex, deletes what was imported or quarantined.
Needs CONVEX_URL, CONVEX_DEPLOY_KEY, BRIDGE_QUEUE_URL, BRIDGE_DLQ_URL, BRIDGE_IMPORT_TABLES.
Ends with what the queue still holds: exit 0 only when it is empty, 5 when messages are in
flight, waiting behind them (FIFO) or delayed, 1 when this run failed or Convex refused the key.
--follow keeps going, waiting out SQS and Convex outages, until Ctrl-C.`,
  send: `Usage: convex-bridge send --table NAME [--op upsert|delete] [--skip-invalid] [file.jsonl]

Each non-empty line is a JSON object: the data of one message. Every line is checked first; bad
lines are reported with their line number and nothing is sent (exit 6) unless --skip-invalid
sends the valid ones. On a FIFO queue each document's key is its group.`,
  'clear-tables': `Usage: convex-bridge clear-tables TABLE... [--yes]

Deletes every document of the tables, atomically. Convex emits no delete events for them.`,
  status: `Usage: convex-bridge status [--json]

Reads BRIDGE_STATE_TABLE (and BRIDGE_EXPORT_ID, default 'default'). The first line says whether
the export is caught up (the cursor is fresh), caught up and idle (no changes for a while: the
newest event is old but the cursor is fresh), or behind (the cursor itself is old: no export runs,
or it cannot keep up).`,
  'migrate-source': `Usage: convex-bridge migrate-source [--dry-run]

Moves an export that reads Convex's legacy endpoints (list_snapshot, document_deltas) onto Data
Sync without copying anything again: Convex turns the delta cursor into a Data Sync cursor for the
same tables (BRIDGE_INCLUDE_TABLES and the other table settings), and the next run continues from
it. Only once the export follows changes (its snapshot copied). Takes the export's lease, so stop
a running exporter first (exit 3 while one holds it). When Convex refuses (a backend without Data
Sync, a cursor older than its retention) it says why and keeps the legacy source (exit 1).
With BRIDGE_SOURCE=auto (the default) the exporter tries this once by itself.
--dry-run asks Convex whether it would work and changes nothing.`,
  resync: `Usage: convex-bridge resync [--yes]

Discards the export cursors so the next run copies a fresh snapshot. Needed after Convex answers
InvalidWindowToReadDocuments or SnapshotTooOld. Asks for confirmation unless --yes is given.`,
};

export async function main(argv: string[]): Promise<number> {
  const [command = '', ...rest] = argv;
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`convex-bridge ${BRIDGE_VERSION}\n`);
    return EXIT.ok;
  }
  if (command === 'dlq') return (await import('./dlq-commands.js')).dlqCommand(rest);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      follow: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      heartbeat: { type: 'string' },
      table: { type: 'string' },
      op: { type: 'string', default: 'upsert' },
      'skip-invalid': { type: 'boolean', default: false },
      'from-start': { type: 'boolean', default: false },
      docs: { type: 'string' },
      latency: { type: 'string' },
      writes: { type: 'string' },
      import: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (command === '' || command === '--help' || command === '-h' || values.help) {
    process.stdout.write(`${HELP[command.startsWith('-') ? '' : command] ?? HELP['']}\n`);
    return command === '' ? EXIT.usage : EXIT.ok;
  }
  if (positionals.length > 0 && command !== 'send' && command !== 'clear-tables') {
    throw new UsageError(`'${command}' takes no arguments, got '${positionals.join(' ')}'`);
  }
  switch (command) {
    case 'start': {
      const { startCommand } = await import('./start-command.js');
      return startCommand({
        docs: values.docs,
        latency: values.latency,
        writes: values.writes,
        import: values.import,
      });
    }
    case 'export': {
      const { exportCommand } = await import('./export-commands.js');
      return exportCommand({
        follow: values.follow,
        verbose: values.verbose,
        quiet: values.quiet,
        heartbeat: values.heartbeat,
      });
    }
    case 'setup': {
      const { setupCommand } = await import('./export-commands.js');
      return setupCommand();
    }
    case 'status': {
      const { statusCommand } = await import('./status-command.js');
      return statusCommand({ json: values.json });
    }
    case 'resync': {
      const { resyncCommand } = await import('./export-commands.js');
      return resyncCommand({ yes: values.yes });
    }
    case 'migrate-source': {
      const { migrateSourceCommand } = await import('./migrate-source-command.js');
      return migrateSourceCommand({ dryRun: values['dry-run'] });
    }
    case 'tail': {
      const { tailCommand } = await import('./tail-command.js');
      return tailCommand({
        table: values.table,
        fromStart: values['from-start'],
        follow: values.follow,
      });
    }
    case 'import': {
      const { importCommand } = await import('./import-commands.js');
      return importCommand({ follow: values.follow, verbose: values.verbose });
    }
    case 'send': {
      const { sendCommand } = await import('./import-commands.js');
      return sendCommand({
        table: values.table,
        op: values.op,
        file: positionals[0],
        skipInvalid: values['skip-invalid'],
      });
    }
    case 'clear-tables': {
      const { clearTablesCommand } = await import('./import-commands.js');
      return clearTablesCommand({ tables: positionals, yes: values.yes });
    }
    default:
      throw new UsageError(`unknown command '${command}'; run 'convex-bridge --help'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usage =
      error instanceof UsageError ||
      error instanceof ConfigError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`convex-bridge: ${forTerminal((error as Error).message)}\n`);
    process.exitCode = usage ? EXIT.usage : EXIT.failed;
  },
);
