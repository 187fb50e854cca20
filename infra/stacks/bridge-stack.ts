import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Dashboard, GraphWidget, type IAlarmAction, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { METRICS, METRICS_NAMESPACE, type MetricName, SERVICES } from '../../shared/names.js';
import type { BridgeConfig } from '../config.js';
import { ConvexExport } from '../constructs/convex-export.js';
import { ConvexImport } from '../constructs/convex-import.js';

export interface BridgeStackProps extends StackProps {
  readonly config: BridgeConfig;
}

/** The whole bridge: either side can be turned off in the configuration. */
export class BridgeStack extends Stack {
  readonly export?: ConvexExport;
  readonly import?: ConvexImport;

  constructor(scope: Construct, id: string, props: BridgeStackProps) {
    super(scope, id, props);
    const { config } = props;
    // CDK's declarations predate exactOptionalPropertyTypes, so Secret is not assignable to ISecret as written.
    const deployKey = (
      config.deployKeySecret?.arn
        ? Secret.fromSecretCompleteArn(this, 'DeployKey', config.deployKeySecret.arn)
        : config.deployKeySecret?.name
          ? Secret.fromSecretNameV2(this, 'DeployKey', config.deployKeySecret.name)
          : // Created without a value: the key is put in after deploy, never in the template.
            new Secret(this, 'DeployKey', {
              description:
                'Convex deploy key for convex-stream-bridge (set the value after deploy)',
            })
    ) as ISecret;

    let alarmAction: IAlarmAction | undefined;
    if (config.alarms.snsTopicArn) {
      alarmAction = new SnsAction(
        Topic.fromTopicArn(this, 'AlarmTopic', config.alarms.snsTopicArn),
      );
    } else if (config.alarms.email) {
      const topic = new Topic(this, 'AlarmTopic', {
        masterKey: new Key(this, 'AlarmTopicKey', { enableKeyRotation: true }),
        enforceSSL: true,
      });
      topic.addSubscription(new EmailSubscription(config.alarms.email));
      alarmAction = new SnsAction(topic);
    }

    const dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${this.stackName}-bridge`,
    });
    if (config.export.enabled) {
      const exp = new ConvexExport(this, 'Export', {
        convexUrl: config.convexUrl,
        deployKey,
        settings: config.export,
        alarms: config.alarms,
        ...(alarmAction ? { alarmAction } : {}),
      });
      this.export = exp;
      dashboard.addWidgets(
        new GraphWidget({ title: 'Events exported', left: exp.metrics.events, width: 8 }),
        new GraphWidget({ title: 'Export lag (s)', left: [exp.metrics.lag], width: 8 }),
        new GraphWidget({ title: 'Cursor age (s)', left: [exp.metrics.cursorAge], width: 8 }),
      );
      new CfnOutput(this, 'StreamName', { value: exp.stream.streamName });
      new CfnOutput(this, 'StreamArn', { value: exp.stream.streamArn });
      new CfnOutput(this, 'OversizeBucketName', { value: exp.oversizeBucket.bucketName });
    }
    if (config.import.enabled) {
      const imp = new ConvexImport(this, 'Import', {
        convexUrl: config.convexUrl,
        deployKey,
        settings: config.import,
        alarms: config.alarms,
        ...(alarmAction ? { alarmAction } : {}),
      });
      this.import = imp;
      const m = (name: MetricName) =>
        new Metric({
          namespace: METRICS_NAMESPACE,
          metricName: name,
          dimensionsMap: { service: SERVICES.import.metrics },
          statistic: 'Sum',
          period: Duration.minutes(5),
        });
      dashboard.addWidgets(
        new GraphWidget({
          title: 'Messages imported / quarantined / retried',
          left: [
            METRICS.messagesImported,
            METRICS.messagesQuarantined,
            METRICS.messagesRetried,
          ].map(m),
          width: 12,
        }),
        new GraphWidget({
          title: 'Dead-letter queue depth',
          left: [imp.deadLetterQueue.metricApproximateNumberOfMessagesVisible()],
          width: 12,
        }),
      );
      new CfnOutput(this, 'ImportQueueUrl', { value: imp.queue.queueUrl });
      new CfnOutput(this, 'DeadLetterQueueUrl', { value: imp.deadLetterQueue.queueUrl });
    }
    new CfnOutput(this, 'DeployKeySecretArn', { value: deployKey.secretArn });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${dashboard.dashboardName}`,
    });
  }
}
