/**
 * `npm run test:deploy`: the deploy path end to end, with no network and no Docker.
 *
 * A fresh moto stands in for an AWS account, two Convex simulators for a dev and a prod
 * deployment. `cdk bootstrap`, then `cdk deploy` of the app with a two-deployment config; the
 * bridge is then driven with its CLI against what the stack created, configured only from the
 * stack's outputs (`--outputs-file`, turned into the CLI's environment by the README's one
 * command): `export` into each deployment's stream, `send` + `import` through prod's queue (a bad
 * message reaching the DLQ with its reason), `status`; then a config change shown by `cdk diff`
 * and applied by a second deploy; then `cdk destroy`, checking what is retained. Each stage
 * prints its duration; any failed assertion stops the run with exit code 1. Everything started
 * here is stopped on the way out, also on failure or Ctrl-C.
 *
 * moto's gaps are worked around here and only here (the emulators note, "cdk bootstrap + cdk
 * deploy onto moto"); the product is deployed as a user would deploy it:
 * - `AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION=http://localhost:<port>`: the CLI builds the template
 *   URL from it, and moto takes the bucket from the host name unless the host is `localhost`.
 * - moto's CloudFormation has no `AWS::SecretsManager::Secret`, so the config references
 *   secrets created here first (`deployKeySecret.arn`), as a user with existing secrets would.
 * - `--method=direct`: moto's change sets lose the outputs and fail on update.
 * - `--parameters BootstrapVersion=…` on every deploy: moto keeps only parameters passed
 *   explicitly, and the CLI sends "use previous value".
 * - `cdk diff --method=template`: moto crashes deleting the diff's change set.
 * - a fresh moto per run: moto does no rollback, so a failed deploy leaves debris.
 * moto creates but never runs the functions (that needs Docker) and skips alarms, bucket and
 * queue policies: those are checked in the template tests (test/infra/).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DescribeTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { type Moto, startMoto } from '../../local/local-aws.js';
import {
  createDynamoDbClient,
  createKinesisClient,
  createS3Client,
  createSecretsManagerClient,
  createSqsClient,
} from '../../shared/aws/clients.js';
import { applyAdminTransaction } from '../../simulator/admin-routes.js';
import { type Simulator, startSimulator } from '../../simulator/server.js';
import { MotoApi } from './moto-api.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CDK = join(root, 'node_modules/aws-cdk/bin/cdk');
const STACK = 'ConvexStreamBridge';
const ACCOUNT = '123456789012'; // moto's
const REGION = 'us-east-1';
const DEPLOYMENTS = ['dev', 'prod'] as const;
type Name = (typeof DEPLOYMENTS)[number];
const P: Record<Name, string> = { dev: 'Dev', prod: 'Prod' };
const SEEDED: Record<Name, number> = { dev: 12, prod: 25 };

/** The README's command (section "Deploy") that turns the outputs file into the CLI's environment. */
const README_ENV_COMMAND = `eval "$(jq -r '.${STACK}.CliEnv | fromjson | to_entries[] | "export \\(.key)=\\(.value | @sh)"' outputs.json)"`;

// ---------------------------------------------------------------- stages, processes, cleanup

const stages: { name: string; seconds: number; ok: boolean }[] = [];
const started = performance.now();
const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void> | void)[] = [];
const secrets: string[] = [];

/** Never print or persist a deploy key: every text shown passes through here. */
const redact = (text: string) => secrets.reduce((t, s) => t.split(s).join('[deploy key]'), text);
const say = (text: string) => process.stdout.write(`${redact(text)}\n`);

async function stage<T>(name: string, body: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  say(`▶ ${name}`);
  try {
    const result = await body();
    const seconds = (performance.now() - t0) / 1000;
    stages.push({ name, seconds, ok: true });
    say(`✓ ${name} (${seconds.toFixed(1)} s)`);
    return result;
  } catch (error) {
    const seconds = (performance.now() - t0) / 1000;
    stages.push({ name, seconds, ok: false });
    say(`✗ ${name} (${seconds.toFixed(1)} s)`);
    throw error;
  }
}

async function cleanup(): Promise<void> {
  for (const child of children) killGroup(child);
  for (const step of cleanups.splice(0).reverse()) {
    try {
      await step();
    } catch (error) {
      say(`cleanup: ${(error as Error).message}`);
    }
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL'); // the cdk CLI and the app process it started
  } catch {
    child.kill('SIGKILL');
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping everything this run started`);
    void cleanup().finally(() => process.exit(130));
  });
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command in its own process group (so a timeout or Ctrl-C stops all it started). */
function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; stdin?: string; timeoutMs: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      killGroup(child);
      reject(
        new Error(
          `${command} ${args.join(' ')} did not finish within ${options.timeoutMs / 1000} s:\n${tail(stdout + stderr)}`,
        ),
      );
    }, options.timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(options.stdin ?? '');
  });
}

const tail = (text: string, lines = 60) => text.trimEnd().split('\n').slice(-lines).join('\n');

// ---------------------------------------------------------------- the account: moto

let motoServer: Moto | undefined;
let tmp = '';

function moto(): Moto {
  if (!motoServer) throw new Error('moto is not running');
  return motoServer;
}

/**
 * What every child gets: this process' environment without any AWS, CDK or bridge setting (so
 * nothing reaches a real account and nothing but the outputs configures the bridge), plus moto.
 */
function accountEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(AWS_|CDK_|BRIDGE_|CONVEX_)/.test(k) && k !== 'NODE_OPTIONS',
    ),
  );
  return {
    ...env,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL: moto().endpoint,
    // No profile, no credentials file: a mistake here can only ever reach moto.
    AWS_CONFIG_FILE: join(tmp, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'no-aws-credentials'),
  };
}

async function cdk(
  args: string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  const r = await run(process.execPath, [CDK, ...args, '--no-notices', '--no-color', '--ci'], {
    cwd: options.cwd ?? root,
    env: {
      ...accountEnv(),
      CDK_DISABLE_CLI_TELEMETRY: 'true',
      // moto workaround (see the top): the template URL's host must be `localhost`.
      AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION: `http://localhost:${moto().port}`,
      CDK_HOME: join(tmp, 'cdk-home'),
    },
    timeoutMs: options.timeoutMs ?? 300_000,
  });
  const output = r.stdout + r.stderr;
  writeFileSync(join(tmp, `cdk-${args[0]}-${Date.now()}.log`), redact(output));
  if (r.code !== 0) throw new Error(`cdk ${args[0]} exited with ${r.code}:\n${tail(output)}`);
  return output;
}

const deployArgs = (outputsFile: string) => [
  'deploy',
  STACK,
  '--require-approval',
  'never',
  '--outputs-file',
  outputsFile,
  '--progress',
  'events',
  // moto workarounds (see the top)
  '--method=direct',
  '--parameters',
  'BootstrapVersion=/cdk-bootstrap/hnb659fds/version',
];

// ---------------------------------------------------------------- the bridge CLI, from outputs

type Outputs = Record<string, string>;

function readOutputs(file: string): Outputs {
  const all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Outputs>;
  const outputs = all[STACK];
  assert.ok(outputs, `${file} has no outputs of ${STACK}`);
  return outputs;
}

/**
 * `convex-bridge <args>` for one deployment, exactly as the README says to run it: the shell
 * evaluates the README's command on the outputs file, then runs the CLI; nothing else configures
 * the bridge.
 */
async function bridge(d: Name, outputsFile: string, args: string[], stdin = ''): Promise<Run> {
  const envCommand = README_ENV_COMMAND.replace('.CliEnv', `.${P[d]}CliEnv`).replace(
    'outputs.json',
    `'${outputsFile}'`,
  );
  const r = await run(
    'bash',
    ['-c', `${envCommand} && exec node bin/convex-bridge.js "$@"`, 'convex-bridge', ...args],
    { cwd: root, env: accountEnv(), stdin, timeoutMs: 120_000 },
  );
  return r;
}

async function bridgeOk(d: Name, outputsFile: string, args: string[], stdin = '') {
  const r = await bridge(d, outputsFile, args, stdin);
  assert.equal(
    r.code,
    0,
    redact(`convex-bridge ${args.join(' ')} (${d}) exited with ${r.code}:\n${r.stdout}${r.stderr}`),
  );
  return r.stdout;
}

type StatusReport = {
  phase: string;
  source?: string;
  syncId?: string;
  generation?: number;
  updatedAt?: string;
};
const status = async (d: Name, outputsFile: string) =>
  JSON.parse(await bridgeOk(d, outputsFile, ['status', '--json'])) as StatusReport;

type Event = { op: string; table: string; doc: Record<string, unknown> | null };
const DOCUMENT_OPS = new Set(['snapshot', 'upsert', 'delete']);
/** The document events in the stream (control events' copies left out: docs/events.md). */
async function streamEvents(d: Name, outputsFile: string): Promise<Event[]> {
  const out = await bridgeOk(d, outputsFile, ['tail', '--from-start']);
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Event)
    .filter((e) => DOCUMENT_OPS.has(e.op));
}

const exported = (stdout: string) => {
  const m = /export caught-up: (\d+) events/.exec(stdout);
  assert.ok(m, `unexpected export output: ${stdout}`);
  return Number(m[1]);
};

// ---------------------------------------------------------------- the test

const sims = {} as Record<Name, Simulator>;
const keys = {} as Record<Name, string>;

function config(prodScheduleMinutes: number, secretArns: Record<Name, string>) {
  return {
    deployments: DEPLOYMENTS.map((d) => ({
      name: d,
      convexUrl: sims[d].url,
      deployKeySecret: { arn: secretArns[d] },
      ...(d === 'prod'
        ? { export: { scheduleMinutes: prodScheduleMinutes }, alarms: { lagSeconds: 120 } }
        : {}),
    })),
    import: { tables: { users: { primaryKey: [['email']] } } },
    alarms: { lagSeconds: 300 },
  };
}

async function main(): Promise<void> {
  tmp = mkdtempSync(join(tmpdir(), 'bridge-deploy-'));
  const outputsFile = join(tmp, 'outputs.json');
  const outputs2File = join(tmp, 'outputs-2.json');
  mkdirSync(join(tmp, 'cdk-home'));

  await stage('check prerequisites (jq, the README command)', async () => {
    assert.equal(
      spawnSync('jq', ['--version']).status,
      0,
      'jq is needed: the README turns the stack outputs into the CLI environment with it (apt-get install jq)',
    );
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    assert.ok(
      readme.includes(README_ENV_COMMAND),
      `README.md no longer shows the command this test runs:\n${README_ENV_COMMAND}`,
    );
  });

  await stage('start moto and two Convex simulators (dev, prod)', async () => {
    const server = await startMoto();
    motoServer = server;
    cleanups.push(() => server.stop());
    // In-process SDK clients (shared/aws/clients.ts) read the same settings as the children.
    for (const k of Object.keys(process.env)) if (/^AWS_/.test(k)) delete process.env[k];
    Object.assign(process.env, accountEnv());
    for (const d of DEPLOYMENTS) {
      keys[d] = `${d}:sim-${d}|${randomBytes(24).toString('base64')}`;
      secrets.push(keys[d]);
      sims[d] = await startSimulator({ deployKey: keys[d] });
      const sim = sims[d];
      cleanups.push(() => sim.close());
      applyAdminTransaction(
        sim.deployment,
        Array.from({ length: SEEDED[d] }, (_, i) => ({
          op: 'insert' as const,
          table: 'messages',
          doc: { body: `${d} message ${i}`, deployment: d },
        })),
      );
    }
  });

  const secretArns = await stage(
    'create the deploy-key secrets (moto has no AWS::SecretsManager::Secret)',
    async () => {
      const sm = createSecretsManagerClient();
      const arns = {} as Record<Name, string>;
      for (const d of DEPLOYMENTS) {
        const out = await sm.send(
          new CreateSecretCommand({
            Name: `convex-bridge/${d}/deploy-key`,
            Description: `Convex deploy key of ${d}`,
          }),
        );
        assert.ok(out.ARN);
        arns[d] = out.ARN;
      }
      writeFileSync(join(tmp, 'bridge.json'), JSON.stringify(config(1, arns), null, 2));
      return arns;
    },
  );

  await stage('cdk bootstrap', async () => {
    // From the temporary folder: with no cdk.json there, bootstrap does not synthesize the app.
    const out = await cdk(['bootstrap', `aws://${ACCOUNT}/${REGION}`], { cwd: tmp });
    assert.match(out, /Environment aws:\/\/123456789012\/us-east-1 bootstrapped/);
  });

  const api = () => new MotoApi(moto().endpoint, REGION);
  let outputs: Outputs = {};

  await stage('cdk deploy (two deployments)', async () => {
    await cdk([
      ...deployArgs(outputsFile),
      '-c',
      `configFile=${join(tmp, 'bridge.json')}`,
      '--output',
      join(tmp, 'cdk.out'),
    ]);
    assert.equal(await api().stackStatus(STACK), 'CREATE_COMPLETE');
    outputs = readOutputs(outputsFile);
    const expected = ['DashboardUrl'];
    for (const d of DEPLOYMENTS)
      for (const base of [
        'StreamName',
        'StreamArn',
        'StateTableName',
        'OversizeBucketName',
        'ImportQueueUrl',
        'DeadLetterQueueUrl',
        'DeployKeySecretArn',
        'CliEnv',
      ])
        expected.push(`${P[d]}${base}`);
    assert.deepEqual(Object.keys(outputs).sort(), expected.sort());
    for (const [name, value] of Object.entries(outputs))
      assert.ok(value && !value.includes('undefined'), `output ${name} is empty: ${value}`);
  });

  await stage('check what the stack created against its outputs', async () => {
    const cliEnv = (d: Name) => JSON.parse(outputs[`${P[d]}CliEnv`] as string) as Outputs;
    // Per deployment: its own stream, bucket, queues, secret; one state table shared.
    assert.notEqual(outputs.DevStreamName, outputs.ProdStreamName);
    assert.notEqual(outputs.DevOversizeBucketName, outputs.ProdOversizeBucketName);
    assert.notEqual(outputs.DevImportQueueUrl, outputs.ProdImportQueueUrl);
    assert.equal(outputs.DevStateTableName, outputs.ProdStateTableName);
    const kinesis = createKinesisClient();
    const functions = await api().functions();
    const rules = await api().scheduleRules();
    for (const d of DEPLOYMENTS) {
      const env = cliEnv(d);
      assert.equal(env.CONVEX_URL, sims[d].url);
      assert.equal(env.CONVEX_DEPLOY_KEY_SECRET_ID, secretArns[d]);
      assert.equal(env.BRIDGE_EXPORT_ID, d);
      assert.equal(env.BRIDGE_STREAM_NAME, outputs[`${P[d]}StreamName`]);
      assert.equal(env.BRIDGE_QUEUE_URL, outputs[`${P[d]}ImportQueueUrl`]);
      assert.equal(env.BRIDGE_DLQ_URL, outputs[`${P[d]}DeadLetterQueueUrl`]);
      assert.equal(
        (
          await kinesis.send(
            new DescribeStreamSummaryCommand({ StreamName: outputs[`${P[d]}StreamName`] }),
          )
        ).StreamDescriptionSummary?.StreamARN,
        outputs[`${P[d]}StreamArn`],
      );
      // The deployed functions run with the same settings the CLI gets from the outputs.
      const exporter = functions.find((f) => f.Environment?.Variables?.BRIDGE_EXPORT_ID === d);
      assert.ok(exporter, `no exporter function for ${d}`);
      const exporterEnv = exporter.Environment?.Variables ?? {};
      for (const k of Object.keys(exporterEnv).filter((k) => k in env))
        assert.equal(exporterEnv[k], env[k], `${d} exporter ${k}`);
      assert.equal(exporter.Timeout, 60);
      const importer = functions.find(
        (f) => f.Environment?.Variables?.BRIDGE_DLQ_URL === env.BRIDGE_DLQ_URL,
      );
      assert.ok(importer, `no importer function for ${d}`);
      assert.equal(importer.Environment?.Variables?.CONVEX_URL, sims[d].url);
      // Its own schedule.
      const rule = rules.find((r) => r.targets.includes(exporter.FunctionArn));
      assert.equal(rule?.schedule, 'rate(1 minute)', `${d} schedule`);
    }
    assert.equal(functions.length, 4);
    // Per-deployment alarms: in the deployed template (moto's CloudFormation skips alarms).
    const template = JSON.parse(
      readFileSync(join(tmp, 'cdk.out', `${STACK}.template.json`), 'utf8'),
    ) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const alarms = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::CloudWatch::Alarm',
    );
    for (const d of DEPLOYMENTS) {
      const own = alarms.filter((a) => String(a.Properties.AlarmDescription).startsWith(`[${d}] `));
      assert.equal(own.length, 8, `${d}: 4 export and 4 import alarms`);
      const lag = own.find((a) => a.Properties.MetricName === 'LagSeconds');
      assert.equal(lag?.Properties.Threshold, d === 'prod' ? 120 : 300);
    }
    say(`  moto created ${(await api().alarmNames()).length} of ${alarms.length} alarms`);
  });

  await stage('put each deploy key into its secret (as put-secret-value would)', async () => {
    const sm = createSecretsManagerClient();
    for (const d of DEPLOYMENTS)
      await sm.send(
        new PutSecretValueCommand({
          SecretId: outputs[`${P[d]}DeployKeySecretArn`],
          SecretString: keys[d],
        }),
      );
  });

  const cursors = {} as Record<Name, StatusReport>;
  await stage('export: each deployment into its own stream; status per deployment', async () => {
    await Promise.all(
      DEPLOYMENTS.map(async (d) => {
        assert.equal((await status(d, outputsFile)).phase, 'not started');
        assert.equal(exported(await bridgeOk(d, outputsFile, ['export'])), SEEDED[d]);
        const events = await streamEvents(d, outputsFile);
        assert.equal(events.length, SEEDED[d], `${d} stream`);
        for (const e of events) {
          assert.equal(e.op, 'snapshot');
          assert.equal(e.doc?.deployment, d, `an event of another deployment in ${d}'s stream`);
        }
        cursors[d] = await status(d, outputsFile);
        // The simulators serve Data Sync, so a new export starts there (BRIDGE_SOURCE=auto).
        assert.equal(cursors[d].source, 'data-sync');
        assert.equal(cursors[d].phase, 'changes');
      }),
    );
    // One table, one item per deployment, each with its own cursor.
    const items = await createDynamoDbClient().send(
      new ScanCommand({ TableName: outputs.ProdStateTableName }),
    );
    assert.deepEqual(items.Items?.map((i) => i.pk?.S).sort(), ['export#dev', 'export#prod']);
    assert.ok(cursors.dev.syncId && cursors.prod.syncId, 'each export reports its Data Sync id');
    assert.notEqual(cursors.dev.syncId, cursors.prod.syncId);
  });

  await stage(
    "send + import through prod's queue; a bad message reaches the DLQ with its reason",
    async () => {
      const sent = await bridgeOk(
        'prod',
        outputsFile,
        ['send', '--table', 'users'],
        '{"email":"ada@example.com","name":"Ada"}\n{"email":"grace@example.com","name":"Grace"}\n',
      );
      assert.match(sent, /sent 2 message\(s\)/);
      // A producer that skips `send`'s checks: the importer must quarantine this one.
      const bad = JSON.stringify({ table: 'users', op: 'upsert', data: { name: 'no email' } });
      await createSqsClient().send(
        new SendMessageCommand({ QueueUrl: outputs.ProdImportQueueUrl, MessageBody: bad }),
      );
      assert.match(
        await bridgeOk('prod', outputsFile, ['import']),
        /import: 2 imported, 1 quarantined \(DLQ\), 0 left for retry/,
      );
      const dlq = await createSqsClient().send(
        new ReceiveMessageCommand({
          QueueUrl: outputs.ProdDeadLetterQueueUrl,
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          WaitTimeSeconds: 1,
        }),
      );
      assert.equal(dlq.Messages?.length, 1);
      const [dead] = dlq.Messages ?? [];
      assert.equal(dead?.Body, bad);
      assert.equal(
        dead?.MessageAttributes?.['bridge-error-code']?.StringValue,
        'MissingPrimaryKeyField',
      );
      assert.match(
        dead?.MessageAttributes?.['bridge-error-message']?.StringValue ?? '',
        /primary key field .*email.* is missing/,
      );
      const users = sims.prod.deployment.documents('users').map((u) => u.email);
      assert.deepEqual(users.sort(), ['ada@example.com', 'grace@example.com']);
      assert.equal(sims.dev.deployment.documents('users').length, 0, "dev got prod's import");
      // The imported rows come back out of prod's stream as changes; dev has none.
      assert.equal(exported(await bridgeOk('prod', outputsFile, ['export'])), 2);
      assert.equal(exported(await bridgeOk('dev', outputsFile, ['export'])), 0);
      const upserts = (await streamEvents('prod', outputsFile)).filter((e) => e.op === 'upsert');
      assert.deepEqual(
        upserts.map((e) => e.table),
        ['users', 'users'],
      );
      cursors.prod = await status('prod', outputsFile);
    },
  );

  const config2 = join(tmp, 'bridge-2.json');
  await stage('cdk diff shows a config change (prod exports every 5 minutes)', async () => {
    writeFileSync(config2, JSON.stringify(config(5, secretArns), null, 2));
    const diff = await cdk([
      'diff',
      STACK,
      '-c',
      `configFile=${config2}`,
      '--output',
      join(tmp, 'cdk.out.2'),
      '--method=template', // moto workaround (see the top)
    ]);
    const lines = diff.split('\n');
    const changed = lines.filter((l) => /^\[[~+-]\] /.test(l));
    say(changed.map((l) => `  ${l}`).join('\n'));
    assert.deepEqual(
      changed.map((l) => l.replace(/[A-F0-9]{8}$/, '')).sort(),
      [
        '[~] AWS::Events::Rule ExportProd/Schedule ExportProdSchedule',
        '[~] AWS::Lambda::Function ExportProd/Exporter ExportProdExporter',
      ].sort(),
    );
    assert.match(diff, /rate\(1 minute\)[\s\S]*rate\(5 minutes\)/);
    assert.doesNotMatch(diff, /replace/i);
  });

  await stage('cdk deploy applies it', async () => {
    // The assembly `cdk diff` just synthesized is the one deployed: no second synth.
    await cdk([...deployArgs(outputs2File), '--app', join(tmp, 'cdk.out.2')]);
    assert.equal(await api().stackStatus(STACK), 'UPDATE_COMPLETE');
    assert.deepEqual(
      readOutputs(outputs2File),
      outputs,
      'an output changed: a resource was replaced',
    );
    const functions = await api().functions();
    const rules = await api().scheduleRules();
    for (const d of DEPLOYMENTS) {
      const exporter = functions.find((f) => f.Environment?.Variables?.BRIDGE_EXPORT_ID === d);
      assert.equal(exporter?.Timeout, d === 'prod' ? 300 : 60, `${d} exporter timeout`);
      const rule = rules.find((r) => exporter && r.targets.includes(exporter.FunctionArn));
      assert.equal(rule?.schedule, d === 'prod' ? 'rate(5 minutes)' : 'rate(1 minute)');
    }
    // The state survived the update: same table, same item, same sync, untouched since.
    const after = await status('prod', outputs2File);
    assert.equal(after.syncId, cursors.prod.syncId);
    assert.equal(after.updatedAt, cursors.prod.updatedAt);
    assert.equal(after.generation, cursors.prod.generation);
  });

  await stage('cdk destroy: the stream, state table, bucket and queues are retained', async () => {
    await cdk(['destroy', STACK, '--force', '--app', join(tmp, 'cdk.out.2')]);
    assert.equal(await api().stackStatus(STACK), undefined);
    assert.equal((await api().functions()).length, 0, 'functions left behind');
    const sqs = createSqsClient();
    for (const url of [outputs.DevImportQueueUrl, outputs.ProdDeadLetterQueueUrl]) {
      // Retained by default (import.retainQueues): the DLQ may hold quarantined messages.
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
    }
    const kinesis = createKinesisClient();
    for (const d of DEPLOYMENTS) {
      const stream = await kinesis.send(
        new DescribeStreamSummaryCommand({ StreamName: outputs[`${P[d]}StreamName`] }),
      );
      assert.equal(stream.StreamDescriptionSummary?.StreamStatus, 'ACTIVE');
      await createS3Client().send(
        new HeadBucketCommand({ Bucket: outputs[`${P[d]}OversizeBucketName`] }),
      );
      // Referenced secrets belong to the user; a destroy leaves them alone.
      await createSecretsManagerClient().send(
        new DescribeSecretCommand({ SecretId: secretArns[d] }),
      );
    }
    const table = await createDynamoDbClient().send(
      new DescribeTableCommand({ TableName: outputs.ProdStateTableName }),
    );
    assert.equal(table.Table?.TableStatus, 'ACTIVE');
    const items = await createDynamoDbClient().send(
      new ScanCommand({ TableName: outputs.ProdStateTableName }),
    );
    assert.equal(items.Items?.length, 2, 'the cursors are kept with the table');
  });
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  say(`\n${(error as Error).stack ?? String(error)}`);
  if (motoServer) say(`\nmoto's last output:\n${tail(motoServer.log(), 30)}`);
} finally {
  await stage('stop moto and the simulators', cleanup).catch(() => undefined);
}
const total = (performance.now() - started) / 1000;
say('\nstage durations');
for (const s of stages)
  say(`  ${s.ok ? '✓' : '✗'} ${s.seconds.toFixed(1).padStart(6)} s  ${s.name}`);
say(`  ${total.toFixed(1).padStart(8)} s  in all`);
if (failed) {
  say(`\ndeploy test FAILED; cdk logs kept in ${tmp}`);
  process.exitCode = 1;
} else {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  say('\ndeploy test passed');
}
