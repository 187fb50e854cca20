import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import {
  Dashboard,
  GraphWidget,
  type IAlarmAction,
  Metric,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Stream } from 'aws-cdk-lib/aws-kinesis';
import { Key } from 'aws-cdk-lib/aws-kms';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { METRICS, METRICS_NAMESPACE, type MetricName, SERVICES } from '../../shared/names.js';
import type { AlarmSettings, BridgeConfig, DeploymentConfig } from '../config.js';
import { ConvexExport } from '../constructs/convex-export.js';
import { ConvexImport } from '../constructs/convex-import.js';

export interface BridgeStackProps extends StackProps {
  readonly config: BridgeConfig;
}

/** What the stack runs for one Convex deployment. */
export interface BridgeDeployment {
  readonly deployKey: ISecret;
  readonly export?: ConvexExport;
  readonly import?: ConvexImport;
}

/** `prod-eu` → `ProdEu`: construct IDs and output names take only letters and digits. */
export const pascalName = (name: string): string =>
  name
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

/** The output holding a deployment's CLI environment as a JSON object (README, "Deploy"). */
export const CLI_ENV_OUTPUT = 'CliEnv';

/**
 * The whole bridge: either side can be turned off in the configuration.
 *
 * With a list of deployments each gets its own secret, exporter (state item, schedule, alarms,
 * claim-check bucket) and importer (queue, DLQ, alarms), all named after the deployment: construct
 * `ExportProd`, outputs `ProdStreamName`, `ProdCliEnv`, … The single-deployment form keeps the
 * IDs and outputs it always had (`Export`, `StreamName`), so upgrading replaces nothing.
 *
 * Defaults, and why (both configurable, README "Several deployments"):
 * - one stream per deployment: events do not say which deployment they come from, dev traffic
 *   must not use production's shard throughput or reach its consumers, and retention and access
 *   differ per deployment. `"stream": "shared"` puts every export into one stream.
 * - one state table, one item per deployment (`BRIDGE_EXPORT_ID` = name, item `export#<name>`):
 *   state is a single small item, so one retained, PITR-protected table serves all, `status`
 *   needs only the export ID, and IAM (`dynamodb:LeadingKeys`) keeps each exporter to its own
 *   item. `"stateTable": "perDeployment"` gives each its own table.
 */
export class BridgeStack extends Stack {
  /** The export of the single-deployment form (undefined with a list of deployments). */
  readonly export: ConvexExport | undefined;
  /** The import of the single-deployment form (undefined with a list of deployments). */
  readonly import: ConvexImport | undefined;
  /** Every deployment's resources, by deployment name (`default` in the single form). */
  readonly deployments: ReadonlyMap<string, BridgeDeployment>;
  private readonly named: boolean;

  constructor(scope: Construct, id: string, props: BridgeStackProps) {
    super(scope, id, props);
    const { config } = props;
    const named = config.named;
    this.named = named;
    // Single form: the IDs it always had. Named: the deployment's name after (IDs) or before (outputs).
    const idOf = (base: string, d: DeploymentConfig) => (named ? base + pascalName(d.name) : base);
    const outputOf = (base: string, d: DeploymentConfig) =>
      named ? pascalName(d.name) + base : base;
    const output = (name: string, value: string, description: string) =>
      new CfnOutput(this, name, { value, description });

    const alarmActions = new Map<string, IAlarmAction | undefined>();
    const alarmActionFor = (d: DeploymentConfig): IAlarmAction | undefined => {
      const own = (a: AlarmSettings) => a.snsTopicArn ?? a.email;
      // A deployment that sends its alarms elsewhere than the top level gets its own topic.
      const id = own(d.alarms) === own(config.alarms) ? 'AlarmTopic' : idOf('AlarmTopic', d);
      if (!alarmActions.has(id)) alarmActions.set(id, this.alarmAction(id, d.alarms));
      return alarmActions.get(id);
    };

    const dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${this.stackName}-bridge`,
    });

    const firstExport = config.deployments.find((d) => d.export.enabled);
    // Shared stream settings are top-level only (config.ts), so every export's copy is the same.
    const sharedStream: Stream | undefined =
      named && config.stream === 'shared' && firstExport
        ? ConvexExport.newStream(this, 'ChangeStream', firstExport.export)
        : undefined;
    const sharedTable: Table | undefined =
      named && config.stateTable === 'shared' && firstExport
        ? ConvexExport.newStateTable(this, 'StateTable')
        : undefined;

    const deployments = new Map<string, BridgeDeployment>();
    for (const d of config.deployments) {
      const title = (text: string) => (named ? `${d.name} · ${text}` : text);
      const deployKey = this.deployKey(idOf('DeployKey', d), d);
      const alarmAction = alarmActionFor(d);
      let exp: ConvexExport | undefined;
      let imp: ConvexImport | undefined;
      if (named) dashboard.addWidgets(new TextWidget({ markdown: `## ${d.name}`, width: 24 }));
      if (d.export.enabled) {
        exp = new ConvexExport(this, idOf('Export', d), {
          convexUrl: d.convexUrl,
          deployKey,
          settings: d.export,
          alarms: d.alarms,
          ...(alarmAction ? { alarmAction } : {}),
          ...(named ? { exportId: d.name } : {}),
          ...(sharedStream ? { stream: sharedStream } : {}),
          ...(sharedTable ? { stateTable: sharedTable } : {}),
        });
        dashboard.addWidgets(
          new GraphWidget({ title: title('Events exported'), left: exp.metrics.events, width: 8 }),
          new GraphWidget({ title: title('Export lag (s)'), left: [exp.metrics.lag], width: 8 }),
          new GraphWidget({
            title: title('Cursor age (s)'),
            left: [exp.metrics.cursorAge],
            width: 8,
          }),
          // Data Sync's own status: 1 while copying (snapshotting), share of pages caught up.
          new GraphWidget({ title: title('Data Sync status'), left: exp.metrics.source, width: 8 }),
          new GraphWidget({
            title: title('Lifecycle events'),
            left: exp.metrics.lifecycle,
            width: 8,
          }),
          new GraphWidget({
            title: title('Cursor age (% of retention)'),
            left: [exp.metrics.retentionUsed],
            width: 8,
          }),
        );
        output(outputOf('StreamName', d), exp.stream.streamName, 'Kinesis stream of change events');
        output(outputOf('StreamArn', d), exp.stream.streamArn, 'ARN of the change stream');
        output(
          outputOf('OversizeBucketName', d),
          exp.oversizeBucket.bucketName,
          'S3 bucket of events above the record size (docRef)',
        );
        output(
          outputOf('StateTableName', d),
          exp.stateTable.tableName,
          named
            ? `DynamoDB table of the export state (item export#${d.name})`
            : 'DynamoDB table of the export state',
        );
      }
      if (d.import.enabled) {
        imp = new ConvexImport(this, idOf('Import', d), {
          convexUrl: d.convexUrl,
          deployKey,
          settings: d.import,
          alarms: d.alarms,
          ...(alarmAction ? { alarmAction } : {}),
          ...(named ? { deploymentName: d.name } : {}),
        });
        dashboard.addWidgets(
          named
            ? // The importer's own metrics carry no deployment; its queue's do.
              new GraphWidget({
                title: title('Messages imported or quarantined'),
                left: [imp.queue.metricNumberOfMessagesDeleted()],
                width: 12,
              })
            : new GraphWidget({
                title: 'Messages imported / quarantined / retried',
                left: [
                  METRICS.messagesImported,
                  METRICS.messagesQuarantined,
                  METRICS.messagesRetried,
                ].map(importMetric),
                width: 12,
              }),
          new GraphWidget({
            title: title('Dead-letter queue depth'),
            left: [imp.deadLetterQueue.metricApproximateNumberOfMessagesVisible()],
            width: 12,
          }),
        );
        output(outputOf('ImportQueueUrl', d), imp.queue.queueUrl, 'SQS queue to send imports to');
        output(
          outputOf('DeadLetterQueueUrl', d),
          imp.deadLetterQueue.queueUrl,
          'SQS dead-letter queue: rejected messages, with the reason as attributes',
        );
      }
      output(
        outputOf('DeployKeySecretArn', d),
        deployKey.secretArn,
        'Secrets Manager secret to put the Convex deploy key into',
      );
      output(
        outputOf(CLI_ENV_OUTPUT, d),
        this.toJsonString({ ...exp?.environment, ...imp?.environment }),
        'Environment for the convex-bridge CLI, as a JSON object (README, "Deploy")',
      );
      deployments.set(d.name, {
        deployKey,
        ...(exp ? { export: exp } : {}),
        ...(imp ? { import: imp } : {}),
      });
      if (!named) {
        this.export = exp;
        this.import = imp;
      }
    }
    this.deployments = deployments;
    if (named) {
      this.export = undefined;
      this.import = undefined;
    }
    output(
      'DashboardUrl',
      `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${dashboard.dashboardName}`,
      'CloudWatch dashboard of the bridge',
    );
  }

  private deployKey(id: string, d: DeploymentConfig): ISecret {
    // CDK's declarations predate exactOptionalPropertyTypes, so Secret is not assignable to ISecret as written.
    return (
      d.deployKeySecret?.arn
        ? Secret.fromSecretCompleteArn(this, id, d.deployKeySecret.arn)
        : d.deployKeySecret?.name
          ? Secret.fromSecretNameV2(this, id, d.deployKeySecret.name)
          : // Created without a value: the key is put in after deploy, never in the template.
            new Secret(this, id, {
              description: !this.named
                ? 'Convex deploy key for convex-stream-bridge (set the value after deploy)'
                : `Convex deploy key of deployment ${d.name} for convex-stream-bridge (set the value after deploy)`,
            })
    ) as ISecret;
  }

  private alarmAction(id: string, alarms: AlarmSettings): IAlarmAction | undefined {
    if (alarms.snsTopicArn) return new SnsAction(Topic.fromTopicArn(this, id, alarms.snsTopicArn));
    if (!alarms.email) return undefined;
    const topic = new Topic(this, id, {
      masterKey: new Key(this, `${id}Key`, { enableKeyRotation: true }),
      enforceSSL: true,
    });
    topic.addSubscription(new EmailSubscription(alarms.email));
    return new SnsAction(topic);
  }
}

const importMetric = (name: MetricName) =>
  new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: SERVICES.import.metrics },
    statistic: 'Sum',
    period: Duration.minutes(5),
  });
