// The benchmark's Convex: a simulator in its own process (so it does not share the measured
// process's event loop), seeded in-process with the datasets, then serving until killed.

import type { Deployment } from '../simulator/deployment.js';
import { startSimulator } from '../simulator/server.js';
import { DELTAS_TABLE, type SimReady, type SimSpec, SNAPSHOT_TABLE } from './bench-sim.js';

const smallDoc = (i: number) => ({
  n: i,
  name: `user ${i}`,
  email: `user${i}@example.com`,
  active: i % 3 !== 0,
});

function seedSnapshot(deployment: Deployment, docs: number): bigint {
  let ts = 0n;
  for (let start = 0; start < docs; start += 1_000) {
    ts = deployment.transact((tx) => {
      for (let i = start; i < Math.min(docs, start + 1_000); i++)
        tx.insert(SNAPSHOT_TABLE, smallDoc(i));
    }).ts;
  }
  return ts;
}

/** Changes in transactions of 4 writes: 40 % inserts, 45 % patches, 15 % deletes. */
function seedDeltas(deployment: Deployment, changes: number): void {
  const live: string[] = [];
  let made = 0;
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  while (made < changes) {
    deployment.transact((tx) => {
      for (let w = 0; w < 4 && made < changes; w++, made++) {
        const roll = random();
        const pick = Math.floor(random() * live.length);
        if (live.length > 20 && roll < 0.15) {
          tx.delete(live.splice(pick, 1)[0] as string);
        } else if (live.length > 20 && roll < 0.6) {
          tx.patch(live[pick] as string, { n: made, active: roll < 0.4 });
        } else {
          live.push(tx.insert(DELTAS_TABLE, smallDoc(made)));
        }
      }
    });
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as SimSpec;
  const sim = await startSimulator({ deployKey: spec.deployKey, port: 0 });
  const deltasFrom = seedSnapshot(sim.deployment, spec.snapshotDocs);
  seedDeltas(sim.deployment, spec.deltaChanges);
  sim.faults.configure({ latencyMs: spec.latencyMs });
  const ready: SimReady = { url: sim.url, deltasFrom: String(deltasFrom) };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  // Exit with the benchmark, however it ends.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

await main();
