import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';
import { createDynamoDbClient, createKinesisClient } from '../../shared/aws/clients.js';
import { loadConvexConnection } from '../../shared/config/convex-connection.js';
import { ConfigError } from '../../shared/errors.js';
import { loadExportConfig } from '../../shared/export/config.js';
import { loadImportConfig } from '../../shared/import/config.js';
import { type LogSink, MemoryMetrics } from '../../shared/ports/observability.js';
import { ensureStateTable } from '../../shared/setup/ensure-resources.js';
import { connectToConvex } from '../../shared/wiring/convex.js';
import { runCli } from '../helpers/run-cli.js';
import { DEPLOY_KEY, useSimulator } from '../helpers/simulator.js';

// Issue 15 (6): errors that point at the cause.

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const EXPORT_ENV = {
  CONVEX_URL: 'https://happy-animal-123.convex.cloud',
  CONVEX_DEPLOY_KEY: 'prod:happy-animal-123|a2V5',
  BRIDGE_STREAM_NAME: 'convex-changes',
  BRIDGE_STATE_TABLE: 'convex-bridge-state',
  BRIDGE_OVERSIZE_BUCKET: 'convex-bridge-oversize',
};

describe('AWS failures name the service, the operation, the setting and the endpoint', () => {
  it('DynamoDB unreachable: the state table setting and AWS_ENDPOINT_URL', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const env = { AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', BRIDGE_STATE_TABLE: 'st-x' };
    const dynamo = createDynamoDbClient({ env, maxAttempts: 1 });
    const error = await dynamo
      .send(
        new UpdateItemCommand({
          TableName: 'st-x',
          Key: { pk: { S: 'a' } },
          UpdateExpression: 'SET v = :v',
          ExpressionAttributeValues: { ':v': { S: '1' } },
        }),
      )
      .then(
        () => new Error('no error'),
        (e: unknown) => e as Error,
      );
    expect(error.message).toBe(
      `DynamoDB UpdateItem on BRIDGE_STATE_TABLE=st-x failed: connection refused at AWS_ENDPOINT_URL=${endpoint}`,
    );
  });

  it('Kinesis unreachable: the stream setting and AWS_ENDPOINT_URL_KINESIS', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const env = {
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL_KINESIS: endpoint,
      AWS_REGION: 'us-east-1',
      BRIDGE_STREAM_NAME: 'events-x',
    };
    const error = await createKinesisClient({ env, maxAttempts: 1 })
      .send(
        new PutRecordsCommand({
          StreamName: 'events-x',
          Records: [{ PartitionKey: 'a', Data: new Uint8Array([1]) }],
        }),
      )
      .then(
        () => new Error('no error'),
        (e: unknown) => e as Error,
      );
    expect(error.message).toBe(
      `Kinesis PutRecords on BRIDGE_STREAM_NAME=events-x failed: connection refused at AWS_ENDPOINT_URL_KINESIS=${endpoint}`,
    );
  });

  it('a missing table says so and how to create it; the SDK error class is kept', async () => {
    const table = `missing-${randomUUID().slice(0, 8)}`;
    const store = new DynamoDbExportStore(
      createDynamoDbClient({ env: { ...process.env, BRIDGE_STATE_TABLE: table } }),
      table,
      'default',
    );
    const error = await store.read().then(
      () => new Error('no error'),
      (e: unknown) => e as Error,
    );
    expect(error.name).toBe('ResourceNotFoundException');
    expect(error.message).toMatch(
      new RegExp(
        `^DynamoDB GetItem on BRIDGE_STATE_TABLE=${table} failed: ResourceNotFoundException`,
      ),
    );
    expect(error.message).toContain('convex-bridge setup');
  });

  it('the CLI prints them as they are', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const result = await runCli(['status'], {
      AWS_ENDPOINT_URL: endpoint,
      BRIDGE_STATE_TABLE: 'cli-state-x',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `DynamoDB GetItem on BRIDGE_STATE_TABLE=cli-state-x failed: connection refused at AWS_ENDPOINT_URL=${endpoint}`,
    );
  });
});

describe('configuration errors in our words, with the variable and a valid example', () => {
  const problem = (env: Record<string, string | undefined>) => {
    try {
      loadExportConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('no error');
  };

  it('a number that is not one', () => {
    const message = problem({ ...EXPORT_ENV, BRIDGE_LEASE_TTL_MS: 'abc' });
    expect(message).toContain(
      'BRIDGE_LEASE_TTL_MS=abc: must be a whole number from 1000 to 3600000, e.g. BRIDGE_LEASE_TTL_MS=60000',
    );
    expect(message).not.toMatch(/NaN|expected number/);
  });

  it('a number out of range, a choice not offered, a name that does not fit', () => {
    const message = problem({
      ...EXPORT_ENV,
      BRIDGE_POLL_INTERVAL_MS: '10',
      BRIDGE_VALUE_FORMAT: 'xml',
      BRIDGE_EXPORT_ID: 'a b',
    });
    expect(message).toContain(
      'BRIDGE_POLL_INTERVAL_MS=10: must be a whole number from 50 to 60000, e.g. BRIDGE_POLL_INTERVAL_MS=500',
    );
    expect(message).toContain(
      'BRIDGE_VALUE_FORMAT=xml: must be one of json, convex_encoded_json, export_json, e.g. BRIDGE_VALUE_FORMAT=json',
    );
    expect(message).toContain('BRIDGE_EXPORT_ID=a b: must be 1-64 of A-Z a-z 0-9 _ . -');
  });

  it('missing settings, with an example of each', () => {
    const message = problem({ CONVEX_DEPLOY_KEY: 'prod:x|y' });
    expect(message).toContain(
      'CONVEX_URL is required (the deployment URL), e.g. CONVEX_URL=https://happy-animal-123.convex.cloud',
    );
    expect(message).toContain(
      'BRIDGE_STATE_TABLE is required (the DynamoDB table for cursors and the lease), e.g. BRIDGE_STATE_TABLE=convex-bridge-state',
    );
    const noKey = problem({ ...EXPORT_ENV, CONVEX_DEPLOY_KEY: undefined });
    expect(noKey).toContain(
      'CONVEX_DEPLOY_KEY is not set: set CONVEX_DEPLOY_KEY or CONVEX_DEPLOY_KEY_SECRET_ID, e.g. CONVEX_DEPLOY_KEY=prod:<deployment>|<key> or CONVEX_DEPLOY_KEY_SECRET_ID=<secret name or ARN>',
    );
  });

  it('a URL that is not one, and a long value cut short', () => {
    const message = problem({
      ...EXPORT_ENV,
      BRIDGE_EXPORT_ID: 'x'.repeat(100),
    });
    expect(message).toContain(`BRIDGE_EXPORT_ID=${'x'.repeat(57)}...: must be`);
    const queue = (() => {
      try {
        loadImportConfig({ ...EXPORT_ENV, BRIDGE_DLQ_URL: 'not a url' });
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(queue).toContain(
      'BRIDGE_DLQ_URL=not a url: must be a URL, e.g. BRIDGE_DLQ_URL=https://sqs.us-east-1.amazonaws.com/123456789012/convex-import-dlq',
    );
  });

  it('never echoes the deploy key or the deployment URL', () => {
    const message = problem({
      ...EXPORT_ENV,
      CONVEX_URL: 'ftp://secret-team.example',
      BRIDGE_CONVEX_TIMEOUT_MS: 'x',
      CONVEX_DEPLOY_KEY: 'prod:secret|key',
      BRIDGE_STREAM_NAME: undefined,
    });
    expect(message).not.toContain('secret');
  });

  it('treats empty variables as unset', () => {
    const config = loadExportConfig({
      ...EXPORT_ENV,
      BRIDGE_LEASE_TTL_MS: '',
      BRIDGE_EXPORT_ID: ' ',
      BRIDGE_VALUE_FORMAT: '',
    });
    expect(config).toMatchObject({ leaseTtlMs: 60_000, exportId: 'default', valueFormat: 'json' });
    const viaSecret = loadConvexConnection({
      CONVEX_URL: EXPORT_ENV.CONVEX_URL,
      CONVEX_DEPLOY_KEY: '',
      CONVEX_DEPLOY_KEY_SECRET_ID: 'bridge/deploy-key',
    });
    expect(viaSecret.deployKey).toEqual({ secretId: 'bridge/deploy-key' });
    expect(problem({ ...EXPORT_ENV, BRIDGE_STREAM_NAME: '' })).toContain(
      'BRIDGE_STREAM_NAME is required',
    );
  });
});

describe('Convex failures', () => {
  const f = useSimulator();

  it('retry logs carry the cause', async () => {
    const lines: { message: string; fields?: Record<string, unknown> }[] = [];
    const log: LogSink = {
      info: () => {},
      warn: (message, fields) => lines.push({ message, ...(fields ? { fields } : {}) }),
      error: () => {},
    };
    const client = await connectToConvex(
      loadConvexConnection({
        CONVEX_URL: f.sim.url,
        CONVEX_DEPLOY_KEY: DEPLOY_KEY,
        BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      }),
      () => {
        throw new Error('no secret');
      },
      { metrics: new MemoryMetrics(), log },
    );
    f.sim.faults.configure({
      script: [
        {
          path: 'json_schemas',
          action: { kind: 'status', status: 503, code: 'Overloaded', message: 'busy' },
        },
      ],
    });
    await client.jsonSchemas();
    expect(lines[0]?.message).toBe('retrying Convex call');
    expect(String(lines[0]?.fields?.cause)).toContain('503 Overloaded: busy');
  });

  it('the CLI shows the host the user typed; what it persists and logs keeps it redacted', {
    timeout: 60_000,
  }, async () => {
    const port = await closedPort();
    const id = randomUUID().slice(0, 8);
    const table = `err-state-${id}`;
    await ensureStateTable(createDynamoDbClient(), table);
    const env = {
      CONVEX_URL: `http://127.0.0.1:${port}`,
      CONVEX_DEPLOY_KEY: DEPLOY_KEY,
      BRIDGE_ALLOW_INSECURE_LOOPBACK: 'true',
      BRIDGE_STREAM_NAME: `err-${id}`,
      BRIDGE_STATE_TABLE: table,
      BRIDGE_OVERSIZE_BUCKET: `err-${id}`,
      BRIDGE_CONVEX_TIMEOUT_MS: '1000',
    };
    const run = await runCli(['export'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`CONVEX_URL=http://127.0.0.1:${port}`);
    expect(run.stderr).toContain('ECONNREFUSED');
    expect(run.stderr).not.toContain('[deployment]');
    const { state } = await new DynamoDbExportStore(
      createDynamoDbClient(),
      table,
      'default',
    ).read();
    expect(state?.lastError?.message).toContain('[deployment]');
    expect(state?.lastError?.message).not.toContain(`127.0.0.1:${port}`);
  });
});
