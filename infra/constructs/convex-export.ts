import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { type IAlarmAction, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { type CfnStream, Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../shared/env.js';
import {
  METRICS,
  METRICS_NAMESPACE,
  type MetricName,
  SERVICES,
  STATE_TABLE_KEY,
} from '../../shared/names.js';
import { LAMBDA_ENTRIES } from '../bundling.js';
import type { AlarmSettings, ExportSettings } from '../config.js';
import { bridgeAlarm } from './bridge-alarm.js';
import { BridgeFunction } from './bridge-function.js';

export interface ConvexExportProps {
  readonly convexUrl: string;
  readonly deployKey: ISecret;
  readonly settings: ExportSettings;
  readonly alarms: AlarmSettings;
  readonly alarmAction?: IAlarmAction;
}

const metric = (name: MetricName, statistic: string) =>
  new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: SERVICES.export.metrics },
    statistic,
    period: Duration.minutes(5),
  });

/** Convex → Kinesis: the stream, its state table and claim-check bucket, the scheduled exporter, its alarms. */
export class ConvexExport extends Construct {
  readonly stream: Stream;
  readonly stateTable: Table;
  readonly oversizeBucket: Bucket;
  readonly exporter: BridgeFunction;
  readonly metrics: { events: Metric[]; lag: Metric; cursorAge: Metric };

  constructor(scope: Construct, id: string, props: ConvexExportProps) {
    super(scope, id);
    const s = props.settings;
    this.stream = new Stream(this, 'ChangeStream', {
      // KMS with the AWS-managed aws/kinesis key: consumers need no key grants.
      encryption: StreamEncryption.MANAGED,
      retentionPeriod: Duration.hours(s.retentionHours),
      streamMode: s.streamMode === 'ON_DEMAND' ? StreamMode.ON_DEMAND : StreamMode.PROVISIONED,
      ...(s.streamMode === 'PROVISIONED' ? { shardCount: s.shardCount } : {}),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (s.maxRecordKiB !== 1024)
      (this.stream.node.defaultChild as CfnStream).maxRecordSizeInKiB = s.maxRecordKiB;
    this.oversizeBucket = new Bucket(this, 'OversizeBucket', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // Outlive the stream's records that point at these objects.
      lifecycleRules: [{ expiration: Duration.days(Math.ceil(s.retentionHours / 24) + 7) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateTable = new Table(this, 'StateTable', {
      partitionKey: { name: STATE_TABLE_KEY, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const period = Duration.minutes(s.scheduleMinutes);
    this.exporter = new BridgeFunction(this, 'Exporter', {
      entry: LAMBDA_ENTRIES.export,
      // Follow mode fills the whole period; one tick ends before the next begins.
      timeout: period,
      memorySize: s.memoryMb,
      reservedConcurrentExecutions: 1,
      environment: {
        [ENV.convexUrl]: props.convexUrl,
        [ENV.deployKeySecretId]: props.deployKey.secretArn,
        [ENV.streamName]: this.stream.streamName,
        [ENV.stateTable]: this.stateTable.tableName,
        [ENV.oversizeBucket]: this.oversizeBucket.bucketName,
        [ENV.pollIntervalMs]: String(s.pollIntervalMs),
        [ENV.maxRecordBytes]: String(s.maxRecordKiB * 1024),
        [ENV.safetyMarginMs]: String(Math.min(10_000, period.toMilliseconds() / 6)),
        ...(s.includeTables.length > 0 ? { [ENV.includeTables]: s.includeTables.join(',') } : {}),
        ...(s.excludeTables.length > 0 ? { [ENV.excludeTables]: s.excludeTables.join(',') } : {}),
      },
    });
    this.stream.grantWrite(this.exporter);
    this.oversizeBucket.grantPut(this.exporter, 'events/*');
    this.stateTable.grant(this.exporter, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    props.deployKey.grantRead(this.exporter);
    new Rule(this, 'Schedule', {
      schedule: Schedule.rate(period),
      targets: [
        new LambdaFunction(this.exporter, { retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
      ],
    });

    this.metrics = {
      events: [METRICS.snapshotEvents, METRICS.upsertEvents, METRICS.deleteEvents].map((n) =>
        metric(n, 'Sum'),
      ),
      lag: metric(METRICS.lagSeconds, 'Maximum'),
      cursorAge: metric(METRICS.cursorAgeSeconds, 'Maximum'),
    };
    const alarm = (name: string, metric: Metric, threshold: number, description: string) =>
      bridgeAlarm(this, name, metric, threshold, description, props.alarmAction);
    alarm(
      'ExporterErrors',
      this.exporter.metricErrors({ period: Duration.minutes(5) }),
      1,
      'The exporter failed (see its logs).',
    );
    alarm(
      'ExportLag',
      this.metrics.lag,
      props.alarms.lagSeconds,
      'Changes reach Kinesis later than the lag threshold.',
    );
    alarm(
      'CursorAge',
      this.metrics.cursorAge,
      props.alarms.cursorAgeHours * 3600,
      'The export cursor approaches Convex’s 14-day log retention.',
    );
    alarm(
      'ResyncRequired',
      metric(METRICS.resyncRequired, 'Sum'),
      1,
      'Convex refused the cursor; run `npx convex-bridge resync`.',
    );
  }
}
