import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface SimSpec {
  readonly deployKey: string;
  readonly snapshotDocs: number;
  readonly deltaChanges: number;
  readonly latencyMs: number;
}

export interface SimReady {
  readonly url: string;
  /** Commit timestamp after the snapshot table was written: the deltas backlog starts after it. */
  readonly deltasFrom: string;
}

export const SNAPSHOT_TABLE = 'bench_docs';
export const DELTAS_TABLE = 'bench_changes';

export interface BenchSim extends SimReady {
  readonly deployKey: string;
  /** POSTs to the simulator's admin API (`/_sim/...`). */
  admin(path: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

/** Starts the seeded simulator in a child process and waits until it serves. */
export async function startBenchSim(spec: SimSpec): Promise<BenchSim> {
  const script = fileURLToPath(new URL('./sim-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(spec)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`benchmark simulator exited (${code})`)));
  });
  const ready = JSON.parse(first) as SimReady;
  return {
    ...ready,
    deployKey: spec.deployKey,
    async admin(path, body) {
      const res = await fetch(`${ready.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json();
    },
    async stop() {
      child.stdin?.end();
      await exited;
    },
  };
}
