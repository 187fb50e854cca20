import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { type IAlarmAction, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../shared/env.js';
import { EXPORT_ID_DIMENSION, METRICS, METRICS_NAMESPACE, SERVICES } from '../../shared/names.js';
import { LAMBDA_ENTRIES } from '../bundling.js';
import { type AlarmSettings, type ImportSettings, isLoopbackHttp } from '../config.js';
import { bridgeAlarm } from './bridge-alarm.js';
import { BridgeFunction } from './bridge-function.js';

export interface ConvexImportProps {
  readonly convexUrl: string;
  readonly deployKey: ISecret;
  readonly settings: ImportSettings;
  readonly alarms: AlarmSettings;
  readonly alarmAction?: IAlarmAction;
  /** The deployment's name when a stack serves several: prefixes the alarm descriptions. */
  readonly deploymentName?: string;
}

/** SQS → Convex: the import queue and its DLQ, the importer with partial batch failures, its alarms. */
export class ConvexImport extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly importer: BridgeFunction;
  /** What the CLI needs to import by hand (`send`, `import`): queues and settings, no secret value. */
  readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: ConvexImportProps) {
    super(scope, id);
    const s = props.settings;
    const timeout = Duration.seconds(s.timeoutSeconds);
    const fifo = s.fifo ? { fifo: true } : {};
    const removalPolicy = s.retainQueues ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      ...fifo,
      removalPolicy,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'ImportQueue', {
      ...fifo,
      removalPolicy,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS guidance for Lambda event sources: at least six times the function timeout.
      visibilityTimeout: Duration.seconds(s.timeoutSeconds * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: s.maxReceiveCount },
    });
    const environment = {
      [ENV.convexUrl]: props.convexUrl,
      [ENV.deployKeySecretId]: props.deployKey.secretArn,
      [ENV.dlqUrl]: this.deadLetterQueue.queueUrl,
      [ENV.importTables]: JSON.stringify(s.tables),
      [ENV.importUnknownTables]: s.unknownTables,
    };
    const loopback = isLoopbackHttp(props.convexUrl) ? { [ENV.allowInsecureLoopback]: 'true' } : {};
    this.environment = {
      ...environment,
      ...loopback,
      // The Lambda gets its messages from the event source; the CLI receives them itself.
      [ENV.queueUrl]: this.queue.queueUrl,
    };
    this.importer = new BridgeFunction(this, 'Importer', {
      entry: LAMBDA_ENTRIES.import,
      timeout,
      memorySize: s.memoryMb,
      environment: {
        ...environment,
        [ENV.safetyMarginMs]: String(Math.min(5_000, (s.timeoutSeconds * 1000) / 6)),
        // Names the deployment in the importer's metrics, as the exporter's (alarms select it).
        ...(props.deploymentName !== undefined ? { [ENV.exportId]: props.deploymentName } : {}),
        ...loopback,
      },
    });
    this.importer.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: s.batchSize,
        // FIFO event sources take no batching window.
        ...(s.batchingWindowSeconds > 0 && !s.fifo
          ? { maxBatchingWindow: Duration.seconds(s.batchingWindowSeconds) }
          : {}),
        maxConcurrency: s.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    this.deadLetterQueue.grantSendMessages(this.importer);
    props.deployKey.grantRead(this.importer);

    const label = props.deploymentName !== undefined ? `[${props.deploymentName}] ` : '';
    const alarm = (name: string, metric: Metric, threshold: number, description: string) =>
      bridgeAlarm(this, name, metric, threshold, label + description, props.alarmAction);
    alarm(
      'ImporterErrors',
      this.importer.metricErrors({ period: Duration.minutes(5) }),
      1,
      'The importer failed (see its logs).',
    );
    // The handler hands a halted batch back instead of failing, so ImporterErrors stays quiet.
    alarm(
      'ImporterHalted',
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: METRICS.importHalted,
        dimensionsMap: {
          service: SERVICES.import.metrics,
          ...(props.deploymentName !== undefined
            ? { [EXPORT_ID_DIMENSION]: props.deploymentName }
            : {}),
        },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      1,
      "Convex refuses the importer's requests (a wrong or rotated deploy key?); see the 'import halted' log line. Messages are backed off, not lost.",
    );
    alarm(
      'DeadLetters',
      this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      1,
      'Messages were quarantined; their attributes say why.',
    );
    alarm(
      'OldestMessage',
      this.queue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      props.alarms.oldestMessageSeconds,
      'Import messages wait longer than the threshold.',
    );
  }
}
