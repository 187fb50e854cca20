import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { frontDoor, type Outage } from '../helpers/outage.js';
import { watchOutput } from '../helpers/process-output.js';
import { runCli } from '../helpers/run-cli.js';
import { DEPLOY_KEY } from '../helpers/simulator.js';
import { createQueuePair, depthOf, type QueuePair, useImportRig } from './rig.js';

const main = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const quietWarning = new URL('../../bin/quiet-node20-sdk-warning.js', import.meta.url).href;
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const OUTAGE_MS = Number(process.env.TEST_OUTAGE_MS ?? 30_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('convex-bridge import --follow', () => {
  const rig = useImportRig();
  const proxies: Outage[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    for (const proxy of proxies.splice(0)) await proxy.close();
  });

  /** The env of a CLI that reaches SQS and Convex only through proxies the test can take down. */
  const setup = async () => {
    const pair = await createQueuePair(rig.sqs);
    const sqsProxy = await frontDoor(process.env.AWS_ENDPOINT_URL as string);
    const convexProxy = await frontDoor(rig.f.sim.url);
    proxies.push(sqsProxy, convexProxy);
    const viaProxy = (url: string) => url.replace(/^http:\/\/[^/]+/, sqsProxy.url);
    const env = {
      AWS_ENDPOINT_URL: sqsProxy.url,
      CONVEX_URL: convexProxy.url,
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      BRIDGE_QUEUE_URL: viaProxy(pair.queueUrl),
      BRIDGE_DLQ_URL: viaProxy(pair.dlqUrl),
      BRIDGE_IMPORT_TABLES: JSON.stringify({ notes: {} }),
    };
    return { pair, sqsProxy, convexProxy, env };
  };
  let seq = 0;
  const sendNotes = async (pair: QueuePair, count: number) => {
    const entries = Array.from({ length: count }, () => {
      const n = seq++;
      return { Id: String(n), MessageBody: JSON.stringify({ table: 'notes', data: { n } }) };
    });
    await rig.sqs.send(new SendMessageBatchCommand({ QueueUrl: pair.queueUrl, Entries: entries }));
  };
  const imported = async (
    count: number,
    timeoutMs: number,
    pair: QueuePair,
    output: () => string,
  ) => {
    const deadline = Date.now() + timeoutMs;
    while (rig.f.sim.deployment.documents('notes').length < count) {
      if (Date.now() > deadline) {
        const depth = JSON.stringify(await depthOf(rig.sqs, pair.queueUrl));
        throw new Error(
          `${rig.f.sim.deployment.documents('notes').length} of ${count} notes imported; queue ${depth}; output:\n${output()}`,
        );
      }
      await sleep(200);
    }
  };

  it('waits through a 30 s outage of SQS and then of Convex, says what it waits for and why, and imports everything once each is back', {
    timeout: 180_000,
  }, async () => {
    const { pair, sqsProxy, convexProxy, env } = await setup();
    const child = spawn(
      process.execPath,
      ['--import', quietWarning, '--import', tsx, main, 'import', '--follow', '--verbose'],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    const out = watchOutput(child);

    await sendNotes(pair, 3);
    await imported(3, 20_000, pair, out.text);

    await sqsProxy.down();
    await out.waitFor(/waiting \d+ s for SQS \(.+\)/, 30_000);
    // Producers still reach SQS; only the follower lost it. (A long poll the follower had in
    // flight when its connection was cut can still take messages in SQS for up to 5 s, and those
    // come back only after their visibility timeout: send once it has surely ended.)
    await sleep(6_000);
    await sendNotes(pair, 3);
    await sleep(OUTAGE_MS - 6_000);
    expect(child.exitCode).toBeNull();
    await sqsProxy.up();
    await imported(6, 30_000, pair, out.text);
    await out.waitFor(/SQS is reachable again/, 5_000);

    await convexProxy.down();
    await sendNotes(pair, 3);
    await out.waitFor(/waiting \d+ s for Convex \(.+\)/, 30_000);
    await sleep(OUTAGE_MS);
    expect(child.exitCode).toBeNull();
    expect(rig.f.sim.deployment.documents('notes')).toHaveLength(6);
    await convexProxy.up();
    await imported(9, 30_000, pair, out.text);
    await out.waitFor(/Convex is reachable again/, 5_000);

    child.kill('SIGINT');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(out.text()).toMatch(/import: 9 imported/);
    expect(rig.f.sim.deployment.documents('notes')).toHaveLength(9);
    process.stdout.write(`import --follow through two outages:\n${out.text()}\n`);
  });

  it('a one-shot import still fails fast while SQS or Convex is down', {
    timeout: 60_000,
  }, async () => {
    const { pair, sqsProxy, convexProxy, env } = await setup();
    await sendNotes(pair, 2);
    await sqsProxy.down();
    let started = Date.now();
    const noSqs = await runCli(['import'], env);
    expect(noSqs.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    await sqsProxy.up();

    await convexProxy.down();
    started = Date.now();
    const noConvex = await runCli(['import'], env);
    expect(noConvex.code).toBe(1);
    expect(noConvex.stdout).toContain('0 imported');
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
