import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Endpoints and fake credentials for the local AWS stand-ins, as standard SDK variables. */
export interface LocalAwsEnv {
  readonly AWS_REGION: string;
  readonly AWS_ACCESS_KEY_ID: string;
  readonly AWS_SECRET_ACCESS_KEY: string;
  readonly AWS_ENDPOINT_URL: string;
  readonly AWS_ENDPOINT_URL_KINESIS: string;
}

export interface LocalAws {
  readonly env: LocalAwsEnv;
  stop(): Promise<void>;
}

const MOTO_MISSING = `moto server was not found.
The bridge's integration tests and local mode use moto (python) for DynamoDB, SQS, S3 and Secrets Manager.
This machine kind ships it in its pyenv python3. Elsewhere: pip install "moto[server]" (moto 5.x),
or set MOTO_PYTHON to a python interpreter that can 'import moto.server, flask, flask_cors'.`;

/**
 * moto cannot come from Debian or (here) PyPI, so look for a python that already has it. A
 * MOTO_PYTHON that is set is the one to use: when it does not run or lacks moto, that is an error,
 * not a reason to try another python.
 */
export function findMotoPython(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.MOTO_PYTHON?.trim();
  if (chosen) {
    const probe = spawnSync(chosen, ['-c', 'import moto.server, flask, flask_cors'], {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (probe.error) {
      const code = (probe.error as NodeJS.ErrnoException).code;
      throw new Error(
        `MOTO_PYTHON=${chosen} ${code === 'ENOENT' ? 'does not exist' : `cannot be run (${code ?? probe.error.message})`}: point it at a python interpreter with moto, or unset it to use python3 from PATH`,
      );
    }
    if (probe.status !== 0) {
      const why = (probe.stderr ?? '').trim().split('\n').at(-1) ?? '';
      throw new Error(
        `MOTO_PYTHON=${chosen} cannot import moto.server, flask and flask_cors${why ? ` (${why})` : ''}: pip install "moto[server]" into it, or unset MOTO_PYTHON to use python3 from PATH`,
      );
    }
    return chosen;
  }
  for (const candidate of ['python3', '/usr/bin/python3', 'python']) {
    const probe = spawnSync(candidate, ['-c', 'import moto.server, flask, flask_cors'], {
      stdio: 'ignore',
    });
    if (probe.status === 0) return candidate;
  }
  throw new Error(MOTO_MISSING);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(
  port: number,
  child: ChildProcess,
  name: string,
  log: () => string,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited during startup (code ${child.exitCode}):\n${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`${name} did not listen on ${port} within ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Each stand-in exits when its stdin closes, i.e. when the process that started it dies, even by
// SIGKILL; so a crashed test run or terminal leaves nothing listening.
const MOTO_LAUNCHER = `
import os, sys, threading
def exit_with_parent():
    sys.stdin.buffer.read()
    os._exit(0)
threading.Thread(target=exit_with_parent, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
`;

function startChild(command: string, args: string[], name: string) {
  // Own process group: a terminal's Ctrl-C reaches only the parent, which stops the stand-ins
  // after the bridge has finished its last page, not before.
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-16_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, log: () => output, name };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A moto server of its own: every service, empty state, on a free loopback port. */
export interface Moto {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  /** The last few KiB moto printed (e.g. resources its CloudFormation skips). */
  log(): string;
  stop(): Promise<void>;
}

/** Starts moto alone (the deploy test needs moto's own Kinesis: its CloudFormation makes the stream). */
export async function startMoto(): Promise<Moto> {
  const python = findMotoPython();
  const port = await freePort();
  const moto = startChild(
    python,
    ['-c', MOTO_LAUNCHER, '-H', '127.0.0.1', '-p', String(port)],
    'moto',
  );
  const stop = () => stopChild(moto.child);
  try {
    await waitForPort(port, moto.child, 'moto', moto.log, 60_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint: `http://127.0.0.1:${port}`, port, log: moto.log, stop };
}

/** Starts moto (every service) and kinesalite (fast Kinesis) on free loopback ports. */
export async function startLocalAws(): Promise<LocalAws> {
  const kinesisPort = await freePort();
  const kinesaliteScript = fileURLToPath(new URL('./kinesalite-server.cjs', import.meta.url));
  const kinesis = startChild(
    process.execPath,
    [kinesaliteScript, String(kinesisPort)],
    'kinesalite',
  );
  const started = await Promise.allSettled([
    startMoto(),
    waitForPort(kinesisPort, kinesis.child, 'kinesalite', kinesis.log, 30_000),
  ]);
  const [moto, kinesalite] = started;
  if (moto.status === 'rejected' || kinesalite.status === 'rejected') {
    await Promise.all([
      stopChild(kinesis.child),
      moto.status === 'fulfilled' ? moto.value.stop() : undefined,
    ]);
    throw moto.status === 'rejected' ? moto.reason : (kinesalite as PromiseRejectedResult).reason;
  }
  return {
    env: {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL: moto.value.endpoint,
      AWS_ENDPOINT_URL_KINESIS: `http://127.0.0.1:${kinesisPort}`,
    },
    stop: async () => {
      await Promise.all([moto.value.stop(), stopChild(kinesis.child)]);
    },
  };
}
