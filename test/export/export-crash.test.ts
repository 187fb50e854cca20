import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import { readWholeStream } from '../../shared/adapters/kinesis-stream-reader.js';
import { createDynamoDbClient } from '../../shared/aws/clients.js';
import { deriveSeed, mulberry32, seedFromEnv } from '../helpers/seeded-random.js';
import { outliveLease, startChangeWriter, startVictim, victimEnv } from './crash-harness.js';
import { useExportRig } from './rig.js';
import { SOURCES, type Source, verifyExport } from './verify-stream.js';

const bin = fileURLToPath(new URL('../../bin/convex-bridge.js', import.meta.url));

// The kill schedule is random but reproducible: rerun a failure with CRASH_SEED=<seed from its name>.
const seed = seedFromEnv('CRASH_SEED', 0x5eed_c0de);
process.stdout.write(`export-crash: CRASH_SEED=${seed}\n`);

/** Small pages on either source, so a kill lands between many pages. */
const KNOBS: Record<Source, Parameters<typeof useExportRig>[0]> = {
  legacy: { documentDeltasLimit: 8, snapshotListLimit: 40 },
  'data-sync': { dataSyncPageSizeLimit: 40, dataSyncMaxRowsRead: 16 },
};

describe.each(SOURCES)('export from the %s source survives SIGKILL at random points', (api) => {
  const rig = useExportRig(KNOBS[api]);
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
    const writer = startChangeWriter(f, table, writerRandom);
    let ticks = 0;

    const env = victimEnv({ names: rig.names, stream, exportId, tables: [table], api });
    const store = new DynamoDbExportStore(createDynamoDbClient(), rig.names.table, exportId);
    let lastOwner: string | undefined;
    let killedWhileRunning = 0;
    try {
      for (let k = 0; k < kills; k++) {
        const victim = await startVictim(
          [bin, 'export', '--follow'],
          env,
          f.sim.url,
          `victim ${k + 1} (${context()})`,
        );
        const { child, exited } = victim;
        try {
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
              `victim ${k + 1} exited by itself with ${code} (${context()}): ${victim.stderr()}`,
            );
        } finally {
          await victim.close();
        }
      }
    } finally {
      ticks = await writer.stop();
    }
    expect(killedWhileRunning, context()).toBe(kills);

    const publishedByVictims = (await readWholeStream(rig.kinesis(), stream)).length;
    expect(publishedByVictims, context()).toBeGreaterThan(0);

    // The last victim's lease outlives it by up to its TTL (1 s): let that time pass, exactly.
    await outliveLease((await store.read()).lease);
    // Catch up in-process: every victim is dead and its lease expired, so this run must get it.
    const outcome = await rig.run({ filter }, { stream, exportId, api, tail: true });
    expect(outcome.status, context()).toBe('caught-up');
    const result = await verifyExport(rig, api, { stream, exportId, filter }).catch(
      (error: unknown) => {
        throw new Error(`${context()}: ${(error as Error).message}`, { cause: error });
      },
    );
    expect(result.unique, context()).toBeGreaterThan(300 + ticks);
    process.stdout.write(
      `crash test on ${api} (CRASH_SEED=${seed}): ${kills} kills after ${JSON.stringify(schedule)} ms, ${ticks} writer ticks, ${publishedByVictims} records before catch-up, ${result.unique} events, ${result.duplicates} duplicates\n`,
    );
  });
});
