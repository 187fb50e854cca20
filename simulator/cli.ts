import { parseArgs } from 'node:util';
import { seedDemoData } from './demo-data.js';
import { DEFAULT_KNOBS, type Knobs } from './knobs.js';
import { startSimulator } from './server.js';

const USAGE = `Usage: convex-bridge-sim [options]

A local stand-in for a Convex deployment's streaming export and import APIs, on 127.0.0.1.

Options:
  --port N              port to listen on (default 3210; 0 picks a free one)
  --deploy-key KEY      admin key clients must send (default: $CONVEX_DEPLOY_KEY)
  --read-only-key KEY   an extra key that may export but not import (repeatable)
  --seed demo           start with demo tables (users, messages, orders)
  --knob NAME=VALUE     override a limit, e.g. --knob documentDeltasLimit=16 (repeatable)
  -h, --help            show this help

Admin routes for tests and demos live under /_sim/ (transaction, replace_table, documents, faults,
knobs, clock, stats).`;

function parseKnob(spec: string): Partial<Knobs> {
  const [name, raw] = spec.split('=', 2);
  if (!name || raw === undefined || !(name in DEFAULT_KNOBS)) {
    throw new Error(
      `--knob ${spec}: expected NAME=VALUE with NAME one of ${Object.keys(DEFAULT_KNOBS).join(', ')}`,
    );
  }
  const current = DEFAULT_KNOBS[name as keyof Knobs];
  const value = typeof current === 'boolean' ? raw === 'true' : Number(raw);
  if (typeof value === 'number' && !Number.isFinite(value))
    throw new Error(`--knob ${spec}: VALUE must be a number`);
  return { [name]: value };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '3210' },
      'deploy-key': { type: 'string' },
      'read-only-key': { type: 'string', multiple: true, default: [] },
      seed: { type: 'string' },
      knob: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const deployKey = values['deploy-key'] ?? process.env.CONVEX_DEPLOY_KEY;
  if (!deployKey) {
    console.error('convex-bridge-sim: pass --deploy-key KEY or set CONVEX_DEPLOY_KEY');
    return 2;
  }
  if (values.seed !== undefined && values.seed !== 'demo') {
    console.error(`convex-bridge-sim: --seed takes 'demo', got '${values.seed}'`);
    return 2;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`convex-bridge-sim: --port must be 0-65535, got '${values.port}'`);
    return 2;
  }
  const knobs = Object.assign({}, ...values.knob.map(parseKnob)) as Partial<Knobs>;
  const sim = await startSimulator({
    deployKey,
    readOnlyKeys: values['read-only-key'],
    port,
    knobs,
  });
  if (values.seed === 'demo') seedDemoData(sim.deployment);
  console.log(`convex-bridge-sim listening on ${sim.url}`);
  const stop = () => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return -1;
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    console.error(`convex-bridge-sim: ${(error as Error).message}`);
    process.exit(2);
  },
);
