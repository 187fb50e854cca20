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

  it('creates the queues, sends JSON lines (refusing bad lines by number), imports them in order, and clears tables', {
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
    const send = await cli(['send', '--table', 'people', file], env);
    expect(send.code).toBe(2);
    expect(send.stdout).toContain('sent 3 message(s)');
    expect(send.stderr).toContain('line 4: not JSON');
    expect(send.stderr).toContain(
      'line 5: MissingPrimaryKeyField: primary key field data.email is missing',
    );
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
});
