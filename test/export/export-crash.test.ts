import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import { readWholeStream } from '../../shared/adapters/kinesis-stream-reader.js';
import { createDynamoDbClient } from '../../shared/aws/clients.js';
import { startHttpTap } from '../helpers/http-tap.js';
import { deriveSeed, mulberry32, seedFromEnv } from '../helpers/seeded-random.js';
import { DEPLOY_KEY } from '../helpers/simulator.js';
import { within } from '../helpers/sync.js';
import { useExportRig } from './rig.js';

const bin = fileURLToPath(new URL('../../bin/convex-bridge.js', import.meta.url));

// The kill schedule is random but reproducible: rerun a failure with CRASH_SEED=<seed from its name>.
const seed = seedFromEnv('CRASH_SEED', 0x5eed_c0de);
process.stdout.write(`export-crash: CRASH_SEED=${seed}\n`);

describe('export survives SIGKILL at random points', () => {
  const rig = useExportRig({ documentDeltasLimit: 8, snapshotListLimit: 40 });
  const { f } = rig;

  it(`loses nothing and keeps per-document order across many kills while changes keep coming (CRASH_SEED=${seed})`, {
    timeout: 120_000,
  }, async () => {
    // Separate streams, so the kill schedule does not depend on how many writes happened meanwhile.
    const killRandom = mulberry32(deriveSeed(seed, 0));
    const writerRandom = mulberry32(deriveSeed(seed, 1));
    const kills = 8;
    const schedule: number[] = [];
    const context = () => `CRASH_SEED=${seed}, kill delays so far ${JSON.stringify(schedule)} ms`;

    const { stream, exportId } = await rig.fresh();
    const table = 'crash_docs';
    const filter = { includeTables: [table] };
    const ids = f.write(
      Array.from({ length: 300 }, (_, i) => ({ op: 'insert' as const, table, doc: { i } })),
    ).ids;
    let live = true;
    let tick = 0;
    const writer = (async () => {
      while (live) {
        tick++;
        const id = ids[tick % ids.length] as string;
        const writes: Parameters<typeof f.write>[0] = [{ op: 'insert', table, doc: { tick } }];
        if (f.sim.deployment.findRecord(id) && tick % 5 !== 0)
          writes.push({ op: 'patch', id, fields: { tick } });
        try {
          ids.push(...f.write(writes).ids);
          if (tick % 9 === 0)
            f.write([{ op: 'delete', id: ids.splice(tick % ids.length, 1)[0] as string }]);
        } catch {
          // A patch may race a delete of the same id; the next tick writes something else.
        }
        // Chaos schedule: time passes between transactions (2 to 8 ms, 5 on average).
        await sleep(2 + Math.floor(writerRandom() * 7));
      }
    })();

    const env = {
      ...process.env,
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      BRIDGE_STREAM_NAME: stream,
      BRIDGE_STATE_TABLE: rig.names.table,
      BRIDGE_OVERSIZE_BUCKET: rig.names.bucket,
      BRIDGE_EXPORT_ID: exportId,
      BRIDGE_INCLUDE_TABLES: table,
      BRIDGE_POLL_INTERVAL_MS: '50',
      BRIDGE_LEASE_TTL_MS: '1000',
    };
    const store = new DynamoDbExportStore(createDynamoDbClient(), rig.names.table, exportId);
    let lastOwner: string | undefined;
    let killedWhileRunning = 0;
    try {
      for (let k = 0; k < kills; k++) {
        // Each victim reaches Convex through its own tap: its first request is the event that it
        // holds the lease (the exporter reads nothing before acquiring it), and a request still in
        // flight from the previous victim cannot be mistaken for this one's.
        const tap = await startHttpTap(f.sim.url);
        const child: ChildProcess = spawn(process.execPath, [bin, 'export', '--follow'], {
          env: { ...env, CONVEX_URL: tap.url },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr?.on('data', (c: Buffer) => {
          stderr += c.toString();
        });
        const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
        try {
          // Kill relative to progress, not start-up time: once this process holds the lease, anywhere
          // from before its first page to several pages in.
          const started = await within(
            Promise.race([tap.firstRequest().then(() => true), exited.then(() => false)]),
            30_000,
            () => false,
          );
          if (!started) {
            child.kill('SIGKILL');
            throw new Error(
              `victim ${k + 1} never took the lease (exit ${child.exitCode}; ${context()}): ${stderr}`,
            );
          }
          const owner = (await store.read()).lease?.owner;
          expect(
            owner,
            `victim ${k + 1} read Convex without a new lease; ${context()}`,
          ).toBeDefined();
          expect(
            owner,
            `victim ${k + 1} read Convex under the previous lease; ${context()}`,
          ).not.toBe(lastOwner);
          lastOwner = owner;
          const delay = Math.floor(killRandom() * 1_000);
          schedule.push(delay);
          await sleep(delay); // chaos schedule: the victim runs this long before it is killed
          if (child.exitCode === null) killedWhileRunning++;
          child.kill('SIGKILL');
          const code = await exited;
          if (code !== null)
            throw new Error(
              `victim ${k + 1} exited by itself with ${code} (${context()}): ${stderr}`,
            );
        } finally {
          await tap.close();
        }
      }
    } finally {
      live = false;
      await writer;
    }
    expect(killedWhileRunning, context()).toBe(kills);

    const publishedByVictims = (await readWholeStream(rig.kinesis(), stream)).length;
    expect(publishedByVictims, context()).toBeGreaterThan(0);

    // The last victim's lease outlives it by up to its TTL (1 s): let that time pass, exactly.
    const orphan = (await store.read()).lease;
    if (orphan)
      while (Date.now() <= orphan.expiresAt) await sleep(orphan.expiresAt - Date.now() + 1);
    // Catch up in-process: every victim is dead and its lease expired, so this run must get it.
    const outcome = await rig.run({ filter }, { stream, exportId });
    expect(outcome.status, context()).toBe('caught-up');
    const result = await rig.verify({ stream, exportId, filter }).catch((error: unknown) => {
      throw new Error(`${context()}: ${(error as Error).message}`, { cause: error });
    });
    expect(result.unique, context()).toBeGreaterThan(300 + tick);
    process.stdout.write(
      `crash test (CRASH_SEED=${seed}): ${kills} kills after ${JSON.stringify(schedule)} ms, ${tick} writer ticks, ${publishedByVictims} records before catch-up, ${result.unique} events, ${result.duplicates} duplicates\n`,
    );
  });
});
