import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import { createDynamoDbClient } from '../../shared/aws/clients.js';
import { initialExportState } from '../../shared/export/export-state.js';
import { toDeltaCursor } from '../../shared/values/int64.js';
import { BRIDGE_VERSION } from '../../shared/version.js';
import { watchOutput } from '../helpers/process-output.js';
import { runCli } from '../helpers/run-cli.js';
import { DEPLOY_KEY, useSimulator } from '../helpers/simulator.js';

// Issue 15 (9): small CLI gaps.

const main = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const quietWarning = new URL('../../bin/quiet-node20-sdk-warning.js', import.meta.url).href;
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', resolve);
  });

describe('convex-bridge CLI polish', () => {
  const f = useSimulator();
  const id = randomUUID().slice(0, 8);
  const env = {
    CONVEX_URL: '',
    CONVEX_DEPLOY_KEY: DEPLOY_KEY,
    BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
    BRIDGE_STREAM_NAME: `polish-${id}`,
    BRIDGE_STATE_TABLE: `polish-state-${id}`,
    BRIDGE_OVERSIZE_BUCKET: `polish-${id}`,
    BRIDGE_INCLUDE_TABLES: 'polish_docs',
    BRIDGE_POLL_INTERVAL_MS: '100',
  };
  const withSim = () => ({ ...env, CONVEX_URL: f.sim.url });

  it('--version prints the version', async () => {
    const result = await runCli(['--version'], {});
    expect(result).toMatchObject({ code: 0, stdout: `convex-bridge ${BRIDGE_VERSION}\n` });
  });

  it('tail says what it read and from where; plain tail and an unknown table are not silent', {
    timeout: 60_000,
  }, async () => {
    expect((await runCli(['setup'], withSim())).code).toBe(0);
    f.write([
      { op: 'insert', table: 'polish_docs', doc: { a: 1 } },
      { op: 'insert', table: 'polish_docs', doc: { a: 2 } },
    ]);
    expect((await runCli(['export'], withSim())).code).toBe(0);

    const all = await runCli(['tail', '--from-start'], withSim());
    expect(all.code).toBe(0);
    // Two documents and, one copy per shard each, the copy's control events (the table's schema,
    // the source's truncate as it enters the sync, snapshot-complete).
    const lines = all.stdout.trim().split('\n');
    const docs = lines.filter((l) => (JSON.parse(l) as { op: string }).op === 'snapshot');
    expect(docs).toHaveLength(2);
    expect(all.stderr).toMatch(
      new RegExp(
        `tail: read ${lines.length} records \\(${lines.length - 2} of them control-event copies: one per shard for each control event\\) from stream polish-${id} \\(2 shards?, from the oldest record kept\\) at AWS_ENDPOINT_URL_KINESIS=http://127\\.0\\.0\\.1:\\d+`,
      ),
    );

    const plain = await runCli(['tail'], withSim());
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toContain(`tail: read 0 records from stream polish-${id}`);
    expect(plain.stderr).toContain('--from-start');
    expect(plain.stderr).toContain('--follow');

    const none = await runCli(['tail', '--from-start', '--table', 'nosuchtable'], withSim());
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain(
      `tail: no record of table 'nosuchtable' among the ${lines.length} read (tables seen: polish_docs)`,
    );
  });

  it('export --follow prints a heartbeat every N seconds, unless --quiet', {
    timeout: 60_000,
  }, async () => {
    const follow = (extra: string[]) => {
      const child = spawn(
        process.execPath,
        ['--import', quietWarning, '--import', tsx, main, 'export', '--follow', ...extra],
        { env: { ...process.env, ...withSim() }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      return { child, output: watchOutput(child) };
    };
    f.write([{ op: 'insert', table: 'polish_docs', doc: { a: 3 } }]);
    const loud = follow(['--heartbeat', '1']);
    try {
      const beat = await loud.output.waitFor(
        /export: following · (\d+) events published .* · lag [\d.]+ s .* · cursor age [\d.]+ s/,
        30_000,
      );
      expect(beat[0]).toBeDefined();
      loud.child.kill('SIGINT');
      expect(await exited(loud.child)).toBe(0);
    } finally {
      if (loud.child.exitCode === null) loud.child.kill('SIGKILL');
    }
    const quiet = follow(['--heartbeat', '1', '--quiet']);
    try {
      await new Promise((r) => setTimeout(r, 4_000));
      quiet.child.kill('SIGINT');
      expect(await exited(quiet.child)).toBe(0);
      expect(quiet.output.text()).not.toContain('export: following');
    } finally {
      if (quiet.child.exitCode === null) quiet.child.kill('SIGKILL');
    }
  });

  it('status tells "caught up, idle" from "behind"', { timeout: 30_000 }, async () => {
    const table = `polish-status-${id}`;
    expect((await runCli(['setup'], { BRIDGE_STATE_TABLE: table })).code).toBe(0);
    const store = new DynamoDbExportStore(createDynamoDbClient(), table, 'default');
    const ns = (secondsAgo: number) =>
      (BigInt(Date.now() - secondsAgo * 1000) * 1_000_000n).toString();
    const save = async (cursorAge: number, newestAge: number) => {
      const held = await store.acquire('test', 10_000);
      if (!held) throw new Error('lease');
      const state = {
        ...initialExportState(1),
        position: {
          source: 'legacy' as const,
          phase: 'deltas' as const,
          deltaCursor: toDeltaCursor(ns(cursorAge)),
        },
        newestEventTs: ns(newestAge),
        baseSnapshotTs: ns(3600),
      };
      const lease = await store.checkpoint(held.lease, state, 10_000);
      await store.release(lease);
    };

    await save(1, 600);
    const idle = await runCli(['status'], { BRIDGE_STATE_TABLE: table });
    expect(idle.stdout).toMatch(/^state\s+caught up, idle: no changes for 10 min/m);
    const idleJson = JSON.parse(
      (await runCli(['status', '--json'], { BRIDGE_STATE_TABLE: table })).stdout,
    ) as Record<string, unknown>;
    expect(idleJson.state).toBe('idle');

    await save(900, 900);
    const behind = await runCli(['status'], { BRIDGE_STATE_TABLE: table });
    expect(behind.stdout).toMatch(/^state\s+behind: the cursor is 15 min old/m);
    expect(
      (
        JSON.parse(
          (await runCli(['status', '--json'], { BRIDGE_STATE_TABLE: table })).stdout,
        ) as Record<string, unknown>
      ).state,
    ).toBe('behind');

    await save(0, 0);
    const current = await runCli(['status'], { BRIDGE_STATE_TABLE: table });
    expect(current.stdout).toMatch(/^state\s+caught up/m);
    expect(current.stdout).not.toMatch(/idle|behind/);
  });
});
