import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { type IAlarmAction, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type CfnStream, Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../shared/env.js';
import {
  EXPORT_ID_DIMENSION,
  METRICS,
  METRICS_NAMESPACE,
  type MetricName,
  SERVICES,
  STATE_TABLE_KEY,
} from '../../shared/names.js';
import { LAMBDA_ENTRIES } from '../bundling.js';
import { type AlarmSettings, type ExportSettings, isLoopbackHttp } from '../config.js';
import { bridgeAlarm } from './bridge-alarm.js';
import { BridgeFunction } from './bridge-function.js';

export interface ConvexExportProps {
  readonly convexUrl: string;
  readonly deployKey: ISecret;
  readonly settings: ExportSettings;
  readonly alarms: AlarmSettings;
  readonly alarmAction?: IAlarmAction;
  /**
   * The deployment's name when a stack exports several: it becomes BRIDGE_EXPORT_ID (so the state
   * item is `export#<id>`), the metrics' `exportId` dimension and a prefix of alarm descriptions.
   * Omitted for a stack's only export, which keeps the item `export#default` and plain metrics.
   */
  readonly exportId?: string;
  /** A stream shared with other exports (`ConvexExport.newStream`); by default its own. */
  readonly stream?: Stream;
  /**
   * A state table shared with other exports (`ConvexExport.newStateTable`); needs `exportId`. The
   * exporter may then read and write only its own item. By default the export has its own table.
   */
  readonly stateTable?: Table;
}

/**
 * The state item's key for an export (see STATE_TABLE_KEY in shared/names.ts); the IAM condition
 * of a shared table names it. test/infra checks it against the state store adapter's key.
 */
export const stateItemKey = (exportId: string) => `export#${exportId}`;

/** Convex → Kinesis: the stream, its state table and claim-check bucket, the scheduled exporter, its alarms. */
export class ConvexExport extends Construct {
  /** A change stream as every export uses it: KMS-encrypted, retained. */
  static newStream(scope: Construct, id: string, s: ExportSettings): Stream {
    const stream = new Stream(scope, id, {
      // KMS with the AWS-managed aws/kinesis key: consumers need no key grants.
      encryption: StreamEncryption.MANAGED,
      retentionPeriod: Duration.hours(s.retentionHours),
      streamMode: s.streamMode === 'ON_DEMAND' ? StreamMode.ON_DEMAND : StreamMode.PROVISIONED,
      ...(s.streamMode === 'PROVISIONED' ? { shardCount: s.shardCount } : {}),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (s.maxRecordKiB !== 1024)
      (stream.node.defaultChild as CfnStream).maxRecordSizeInKiB = s.maxRecordKiB;
    return stream;
  }

  /** A state table: on demand, encrypted, PITR, deletion-protected, retained. */
  static newStateTable(scope: Construct, id: string): Table {
    return new Table(scope, id, {
      partitionKey: { name: STATE_TABLE_KEY, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  readonly stream: Stream;
  readonly stateTable: Table;
  readonly oversizeBucket: Bucket;
  readonly exporter: BridgeFunction;
  readonly metrics: {
    events: Metric[];
    lag: Metric;
    cursorAge: Metric;
    /** Data Sync's own status: snapshotting (maximum) and up to date (average share of pages). */
    source: Metric[];
    /** Truncates, schema changes, generations started and all control events (sums). */
    lifecycle: Metric[];
    /** The cursor's age as a percentage of Convex's retention window. */
    retentionUsed: Metric;
  };
  /** What the CLI needs to run this export by hand: the exporter's settings, no secret value. */
  readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: ConvexExportProps) {
    super(scope, id);
    const s = props.settings;
    const exportId = props.exportId;
    if (props.stateTable && exportId === undefined)
      throw new Error('ConvexExport: a shared state table needs an exportId for each export');
    this.stream = props.stream ?? ConvexExport.newStream(this, 'ChangeStream', s);
    this.oversizeBucket = new Bucket(this, 'OversizeBucket', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // Outlive the stream's records that point at these objects.
      lifecycleRules: [{ expiration: Duration.days(Math.ceil(s.retentionHours / 24) + 7) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateTable = props.stateTable ?? ConvexExport.newStateTable(this, 'StateTable');
    const period = Duration.minutes(s.scheduleMinutes);
    const environment: Record<string, string> = {
      [ENV.convexUrl]: props.convexUrl,
      [ENV.deployKeySecretId]: props.deployKey.secretArn,
      [ENV.streamName]: this.stream.streamName,
      [ENV.stateTable]: this.stateTable.tableName,
      [ENV.oversizeBucket]: this.oversizeBucket.bucketName,
      [ENV.pollIntervalMs]: String(s.pollIntervalMs),
      [ENV.maxRecordBytes]: String(s.maxRecordKiB * 1024),
      [ENV.source]: s.source,
      [ENV.onExpiredCursor]: s.onExpiredCursor,
    };
    const optional = {
      ...(s.includeTables.length > 0 ? { [ENV.includeTables]: s.includeTables.join(',') } : {}),
      ...(s.excludeTables.length > 0 ? { [ENV.excludeTables]: s.excludeTables.join(',') } : {}),
      ...(exportId !== undefined ? { [ENV.exportId]: exportId } : {}),
      ...(isLoopbackHttp(props.convexUrl) ? { [ENV.allowInsecureLoopback]: 'true' } : {}),
    };
    this.environment = { ...environment, ...optional };
    this.exporter = new BridgeFunction(this, 'Exporter', {
      entry: LAMBDA_ENTRIES.export,
      // Follow mode fills the whole period; one tick ends before the next begins.
      timeout: period,
      memorySize: s.memoryMb,
      reservedConcurrentExecutions: 1,
      environment: {
        ...environment,
        [ENV.safetyMarginMs]: String(Math.min(10_000, period.toMilliseconds() / 6)),
        ...optional,
      },
    });
    this.stream.grantWrite(this.exporter);
    this.oversizeBucket.grantPut(this.exporter, 'events/*');
    if (props.stateTable && exportId !== undefined) {
      // One table, one item per export: each exporter reaches only its own item.
      this.exporter.addToRolePolicy(
        new PolicyStatement({
          actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          resources: [this.stateTable.tableArn],
          conditions: {
            'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [stateItemKey(exportId)] },
          },
        }),
      );
    } else {
      this.stateTable.grant(this.exporter, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    }
    props.deployKey.grantRead(this.exporter);
    new Rule(this, 'Schedule', {
      schedule: Schedule.rate(period),
      targets: [
        new LambdaFunction(this.exporter, { retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
      ],
    });

    const metric = (name: MetricName, statistic: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: {
          service: SERVICES.export.metrics,
          ...(exportId !== undefined ? { [EXPORT_ID_DIMENSION]: exportId } : {}),
        },
        statistic,
        period: Duration.minutes(5),
      });
    this.metrics = {
      events: [METRICS.snapshotEvents, METRICS.upsertEvents, METRICS.deleteEvents].map((n) =>
        metric(n, 'Sum'),
      ),
      lag: metric(METRICS.lagSeconds, 'Maximum'),
      cursorAge: metric(METRICS.cursorAgeSeconds, 'Maximum'),
      source: [
        metric(METRICS.sourceSnapshotting, 'Maximum'),
        metric(METRICS.sourceUpToDate, 'Average'),
      ],
      lifecycle: [
        METRICS.truncates,
        METRICS.schemaChanges,
        METRICS.resyncStarted,
        METRICS.controlEvents,
      ].map((n) => metric(n, 'Sum')),
      retentionUsed: metric(METRICS.cursorRetentionUsed, 'Maximum'),
    };
    const label = exportId !== undefined ? `[${exportId}] ` : '';
    const alarm = (name: string, metric: Metric, threshold: number, description: string) =>
      bridgeAlarm(this, name, metric, threshold, label + description, props.alarmAction);
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
      'Convex refused the export cursor as too old: a new generation started (resync) or the export stopped (stop); see docs/runbook.md#resyncrequired.',
    );
  }
}
