import { type ChildProcess, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { findMotoPython, freePort } from '../../local/local-aws.js';

export interface Moto {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  /** The last few KiB moto printed (warnings about resources its CloudFormation skips). */
  log(): string;
  stop(): Promise<void>;
}

// moto exits when its stdin closes, i.e. when this process dies, even by SIGKILL (as in
// local/local-aws.ts, which also starts kinesalite: a deploy needs moto's own Kinesis, because
// the stream is created by moto's CloudFormation).
const LAUNCHER = `
import os, sys, threading
def exit_with_parent():
    sys.stdin.buffer.read()
    os._exit(0)
threading.Thread(target=exit_with_parent, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
`;

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A fresh moto server (every service, empty state) on a free loopback port. */
export async function startMoto(): Promise<Moto> {
  const python = findMotoPython();
  const port = await freePort();
  const child = spawn(python, ['-c', LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-16_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const stop = () => stopChild(child);
  const deadline = Date.now() + 60_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null) {
      throw new Error(`moto exited during startup (code ${child.exitCode}):\n${output}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto did not listen on ${port} within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint: `http://127.0.0.1:${port}`, port, log: () => output, stop };
}
