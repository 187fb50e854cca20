import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/errors.js';
import { exportCommand, resyncCommand, setupCommand, statusCommand } from './export-commands.js';
import { EXIT, UsageError } from './output.js';

const HELP: Record<string, string> = {
  '': `Usage: convex-bridge <command> [options]

Commands:
  export [--follow]   copy the snapshot, then changes, into Kinesis (until caught up, or keep following)
  setup               create the stream, state table and oversize bucket where missing
  status [--json]     show phase, cursors, lag, lease holder and last error
  resync [--yes]      restart the export from a fresh snapshot

Settings come from the environment (see README, "Configuration").
Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 lease held elsewhere, 4 resync required.
Run 'convex-bridge <command> --help' for a command's options.`,
  export: `Usage: convex-bridge export [--follow] [--verbose]

  --follow    keep polling for changes after catching up, until Ctrl-C
  --verbose   log every step (JSON lines on stderr)

Needs CONVEX_URL, CONVEX_DEPLOY_KEY (or CONVEX_DEPLOY_KEY_SECRET_ID), BRIDGE_STREAM_NAME,
BRIDGE_STATE_TABLE, BRIDGE_OVERSIZE_BUCKET.`,
  setup: `Usage: convex-bridge setup

Creates BRIDGE_STREAM_NAME, BRIDGE_STATE_TABLE and BRIDGE_OVERSIZE_BUCKET where they do not exist.
Meant for local emulators and trials; deploy production resources with the CDK app.`,
  status: `Usage: convex-bridge status [--json]

Reads BRIDGE_STATE_TABLE (and BRIDGE_EXPORT_ID, default 'default').`,
  resync: `Usage: convex-bridge resync [--yes]

Discards the export cursors so the next run copies a fresh snapshot. Needed after Convex answers
InvalidWindowToReadDocuments or SnapshotTooOld. Asks for confirmation unless --yes is given.`,
};

export async function main(argv: string[]): Promise<number> {
  const [command = '', ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      follow: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (command === '' || command === '--help' || command === '-h' || values.help) {
    process.stdout.write(`${HELP[command.startsWith('-') ? '' : command] ?? HELP['']}\n`);
    return command === '' ? EXIT.usage : EXIT.ok;
  }
  switch (command) {
    case 'export':
      return exportCommand({ follow: values.follow, verbose: values.verbose });
    case 'setup':
      return setupCommand();
    case 'status':
      return statusCommand({ json: values.json });
    case 'resync':
      return resyncCommand({ yes: values.yes });
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
    process.stderr.write(`convex-bridge: ${(error as Error).message}\n`);
    process.exitCode = usage ? EXIT.usage : EXIT.failed;
  },
);
