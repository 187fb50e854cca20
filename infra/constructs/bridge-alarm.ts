import {
  Alarm,
  ComparisonOperator,
  type IAlarmAction,
  type IMetric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';

/** A one-period "at or above threshold" alarm; no data is healthy (an idle bridge emits little). */
export function bridgeAlarm(
  scope: Construct,
  id: string,
  metric: IMetric,
  threshold: number,
  description: string,
  action?: IAlarmAction,
): Alarm {
  const alarm = new Alarm(scope, id, {
    metric,
    threshold,
    evaluationPeriods: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    alarmDescription: description,
  });
  if (action) alarm.addAlarmAction(action);
  return alarm;
}
