import type { MetricName } from '../names.js';

export type MetricUnit = 'Count' | 'Bytes' | 'Seconds' | 'Milliseconds' | 'Percent';

/** Numbers per run; the Lambda adapter writes CloudWatch EMF, the CLI prints a summary. */
export interface MetricsSink {
  add(name: MetricName, value: number, unit: MetricUnit): void;
}

/** Structured log lines. Never pass secrets or document bodies. */
export interface LogSink {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLog: LogSink = { info: () => {}, warn: () => {}, error: () => {} };

/** Keeps every metric in memory: used by the CLI summary and by tests. */
export class MemoryMetrics implements MetricsSink {
  readonly totals = new Map<string, number>();
  readonly last = new Map<string, number>();
  add(name: string, value: number): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
    this.last.set(name, value);
  }
}
