import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import { readWholeStream } from '../../shared/adapters/kinesis-stream-reader.js';
import { createDynamoDbClient } from '../../shared/aws/clients.js';
import type { exportChanges } from '../../shared/export/export-changes.js';
import { DEPLOY_KEY } from '../helpers/simulator.js';
import { useExportRig } from './rig.js';

const bin = fileURLToPath(new URL('../../bin/convex-bridge.js', import.meta.url));

describe('export survives SIGKILL at random points', () => {
  const rig = useExportRig({ documentDeltasLimit: 8, snapshotListLimit: 40 });
  const { f } = rig;

  it('loses nothing and keeps per-document order across many kills while changes keep coming', {
    timeout: 120_000,
  }, async () => {
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
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const env = {
      ...process.env,
      CONVEX_URL: f.sim.url,
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
    const kills = 8;
    const store = new DynamoDbExportStore(createDynamoDbClient(), rig.names.table, exportId);
    let lastOwner: string | undefined;
    let killedWhileRunning = 0;
    for (let k = 0; k < kills; k++) {
      const child: ChildProcess = spawn(process.execPath, [bin, 'export', '--follow'], {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      // Kill relative to progress, not start-up time: once this process holds the lease, anywhere
      // from before its first page to several pages in.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const owner = (await store.read()).lease?.owner;
        if (owner !== undefined && owner !== lastOwner) {
          lastOwner = owner;
          break;
        }
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`exporter never took the lease: ${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      await new Promise((r) => setTimeout(r, Math.random() * 1_000));
      if (child.exitCode === null) killedWhileRunning++;
      child.kill('SIGKILL');
      const code = await exited;
      if (code !== null) throw new Error(`exporter exited by itself with ${code}: ${stderr}`);
    }
    live = false;
    await writer;
    expect(killedWhileRunning).toBe(kills);

    const publishedByVictims = (await readWholeStream(rig.kinesis(), stream)).length;
    expect(publishedByVictims).toBeGreaterThan(0);

    // Catch up in-process; wait out the last victim's lease (1 s).
    let outcome: Awaited<ReturnType<typeof exportChanges>> | undefined;
    for (let i = 0; i < 40 && outcome?.status !== 'caught-up'; i++) {
      outcome = await rig.run({ filter }, { stream, exportId });
      if (outcome.status === 'lease-held') await new Promise((r) => setTimeout(r, 250));
    }
    expect(outcome?.status).toBe('caught-up');
    const result = await rig.verify({ stream, exportId, filter });
    expect(result.unique).toBeGreaterThan(300 + tick);
    process.stdout.write(
      `crash test: ${kills} kills, ${tick} writer ticks, ${publishedByVictims} records before catch-up, ${result.unique} events, ${result.duplicates} duplicates\n`,
    );
  });
});
