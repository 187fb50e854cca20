import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { loadBridgeConfig, parseBridgeConfig } from '../../infra/config.js';
import { stateItemKey } from '../../infra/constructs/convex-export.js';
import { acknowledgeNagFindings } from '../../infra/nag-acknowledgements.js';
import { BridgeStack } from '../../infra/stacks/bridge-stack.js';
import { DynamoDbExportStore } from '../../shared/adapters/dynamodb-export-store.js';

const base = {
  convexUrl: 'https://happy-animal-123.convex.cloud',
  import: { tables: { users: { primaryKey: [['email']] } } },
};

function synth(raw: Record<string, unknown> = base) {
  // Bundling is skipped here (assets are checked by `cdk synth` in CI); the template is complete.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new BridgeStack(app, 'Bridge', { config: parseBridgeConfig(raw, 'test') });
  acknowledgeNagFindings(stack);
  return { stack, template: Template.fromStack(stack) };
}

type Statement = {
  Action: string | string[];
  Effect: string;
  Resource: unknown;
  Condition?: unknown;
};

/** A template value with Ref and GetAtt shown as `<LogicalId>` and `<LogicalId.Attr>`. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return `<${v.Ref}>`;
  if (Array.isArray(v['Fn::GetAtt'])) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  if (Array.isArray(v['Fn::Join'])) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

function idsOf(template: Template, type: string): string[] {
  return Object.keys(template.findResources(type));
}

function onlyId(template: Template, type: string): string {
  const ids = idsOf(template, type);
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

function idStartingWith(template: Template, prefix: string): string {
  const ids = Object.keys(template.toJSON().Resources as object).filter((id) =>
    new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id),
  );
  expect(ids, prefix).toHaveLength(1);
  return ids[0] as string;
}

/** A function's environment variables, rendered. */
function environmentOf(template: Template, functionPrefix: string): Record<string, string> {
  const fn = template.findResources('AWS::Lambda::Function')[
    idStartingWith(template, functionPrefix)
  ] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  return Object.fromEntries(
    Object.entries(fn.Properties.Environment.Variables).map(([k, v]) => [k, render(v)]),
  );
}

function omit(env: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !keys.includes(k)));
}

/** Every policy statement attached to a function's role. */
function statementsOf(template: Template, functionPrefix: string): Statement[] {
  const fn = template.findResources('AWS::Lambda::Function')[
    idStartingWith(template, functionPrefix)
  ] as { Properties: { Role: { 'Fn::GetAtt': [string] } } };
  const role = fn.Properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) =>
      (p as { Properties: { Roles: { Ref: string }[] } }).Properties.Roles.some(
        (r) => r.Ref === role,
      ),
    )
    .flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties
          .PolicyDocument.Statement,
    );
}

/** Every IAM action granted to a function's role, from the template. */
function actionsOf(template: Template, functionLogicalIdPrefix: string): string[] {
  return statementsOf(template, functionLogicalIdPrefix)
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
    .filter((action, i, all) => all.indexOf(action) === i)
    .sort();
}

describe('BridgeStack template', () => {
  const { template } = synth();

  it('encrypts the stream with KMS, on demand, with the configured retention', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RetentionPeriodHours: 24,
    });
  });

  it('keeps state in an on-demand, encrypted, PITR-protected, retained DynamoDB table', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    });
  });

  it('stores oversized events in an encrypted, private, TLS-only bucket that outlives the stream records', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ ExpirationInDays: 8, Status: 'Enabled' })],
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('runs both functions on Node.js 22 arm64, the exporter alone and every minute', () => {
    template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 1,
      Timeout: 60,
      Environment: {
        Variables: Match.objectLike({
          CONVEX_URL: base.convexUrl,
          CONVEX_DEPLOY_KEY_SECRET_ID: Match.anyValue(),
          BRIDGE_STREAM_NAME: Match.anyValue(),
        }),
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
    });
  });

  it('wires the import queue to a DLQ and the importer with partial batch failures', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
      VisibilityTimeout: 360,
      SqsManagedSseEnabled: true,
    });
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { SqsManagedSseEnabled: true }, 2);
    template.resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      },
      2,
    );
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
  });

  it('alarms on errors, lag, cursor age, resync, dead letters and message age', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => (a as { Properties: { MetricName?: string } }).Properties.MetricName,
    );
    expect(alarms.sort()).toEqual(
      [
        'ApproximateAgeOfOldestMessage',
        'ApproximateNumberOfMessagesVisible',
        'CursorAgeSeconds',
        'Errors',
        'Errors',
        'ImportHalted',
        'LagSeconds',
        'ResyncRequired',
      ].sort(),
    );
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CursorAgeSeconds',
      Threshold: 168 * 3600,
    });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('holds no secret value anywhere: the key lives only in Secrets Manager', () => {
    const text = JSON.stringify(template.toJSON());
    expect(text).not.toContain('CONVEX_DEPLOY_KEY"');
    expect(text).not.toMatch(/"SecretString"/);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('Convex deploy key'),
    });
  });

  it('grants each function exactly what it needs, with no managed policy', () => {
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(
        (role as { Properties: { ManagedPolicyArns?: unknown } }).Properties.ManagedPolicyArns,
      ).toBeUndefined();
    }
    expect(actionsOf(template, 'ExportExporter')).toEqual(
      [
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'kinesis:ListShards',
        'kinesis:PutRecord',
        'kinesis:PutRecords',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:Abort*',
        's3:PutObject',
        's3:PutObjectLegalHold',
        's3:PutObjectRetention',
        's3:PutObjectTagging',
        's3:PutObjectVersionTagging',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ].sort(),
    );
    expect(actionsOf(template, 'ImportImporter')).toEqual(
      [
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
        'sqs:SendMessage',
      ].sort(),
    );
  });

  it('outputs every value the CLI and consumers need, each pointing at its resource', () => {
    const outputs = template.findOutputs('*');
    const target = (name: string) => render(outputs[name]?.Value);
    expect(target('StreamName')).toBe(`<${onlyId(template, 'AWS::Kinesis::Stream')}>`);
    expect(target('StreamArn')).toBe(`<${onlyId(template, 'AWS::Kinesis::Stream')}.Arn>`);
    expect(target('StateTableName')).toBe(`<${onlyId(template, 'AWS::DynamoDB::Table')}>`);
    expect(target('OversizeBucketName')).toBe(`<${onlyId(template, 'AWS::S3::Bucket')}>`);
    expect(target('ImportQueueUrl')).toBe(`<${idStartingWith(template, 'ImportImportQueue')}>`);
    expect(target('DeadLetterQueueUrl')).toBe(
      `<${idStartingWith(template, 'ImportDeadLetterQueue')}>`,
    );
    expect(target('DeployKeySecretArn')).toBe(
      `<${onlyId(template, 'AWS::SecretsManager::Secret')}>`,
    );
    expect(target('DashboardUrl')).toMatch(
      /^https:\/\/console\.aws\.amazon\.com\/cloudwatch\/home\?region=<AWS::Region>#dashboards:name=<Dashboard[0-9A-F]+>$/,
    );
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'CliEnv',
        'DashboardUrl',
        'DeadLetterQueueUrl',
        'DeployKeySecretArn',
        'ImportQueueUrl',
        'OversizeBucketName',
        'StateTableName',
        'StreamArn',
        'StreamName',
      ].sort(),
    );
  });

  it("outputs the CLI environment: the functions' settings and the queue, never a key", () => {
    const cliEnv = JSON.parse(render(template.findOutputs('CliEnv').CliEnv?.Value)) as Record<
      string,
      string
    >;
    const fnOnly = ['NODE_OPTIONS', 'BRIDGE_SAFETY_MARGIN_MS'];
    expect(cliEnv).toEqual({
      ...omit(environmentOf(template, 'ExportExporter'), fnOnly),
      ...omit(environmentOf(template, 'ImportImporter'), fnOnly),
      BRIDGE_QUEUE_URL: `<${idStartingWith(template, 'ImportImportQueue')}>`,
    });
    expect(cliEnv).toMatchObject({
      CONVEX_URL: base.convexUrl,
      CONVEX_DEPLOY_KEY_SECRET_ID: `<${onlyId(template, 'AWS::SecretsManager::Secret')}>`,
      BRIDGE_STATE_TABLE: `<${onlyId(template, 'AWS::DynamoDB::Table')}>`,
      BRIDGE_IMPORT_TABLES: JSON.stringify(base.import.tables),
    });
    // The single form keeps its state item (export#default) and its metrics' dimensions.
    expect(cliEnv).not.toHaveProperty('BRIDGE_EXPORT_ID');
    expect(cliEnv).not.toHaveProperty('CONVEX_DEPLOY_KEY');
    expect(cliEnv).not.toHaveProperty('BRIDGE_ALLOW_INSECURE_LOOPBACK');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'LagSeconds',
      Dimensions: [{ Name: 'service', Value: 'export' }],
    });
  });
});

describe('BridgeStack variants', () => {
  it('builds export only and import only', () => {
    const exportOnly = synth({ ...base, import: { enabled: false } }).template;
    exportOnly.resourceCountIs('AWS::SQS::Queue', 0);
    exportOnly.resourceCountIs('AWS::Kinesis::Stream', 1);
    const importOnly = synth({ ...base, export: { enabled: false } }).template;
    importOnly.resourceCountIs('AWS::Kinesis::Stream', 0);
    importOnly.resourceCountIs('AWS::SQS::Queue', 2);
  });

  it('supports FIFO queues, provisioned streams, a referenced secret and an alarm topic', () => {
    const { template } = synth({
      ...base,
      deployKeySecret: { name: 'prod/convex-deploy-key' },
      export: { streamMode: 'PROVISIONED', shardCount: 4, scheduleMinutes: 5, maxRecordKiB: 4096 },
      import: { fifo: true, tables: {} },
      alarms: { email: 'ops@example.com' },
    });
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { FifoQueue: true }, 2);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      ShardCount: 4,
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(
      alarms.every(
        (a) =>
          ((a as { Properties: { AlarmActions?: unknown[] } }).Properties.AlarmActions ?? [])
            .length === 1,
      ),
    ).toBe(true);
  });

  it.each([
    ['the default configuration', base],
    [
      'FIFO, provisioned, email alarms',
      {
        ...base,
        export: { streamMode: 'PROVISIONED' },
        import: { fifo: true },
        alarms: { email: 'ops@example.com' },
      },
    ],
    ['export only', { ...base, import: { enabled: false } }],
  ])('passes cdk-nag AwsSolutionsChecks with no unacknowledged finding: %s', (_, raw) => {
    const { stack } = synth(raw as Record<string, unknown>);
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});

const two = {
  deployments: [
    { name: 'dev', convexUrl: 'https://dev-animal-1.convex.cloud', export: { scheduleMinutes: 5 } },
    { name: 'prod', convexUrl: 'https://prod-animal-2.convex.cloud', alarms: { lagSeconds: 60 } },
  ],
  import: { tables: { users: { primaryKey: [['email']] } } },
};

type Alarm = {
  Properties: {
    MetricName?: string;
    Dimensions?: { Name: string; Value: unknown }[];
    Threshold: number;
    AlarmDescription: string;
    AlarmActions?: unknown[];
  };
};

describe('several deployments, one app', () => {
  const { stack, template } = synth(two);
  const deployments = ['dev', 'prod'] as const;
  const P = { dev: 'Dev', prod: 'Prod' } as const;
  const cliEnv = (d: 'dev' | 'prod') =>
    JSON.parse(render(template.findOutputs(`${P[d]}CliEnv`)[`${P[d]}CliEnv`]?.Value)) as Record<
      string,
      string
    >;
  const alarmsOf = (constructPrefix: string) =>
    Object.entries(template.findResources('AWS::CloudWatch::Alarm'))
      .filter(([id]) => id.startsWith(constructPrefix))
      .map(([, a]) => (a as Alarm).Properties);

  it('gives each deployment its own exporter, schedule, secret, bucket, queues and stream', () => {
    template.resourceCountIs('AWS::Lambda::Function', 4);
    template.resourceCountIs('AWS::Kinesis::Stream', 2);
    template.resourceCountIs('AWS::S3::Bucket', 2);
    template.resourceCountIs('AWS::SecretsManager::Secret', 2);
    template.resourceCountIs('AWS::SQS::Queue', 4);
    template.resourceCountIs('AWS::Events::Rule', 2);
    const rules = Object.values(template.findResources('AWS::Events::Rule')).map((r) => {
      const p = (
        r as {
          Properties: { ScheduleExpression: string; Targets: { Arn: unknown }[] };
        }
      ).Properties;
      return [render(p.Targets[0]?.Arn), p.ScheduleExpression];
    });
    expect(Object.fromEntries(rules)).toEqual({
      [`<${idStartingWith(template, 'ExportDevExporter')}.Arn>`]: 'rate(5 minutes)',
      [`<${idStartingWith(template, 'ExportProdExporter')}.Arn>`]: 'rate(1 minute)',
    });
    for (const d of deployments) {
      const env = environmentOf(template, `Export${P[d]}Exporter`);
      expect(env).toMatchObject({
        CONVEX_URL: two.deployments.find((x) => x.name === d)?.convexUrl,
        CONVEX_DEPLOY_KEY_SECRET_ID: `<${idStartingWith(template, `DeployKey${P[d]}`)}>`,
        BRIDGE_STREAM_NAME: `<${idStartingWith(template, `Export${P[d]}ChangeStream`)}>`,
        BRIDGE_OVERSIZE_BUCKET: `<${idStartingWith(template, `Export${P[d]}OversizeBucket`)}>`,
        BRIDGE_EXPORT_ID: d,
      });
      expect(environmentOf(template, `Import${P[d]}Importer`)).toMatchObject({
        CONVEX_DEPLOY_KEY_SECRET_ID: `<${idStartingWith(template, `DeployKey${P[d]}`)}>`,
        BRIDGE_DLQ_URL: `<${idStartingWith(template, `Import${P[d]}DeadLetterQueue`)}>`,
      });
    }
    expect(stack.deployments.get('prod')?.export?.exporter).toBeDefined();
  });

  it('keeps state in one table, an item per deployment, each exporter confined to its own item', () => {
    const table = onlyId(template, 'AWS::DynamoDB::Table');
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
    for (const d of deployments) {
      expect(environmentOf(template, `Export${P[d]}Exporter`).BRIDGE_STATE_TABLE).toBe(
        `<${table}>`,
      );
      const dynamo = statementsOf(template, `Export${P[d]}Exporter`).filter((st) =>
        JSON.stringify(st.Action).includes('dynamodb:'),
      );
      expect(dynamo).toEqual([
        {
          Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [table, 'Arn'] },
          Condition: {
            'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [`export#${d}`] },
          },
        },
      ]);
    }
    expect(actionsOf(template, 'ExportDevExporter')).toEqual(
      actionsOf(synth().template, 'ExportExporter'),
    );
  });

  it('confines each exporter to the very item key the runtime reads and writes', async () => {
    // infra cannot import the adapter (docs/architecture.md), so this test ties the two together:
    // were they to drift, the deployed exporters would be denied their own state item.
    const sent: { Key?: unknown }[] = [];
    const dynamo = {
      send: async (command: { input: { Key?: unknown } }) => {
        sent.push(command.input);
        return {};
      },
    } as unknown as DynamoDBClient;
    await new DynamoDbExportStore(dynamo, 'state', 'prod').read();
    expect(sent.map((input) => input.Key)).toEqual([{ pk: { S: stateItemKey('prod') } }]);
  });

  it('alarms per deployment: its own function, queues and metrics, its thresholds, its name', () => {
    for (const d of deployments) {
      const exportAlarms = alarmsOf(`Export${P[d]}`);
      expect(exportAlarms.map((a) => a.MetricName).sort()).toEqual(
        ['CursorAgeSeconds', 'Errors', 'LagSeconds', 'ResyncRequired'].sort(),
      );
      for (const a of exportAlarms) {
        expect(a.AlarmDescription.startsWith(`[${d}] `)).toBe(true);
        const dims = Object.fromEntries((a.Dimensions ?? []).map((x) => [x.Name, render(x.Value)]));
        expect(dims).toEqual(
          a.MetricName === 'Errors'
            ? { FunctionName: `<${idStartingWith(template, `Export${P[d]}Exporter`)}>` }
            : { service: 'export', exportId: d },
        );
      }
      expect(exportAlarms.find((a) => a.MetricName === 'LagSeconds')?.Threshold).toBe(
        d === 'prod' ? 60 : 300,
      );
      const importAlarms = alarmsOf(`Import${P[d]}`);
      expect(importAlarms).toHaveLength(4);
      for (const a of importAlarms) {
        expect(a.AlarmDescription.startsWith(`[${d}] `)).toBe(true);
        if (a.MetricName === 'ImportHalted') {
          const dims = Object.fromEntries((a.Dimensions ?? []).map((x) => [x.Name, x.Value]));
          expect(dims).toEqual({ service: 'import', exportId: d });
          continue;
        }
        const [dim] = a.Dimensions ?? [];
        expect(render(dim?.Value)).toMatch(new RegExp(`^<Import${P[d]}[A-Za-z]+[0-9A-F]{8}`));
      }
    }
    template.resourceCountIs('AWS::CloudWatch::Alarm', 16);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('outputs every value per deployment, and each CLI environment names its own resources', () => {
    const names = Object.keys(template.findOutputs('*'));
    for (const d of deployments)
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
        expect(names).toContain(`${P[d]}${base}`);
    expect(names).toContain('DashboardUrl');
    expect(names).toHaveLength(17);
    for (const d of deployments) {
      const fnOnly = ['NODE_OPTIONS', 'BRIDGE_SAFETY_MARGIN_MS'];
      expect(cliEnv(d)).toEqual({
        ...omit(environmentOf(template, `Export${P[d]}Exporter`), fnOnly),
        ...omit(environmentOf(template, `Import${P[d]}Importer`), fnOnly),
        BRIDGE_QUEUE_URL: `<${idStartingWith(template, `Import${P[d]}ImportQueue`)}>`,
      });
      expect(cliEnv(d).BRIDGE_EXPORT_ID).toBe(d);
    }
  });

  it('shares one stream when configured, and gives each deployment its own table when configured', () => {
    const { template: t } = synth({ ...two, stream: 'shared', stateTable: 'perDeployment' });
    const stream = onlyId(t, 'AWS::Kinesis::Stream');
    t.resourceCountIs('AWS::DynamoDB::Table', 2);
    t.resourceCountIs('AWS::S3::Bucket', 2);
    for (const d of deployments) {
      const env = environmentOf(t, `Export${P[d]}Exporter`);
      expect(env.BRIDGE_STREAM_NAME).toBe(`<${stream}>`);
      expect(env.BRIDGE_STATE_TABLE).toBe(`<${idStartingWith(t, `Export${P[d]}StateTable`)}>`);
      expect(env.BRIDGE_EXPORT_ID).toBe(d);
      const dynamo = statementsOf(t, `Export${P[d]}Exporter`).find((st) =>
        JSON.stringify(st.Action).includes('dynamodb:'),
      );
      expect(dynamo?.Condition).toBeUndefined();
    }
  });

  it("sends a deployment's alarms to its own topic when it names another address", () => {
    const { template: t } = synth({
      ...two,
      alarms: { email: 'team@example.com' },
      deployments: [
        two.deployments[0],
        { ...two.deployments[1], alarms: { email: 'oncall@example.com' } },
      ],
    });
    t.resourceCountIs('AWS::SNS::Topic', 2);
    t.hasResourceProperties('AWS::SNS::Subscription', { Endpoint: 'team@example.com' });
    t.hasResourceProperties('AWS::SNS::Subscription', { Endpoint: 'oncall@example.com' });
    const topicOf = (prefix: string) =>
      Object.entries(t.findResources('AWS::CloudWatch::Alarm'))
        .filter(([id]) => id.startsWith(prefix))
        .map(([, a]) => render((a as Alarm).Properties.AlarmActions?.[0]));
    expect(new Set(topicOf('ExportDev'))).toEqual(
      new Set([`<${idStartingWith(t, 'AlarmTopic')}>`]),
    );
    expect(new Set(topicOf('ImportProd'))).toEqual(
      new Set([`<${idStartingWith(t, 'AlarmTopicProd')}>`]),
    );
  });

  it.each([
    ['two deployments', two],
    [
      'a shared stream, a table each, alarm e-mail',
      {
        ...two,
        stream: 'shared',
        stateTable: 'perDeployment',
        alarms: { email: 'ops@example.com' },
      },
    ],
    [
      'a referenced secret, FIFO import',
      {
        ...two,
        deployments: [{ ...two.deployments[0], deployKeySecret: { name: 'dev/key' } }],
        import: { fifo: true },
      },
    ],
  ])('passes cdk-nag with no unacknowledged finding: %s', (_, raw) => {
    const report = new AwsSolutionsChecks().validateScope(
      synth(raw as Record<string, unknown>).stack,
    );
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('accepts a plain-http loopback URL (a local stand-in) and tells the functions so', () => {
    const { template: t } = synth({
      ...two,
      deployments: [{ name: 'local', convexUrl: 'http://127.0.0.1:3210' }],
    });
    expect(environmentOf(t, 'ExportLocalExporter').BRIDGE_ALLOW_INSECURE_LOOPBACK).toBe('true');
    expect(environmentOf(t, 'ImportLocalImporter').BRIDGE_ALLOW_INSECURE_LOOPBACK).toBe('true');
  });
});

describe('bridge configuration', () => {
  it('reads a config file given as -c configFile=…, else the cdk.json context', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bridge-')), 'bridge.json');
    writeFileSync(
      file,
      JSON.stringify({ convexUrl: 'https://from-file.convex.cloud', export: { enabled: false } }),
    );
    const fromFile = loadBridgeConfig((key) => (key === 'configFile' ? file : undefined));
    expect(fromFile).toMatchObject({
      named: false,
      deployments: [
        {
          name: 'default',
          convexUrl: 'https://from-file.convex.cloud',
          export: { enabled: false },
          import: { enabled: true, batchSize: 500 },
        },
      ],
    });
    const cdkJson = JSON.parse(
      readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
    ) as { context: Record<string, unknown> };
    expect(
      loadBridgeConfig((key) => cdkJson.context[key]).deployments[0]?.export.scheduleMinutes,
    ).toBe(1);
    writeFileSync(
      file,
      JSON.stringify({ convexUrl: 'https://x.convex.cloud', alarms: { lagSecond: 5 } }),
    );
    expect(() => loadBridgeConfig((key) => (key === 'configFile' ? file : undefined))).toThrow(
      `invalid bridge configuration in ${file}`,
    );
  });

  it.each([
    [{}, 'convexUrl'],
    [{ convexUrl: 'http://x.convex.cloud' }, 'convexUrl: must be an https:// deployment URL'],
    [{ ...base, export: { scheduleMinutes: 30 } }, 'export.scheduleMinutes'],
    [{ ...base, import: { tables: { 'bad-name': {} } } }, 'import.tables.bad-name'],
    [{ ...base, import: { maxConcurency: 3 } }, 'import'],
    [
      { ...base, import: { fifo: true, batchSize: 50 } },
      'import.batchSize: FIFO queues deliver at most 10 messages per Lambda batch',
    ],
    [
      { ...base, export: { enabled: false }, import: { enabled: false } },
      'enable export, import or both',
    ],
    [{ convexUrl: 'http://10.0.0.1:3210' }, 'convexUrl: must be an https:// deployment URL'],
    [{ ...two, convexUrl: base.convexUrl }, 'Unrecognized key'],
    [{ deployments: [] }, 'deployments'],
    [
      { ...two, deployments: [{ name: 'Prod_1', convexUrl: base.convexUrl }] },
      'deployments.0.name',
    ],
    [
      { ...two, deployments: [two.deployments[0], { ...two.deployments[1], name: 'dev' }] },
      "deployments.1.name: 'dev' is used twice",
    ],
    [
      {
        ...two,
        deployments: [
          two.deployments[0],
          { ...two.deployments[1], export: { scheduleMinutes: 30 } },
        ],
      },
      'deployments.1.export.scheduleMinutes',
    ],
    [{ ...two, export: { scheduleMinutes: 30 } }, '  export.scheduleMinutes'],
    [
      {
        ...two,
        stream: 'shared',
        deployments: [{ ...two.deployments[0], export: { retentionHours: 48 } }],
      },
      'deployments.0.export.retentionHours: with "stream": "shared" the stream settings are set once',
    ],
    [
      {
        ...two,
        deployments: [
          { ...two.deployments[0], export: { enabled: false }, import: { enabled: false } },
        ],
      },
      'deployments.0.export.enabled: enable export, import or both',
    ],
    [
      {
        deployments: Array.from({ length: 11 }, (_, i) => ({
          name: `d${i}`,
          convexUrl: base.convexUrl,
        })),
      },
      'deployments',
    ],
  ])('names the bad setting: %j', (raw, text) => {
    expect(() => parseBridgeConfig(raw, 'cdk.json')).toThrow(text);
  });
});
