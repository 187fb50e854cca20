import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { loadBridgeConfig, parseBridgeConfig } from '../../infra/config.js';
import { acknowledgeNagFindings } from '../../infra/nag-acknowledgements.js';
import { BridgeStack } from '../../infra/stacks/bridge-stack.js';

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

type Statement = { Action: string | string[]; Effect: string; Resource: unknown };

/** Every IAM action granted to a function's role, from the template. */
function actionsOf(template: Template, functionLogicalIdPrefix: string): string[] {
  const functions = template.findResources('AWS::Lambda::Function');
  const [, fn] =
    Object.entries(functions).find(([id]) => id.startsWith(functionLogicalIdPrefix)) ?? [];
  const role = (fn as { Properties: { Role: { 'Fn::GetAtt': [string] } } }).Properties.Role[
    'Fn::GetAtt'
  ][0];
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
    (p as { Properties: { Roles: { Ref: string }[] } }).Properties.Roles.some(
      (r) => r.Ref === role,
    ),
  );
  return policies
    .flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties
          .PolicyDocument.Statement,
    )
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
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 5,
      ScalingConfig: { MaximumConcurrency: 5 },
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

  it('outputs the stream, queues, secret and dashboard', () => {
    for (const name of [
      'StreamName',
      'StreamArn',
      'ImportQueueUrl',
      'DeadLetterQueueUrl',
      'DeployKeySecretArn',
      'DashboardUrl',
    ])
      template.hasOutput(name, {});
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

describe('bridge configuration', () => {
  it('reads a config file given as -c configFile=…, else the cdk.json context', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bridge-')), 'bridge.json');
    writeFileSync(
      file,
      JSON.stringify({ convexUrl: 'https://from-file.convex.cloud', export: { enabled: false } }),
    );
    const fromFile = loadBridgeConfig((key) => (key === 'configFile' ? file : undefined));
    expect(fromFile).toMatchObject({
      convexUrl: 'https://from-file.convex.cloud',
      export: { enabled: false },
      import: { enabled: true, batchSize: 100 },
    });
    const cdkJson = JSON.parse(
      readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
    ) as { context: Record<string, unknown> };
    expect(loadBridgeConfig((key) => cdkJson.context[key]).export.scheduleMinutes).toBe(1);
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
  ])('names the bad setting: %j', (raw, text) => {
    expect(() => parseBridgeConfig(raw, 'cdk.json')).toThrow(text);
  });
});
