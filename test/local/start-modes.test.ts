import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { watchOutput } from '../helpers/process-output.js';
import { runCli } from '../helpers/run-cli.js';
import { DEPLOY_KEY, useSimulator } from '../helpers/simulator.js';

const bin = fileURLToPath(new URL('../../bin/convex-bridge.js', import.meta.url));

describe('convex-bridge start', () => {
  const f = useSimulator();

  it('explains itself and refuses bad options with a usage error', async () => {
    const help = await runCli(['start', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: convex-bridge start');
    expect(help.stdout).toContain('--import');
    const bad = await runCli(['start', '--docs', 'many'], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--docs must be a whole number from 0 to 2000000, got 'many'");
  });

  it('reads a deployment given by CONVEX_URL without writing to it, in plain lines when piped', {
    timeout: 90_000,
  }, async () => {
    f.write([
      { op: 'insert', table: 'rd_people', doc: { name: 'Ada' } },
      { op: 'insert', table: 'rd_people', doc: { name: 'Grace' } },
    ]);
    const child = spawn(process.execPath, [bin, 'start'], {
      env: {
        ...process.env,
        CONVEX_URL: f.sim.url,
        CONVEX_DEPLOY_KEY: DEPLOY_KEY,
        BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
        BRIDGE_INCLUDE_TABLES: 'rd_people',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = watchOutput(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await output.waitFor(/snapshot .* done: 2 docs · 1\/1 tables/, 60_000);
      expect(output.text()).toContain(`using the Convex deployment at ${f.sim.url} (read-only)`);
      expect(output.raw()).not.toContain('\x1b['); // no terminal redraws when piped
      const { ids } = f.write([{ op: 'insert', table: 'rd_people', doc: { name: 'Alan' } }]);
      await output.waitFor(new RegExp(`change .* upsert\\s+rd_people\\s+${ids[0]}`), 60_000);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(output.text()).toContain('stopped moto and kinesalite');
      expect(output.raw()).not.toContain(DEPLOY_KEY);
      // Read-only: no import route was called, and the tables hold only what the test wrote.
      const calls = [...f.sim.stats.keys()];
      // A new export reads Data Sync, which this deployment serves (BRIDGE_SOURCE=auto).
      expect(calls.some((k) => k.includes('/api/v1/data/sync'))).toBe(true);
      expect(calls.filter((k) => k.includes('/streaming_import/'))).toEqual([]);
      expect(f.sim.deployment.documents('rd_people')).toHaveLength(3);
      expect(f.sim.deployment.documents('contacts')).toHaveLength(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
