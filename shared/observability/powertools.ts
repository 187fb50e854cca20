import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, type MetricName } from '../names.js';
import type { LogSink, MetricsSink, MetricUnit as Unit } from '../ports/observability.js';

export function powertoolsLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}

export function powertoolsMetrics(serviceName: string): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
}

const UNITS: Record<Unit, (typeof MetricUnit)[keyof typeof MetricUnit]> = {
  Count: MetricUnit.Count,
  Bytes: MetricUnit.Bytes,
  Seconds: MetricUnit.Seconds,
  Milliseconds: MetricUnit.Milliseconds,
  Percent: MetricUnit.Percent,
};

/** Sums per metric name within an invocation, so one EMF line carries each total. */
export class PowertoolsMetricsSink implements MetricsSink {
  constructor(private readonly metrics: Metrics) {}
  add(name: MetricName, value: number, unit: Unit): void {
    this.metrics.addMetric(name, UNITS[unit], value);
  }
}

export class PowertoolsLogSink implements LogSink {
  constructor(private readonly logger: Logger) {}
  info(message: string, fields: Record<string, unknown> = {}): void {
    this.logger.info(message, fields);
  }
  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.logger.warn(message, fields);
  }
  error(message: string, fields: Record<string, unknown> = {}): void {
    this.logger.error(message, fields);
  }
}
