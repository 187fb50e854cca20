import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import { readWholeStream } from '../../shared/adapters/kinesis-stream-reader.js';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
} from '../../shared/aws/clients.js';
import {
  ensureBucket,
  ensureStateTable,
  ensureStream,
} from '../../shared/setup/ensure-resources.js';
import { frontDoor, type Outage } from '../helpers/outage.js';
import { watchOutput } from '../helpers/process-output.js';
import { DEPLOY_KEY, useSimulator } from '../helpers/simulator.js';

// Issue 15 (3): followers ride out outages. Each stand-in (the Convex simulator, moto, kinesalite)
// goes away for 30 s under a running `export --follow`; local mode (npm start) loses Convex for as
// long. The follower must keep its lease while the state table answers, say that it waits and why,
// and carry on with nothing lost once the service is back. The four run side by side (about 45 s
// in all), so this file does not lengthen the suite by much more than one outage.

const OUTAGE_MS = 30_000;
const main = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/convex-bridge.js', import.meta.url));
const quietWarning = new URL('../../bin/quiet-node20-sdk-warning.js', import.meta.url).href;
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('followers ride out a 30 s outage of each stand-in', () => {
  const f = useSimulator();

  const follower = async (cut: 'convex' | 'moto' | 'kinesalite') => {
    const id = randomUUID().slice(0, 8);
    const names = { stream: `fo-${id}`, table: `fo-state-${id}`, bucket: `fo-${id}` };
    await Promise.all([
      ensureStream(createKinesisClient(), names.stream, 1),
      ensureStateTable(createDynamoDbClient(), names.table),
      ensureBucket(createS3Client(), names.bucket),
    ]);
    const target = {
      convex: f.sim.url,
      moto: process.env.AWS_ENDPOINT_URL as string,
      kinesalite: process.env.AWS_ENDPOINT_URL_KINESIS as string,
    }[cut];
    const door: Outage = await frontDoor(target);
    const table = `fo_${cut}`;
    const env = {
      ...process.env,
      CONVEX_URL: cut === 'convex' ? door.url : f.sim.url,
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      AWS_ENDPOINT_URL: cut === 'moto' ? door.url : (process.env.AWS_ENDPOINT_URL as string),
      AWS_ENDPOINT_URL_KINESIS:
        cut === 'kinesalite' ? door.url : (process.env.AWS_ENDPOINT_URL_KINESIS as string),
      BRIDGE_STREAM_NAME: names.stream,
      BRIDGE_STATE_TABLE: names.table,
      BRIDGE_OVERSIZE_BUCKET: names.bucket,
      BRIDGE_INCLUDE_TABLES: table,
      BRIDGE_POLL_INTERVAL_MS: '200',
      BRIDGE_LEASE_TTL_MS: '10000',
      // Waits between tries grow to 5 s (default 30 s), so the test sees the resume soon after.
      BRIDGE_FOLLOW_RETRY_MAX_MS: '5000',
      BRIDGE_CONVEX_TIMEOUT_MS: '3000',
    };
    const child = spawn(
      process.execPath,
      ['--import', quietWarning, '--import', tsx, main, 'export', '--follow'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = watchOutput(child);
    const store = new DynamoDbExportStore(createDynamoDbClient(), names.table, 'default');
    const published = (ts: bigint) =>
      until(`the event at ${ts}`, async () => {
        const { state } = await store.read();
        return state?.newestEventTs !== undefined && BigInt(state.newestEventTs) >= ts
          ? true
          : undefined;
      });
    try {
      const a = f.write([{ op: 'insert', table, doc: { n: 'before' } }]);
      await published(a.ts);

      const wentDown = Date.now();
      await door.down();
      const b = f.write([{ op: 'insert', table, doc: { n: 'during' } }]);
      await output.waitFor(/waiting/, 20_000);
      await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - wentDown)));
      expect(child.exitCode).toBeNull(); // still following
      if (cut !== 'moto') {
        // The state table answered all along: the follower kept its lease.
        const { lease } = await store.read();
        expect(lease?.owner).toMatch(/^cli:/);
        expect(lease?.expiresAt).toBeGreaterThan(Date.now());
      }
      await door.up();
      const c = f.write([{ op: 'insert', table, doc: { n: 'after' } }]);
      await published(c.ts);
      expect(output.text()).toMatch(/resumed after \d+ s/);

      child.kill('SIGINT');
      expect(await stopped(child)).toBe(0);
      expect((await store.read()).lease).toBeUndefined(); // released on stop
      const text = output.text();
      const cause = {
        convex: /Convex \/api\/v1\/data\/sync failed before a complete response: ECONNREFUSED/,
        moto: /DynamoDB \w+ on BRIDGE_STATE_TABLE=fo-state-\w+ failed: connection (refused|reset)/,
        kinesalite: /Kinesis \w+ on BRIDGE_STREAM_NAME=fo-\w+ failed: connection (refused|reset)/,
      }[cut];
      expect(text).toMatch(cause);
      expect(text).not.toContain(DEPLOY_KEY);
      const ids = (await readWholeStream(createKinesisClient(), names.stream)).map(
        (r) => r.partitionKey,
      );
      for (const written of [a, b, c]) expect(ids).toContain(written.ids[0]);
      return text;
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await door.close();
    }
  };

  it.concurrent('export --follow through a Convex outage', { timeout: 120_000 }, async () => {
    await follower('convex');
  });

  it.concurrent('export --follow through a moto (DynamoDB) outage', {
    timeout: 120_000,
  }, async () => {
    await follower('moto');
  });

  it.concurrent('export --follow through a kinesalite (Kinesis) outage', {
    timeout: 120_000,
  }, async () => {
    await follower('kinesalite');
  });

  it.concurrent('npm start (local mode) through a Convex outage', {
    timeout: 150_000,
  }, async () => {
    const door = await frontDoor(f.sim.url);
    const table = 'fo_local';
    f.write([{ op: 'insert', table, doc: { n: 'seed' } }]);
    const child = spawn(process.execPath, [bin, 'start'], {
      env: {
        ...process.env,
        CONVEX_URL: door.url,
        CONVEX_DEPLOY_KEY: DEPLOY_KEY,
        BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
        BRIDGE_INCLUDE_TABLES: table,
        BRIDGE_FOLLOW_RETRY_MAX_MS: '5000',
        BRIDGE_CONVEX_TIMEOUT_MS: '3000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = watchOutput(child);
    try {
      await output.waitFor(/snapshot .* done: 1 docs/, 90_000);
      await door.down();
      const during = f.write([{ op: 'insert', table, doc: { n: 'during' } }]);
      await output.waitFor(/waiting .*exporter.*ECONNREFUSED/, 20_000);
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      expect(child.exitCode).toBeNull();
      await door.up();
      await output.waitFor(/resumed .*exporter/, 30_000);
      await output.waitFor(new RegExp(`change .* upsert\\s+${table}\\s+${during.ids[0]}`), 30_000);
      child.kill('SIGINT');
      expect(await stopped(child)).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await door.close();
    }
  });
});
