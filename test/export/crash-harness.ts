import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startHttpTap } from '../helpers/http-tap.js';
import type { SimulatorFixture } from '../helpers/simulator.js';
import { within } from '../helpers/sync.js';

/**
 * Changes that keep coming while exporters are killed: 300 documents first, then per tick an
 * insert, a patch of an existing document most ticks and a delete every ninth; between ticks
 * 2 to 8 ms (5 on average) drawn from `random`, so the schedule replays from its seed.
 */
export function startChangeWriter(f: SimulatorFixture, table: string, random: () => number) {
  const ids = f.write(
    Array.from({ length: 300 }, (_, i) => ({ op: 'insert' as const, table, doc: { i } })),
  ).ids;
  let live = true;
  let ticks = 0;
  const running = (async () => {
    while (live) {
      ticks++;
      const id = ids[ticks % ids.length] as string;
      const writes: Parameters<typeof f.write>[0] = [{ op: 'insert', table, doc: { tick: ticks } }];
      if (f.sim.deployment.findRecord(id) && ticks % 5 !== 0)
        writes.push({ op: 'patch', id, fields: { tick: ticks } });
      try {
        ids.push(...f.write(writes).ids);
        if (ticks % 9 === 0)
          f.write([{ op: 'delete', id: ids.splice(ticks % ids.length, 1)[0] as string }]);
      } catch {
        // A patch may race a delete of the same id; the next tick writes something else.
      }
      await sleep(2 + Math.floor(random() * 7));
    }
  })();
  return {
    /** Stops writing; resolves with the number of ticks written. */
    stop: async (): Promise<number> => {
      live = false;
      await running;
      return ticks;
    },
  };
}

export interface Victim {
  readonly child: ChildProcess;
  /** The exit code; null when killed by a signal. */
  readonly exited: Promise<number | null>;
  stderr(): string;
  close(): Promise<void>;
}

/**
 * Starts a real exporter process that reaches Convex through its own tap, and resolves once it
 * holds the lease: its first Convex request is that event (the exporter reads nothing before
 * acquiring it), and a request still in flight from an earlier victim cannot be mistaken for
 * this one's. Throws, with the process killed, when it never gets there.
 */
export async function startVictim(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  convexUrl: string,
  describe: string,
): Promise<Victim> {
  const tap = await startHttpTap(convexUrl);
  const child = spawn(process.execPath, [...args], {
    env: { ...env, CONVEX_URL: tap.url },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const leased = await within(
    Promise.race([tap.firstRequest().then(() => true), exited.then(() => false)]),
    30_000,
    () => false,
  );
  if (!leased) {
    child.kill('SIGKILL');
    await tap.close();
    throw new Error(`${describe} never took the lease (exit ${child.exitCode}): ${stderr}`);
  }
  return { child, exited, stderr: () => stderr, close: () => tap.close() };
}
