import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { createSqsClient } from '../../shared/aws/clients.js';
import { runCli } from '../helpers/run-cli.js';
import { DEPLOY_KEY, useSimulator } from '../helpers/simulator.js';

const cli = runCli;

describe('convex-bridge CLI (import side)', () => {
  const f = useSimulator();

  it('creates the queues, sends JSON lines (all or nothing, bad lines by number; --skip-invalid sends the rest), imports them in order, and clears tables', {
    timeout: 90_000,
  }, async () => {
    const id = randomUUID().slice(0, 8);
    const endpoint = process.env.AWS_ENDPOINT_URL as string;
    const env = {
      CONVEX_URL: f.sim.url,
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      BRIDGE_QUEUE_URL: `${endpoint}/123456789012/import-${id}.fifo`,
      BRIDGE_DLQ_URL: `${endpoint}/123456789012/import-dlq-${id}.fifo`,
      BRIDGE_IMPORT_TABLES: JSON.stringify({ people: { primaryKey: [['email']] } }),
    };
    const setup = await cli(['setup'], env);
    expect(setup.stderr).toBe('');
    expect(setup.code).toBe(0);
    expect(setup.stdout).toContain(`import queue: `);
    const redrive = await createSqsClient().send(
      new GetQueueAttributesCommand({
        QueueUrl: env.BRIDGE_QUEUE_URL,
        AttributeNames: ['RedrivePolicy'],
      }),
    );
    expect(JSON.parse(redrive.Attributes?.RedrivePolicy ?? '{}')).toMatchObject({
      maxReceiveCount: 5,
    });

    const file = join(tmpdir(), `people-${id}.jsonl`);
    writeFileSync(
      file,
      [
        '{"email":"a@x.io","name":"A"}',
        '',
        '{"email":"b@x.io","name":"B"}',
        'not json',
        '{"name":"no key"}',
        '{"email":"a@x.io","name":"A2"}',
      ].join('\n'),
    );
    // All or nothing: one bad line and nothing is queued, with its own exit code (not usage's 2).
    const refused = await cli(['send', '--table', 'people', file], env);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('line 4: not JSON');
    expect(refused.stderr).toContain(
      'line 5: MissingPrimaryKeyField: primary key field data.email is missing',
    );
    expect(refused.stderr).toContain('nothing sent: 2 of 6 line(s) are invalid');
    expect(refused.stdout).toBe('');
    const none = await createSqsClient().send(
      new ReceiveMessageCommand({ QueueUrl: env.BRIDGE_QUEUE_URL, WaitTimeSeconds: 0 }),
    );
    expect(none.Messages ?? []).toEqual([]);
    const send = await cli(['send', '--table', 'people', '--skip-invalid', file], env);
    expect(send.code).toBe(0);
    expect(send.stdout).toContain('sent 3 message(s)');
    expect(send.stderr).toContain('skipped 2 invalid line(s)');
    const del = await cli(
      ['send', '--table', 'people', '--op', 'delete'],
      env,
      '{"email":"b@x.io"}\n',
    );
    expect(del.code).toBe(0);

    const run = await cli(['import'], env);
    expect(run.stderr).toBe('');
    expect(run).toMatchObject({ code: 0 });
    expect(run.stdout).toContain('import: 4 imported, 0 quarantined (DLQ), 0 left for retry');
    expect(run.stdout).toContain('queue drained');
    const people = f.sim.deployment.documents('people').map((d) => [d.email, d.name]);
    expect(people).toEqual([['a@x.io', 'A2']]);

    const empty = await createSqsClient().send(
      new ReceiveMessageCommand({ QueueUrl: env.BRIDGE_QUEUE_URL, WaitTimeSeconds: 0 }),
    );
    expect(empty.Messages ?? []).toEqual([]);

    expect((await cli(['clear-tables', 'people'], env)).stderr).toContain('pass --yes to confirm');
    const clear = await cli(['clear-tables', 'people', '--yes'], env);
    expect(clear).toMatchObject({ code: 0 });
    expect(f.sim.deployment.documents('people')).toEqual([]);
  });

  it('send: exit 6 for an input file that is missing or has no valid line, 2 only for usage', async () => {
    const endpoint = process.env.AWS_ENDPOINT_URL as string;
    const env = { BRIDGE_QUEUE_URL: `${endpoint}/123456789012/never-used` };
    const missing = await cli(['send', '--table', 'people', '/nonexistent/people.jsonl'], env);
    expect(missing.code).toBe(6);
    expect(missing.stderr).toContain('/nonexistent/people.jsonl');
    const usage = await cli(['send', 'file.jsonl'], env);
    expect(usage.code).toBe(2);
    const allBad = await cli(['send', '--table', 'people', '--skip-invalid'], env, 'nope\n');
    expect(allBad.code).toBe(6);
    expect(allBad.stderr).toContain('line 1: not JSON');
  });
});
