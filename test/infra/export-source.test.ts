import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseBridgeConfig } from '../../infra/config.js';
import { BridgeStack } from '../../infra/stacks/bridge-stack.js';
import { ENV } from '../../shared/env.js';
import { METRICS } from '../../shared/names.js';

const base = { convexUrl: 'https://happy-animal-123.convex.cloud' };

/** The exporter's environment variables (literal values only). */
function exporterEnv(raw: Record<string, unknown>): Record<string, unknown> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new BridgeStack(app, 'Bridge', { config: parseBridgeConfig(raw, 'test') });
  const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
  const exporter = Object.entries(functions).find(([id]) => id.startsWith('ExportExporter'));
  if (!exporter) throw new Error('no exporter function in the template');
  return (exporter[1] as { Properties: { Environment: { Variables: Record<string, unknown> } } })
    .Properties.Environment.Variables;
}

describe('the export source in the CDK config', () => {
  it('defaults to auto and resync, set explicitly on the exporter', () => {
    const env = exporterEnv(base);
    expect(env[ENV.source]).toBe('auto');
    expect(env[ENV.onExpiredCursor]).toBe('resync');
  });

  it('passes the configured source and expired-cursor policy on', () => {
    const env = exporterEnv({ ...base, export: { source: 'legacy', onExpiredCursor: 'stop' } });
    expect(env[ENV.source]).toBe('legacy');
    expect(env[ENV.onExpiredCursor]).toBe('stop');
  });

  it('refuses a source it does not know, naming the key', () => {
    expect(() => parseBridgeConfig({ ...base, export: { source: 'kafka' } }, 'test')).toThrow(
      /export\.source/,
    );
  });

  it('gives each export its source-status metrics for a dashboard', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new BridgeStack(app, 'Bridge', { config: parseBridgeConfig(base, 'test') });
    const exp = stack.node.findAll().find((c) => 'metrics' in c && 'exporter' in c) as
      | { metrics: { source: { metricName: string; statistic: string }[] } }
      | undefined;
    expect(exp?.metrics.source.map((m) => [m.metricName, m.statistic])).toEqual([
      [METRICS.sourceSnapshotting, 'Maximum'],
      [METRICS.sourceUpToDate, 'Average'],
    ]);
  });
});
