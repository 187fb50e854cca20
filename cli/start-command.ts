import { ConfigError } from '../shared/errors.js';
import { EXIT, UsageError } from './output.js';

function count(raw: string | undefined, name: string, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new UsageError(`--${name} must be a whole number from 0 to ${max}, got '${raw}'`);
  return value;
}

/** `start` (what `npm start` runs): the whole bridge on this machine until Ctrl-C. */
export async function startCommand(flags: {
  docs: string | undefined;
  latency: string | undefined;
  writes: string | undefined;
  import: boolean;
}): Promise<number> {
  deploymentOrDemo(process.env);
  const options = {
    docs: count(flags.docs, 'docs', 20_000, 2_000_000),
    latencyMs: count(flags.latency, 'latency', 20, 10_000),
    writesPerSecond: count(flags.writes, 'writes', 3, 1_000),
    importIntoRealDeployment: flags.import,
  };
  // Local mode (moto, kinesalite, the simulator, the live view) loads only once the options are good.
  const { runLocalBridge } = await import('../local/start.js');
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) {
      process.stderr.write('\nsecond interrupt: exiting without a clean stop\n');
      process.exit(130);
    }
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runLocalBridge(options, process.env, process.stdout, stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return EXIT.ok;
}

/**
 * Both CONVEX_URL and CONVEX_DEPLOY_KEY mean "read that deployment"; neither means "run the demo
 * on the simulator". One without the other is a mistake to name, not a reason to run the demo.
 */
export function deploymentOrDemo(env: NodeJS.ProcessEnv): 'deployment' | 'demo' {
  const url = Boolean(env.CONVEX_URL?.trim());
  const key = Boolean(env.CONVEX_DEPLOY_KEY?.trim());
  if (url && !key)
    throw new ConfigError(
      'CONVEX_URL is set but CONVEX_DEPLOY_KEY is not: set CONVEX_DEPLOY_KEY to a deploy key of that deployment (e.g. CONVEX_DEPLOY_KEY=prod:<deployment>|<key>), or unset CONVEX_URL to run the demo on the local simulator',
    );
  if (key && !url)
    throw new ConfigError(
      'CONVEX_DEPLOY_KEY is set but CONVEX_URL is not: set CONVEX_URL to the deployment (e.g. CONVEX_URL=https://happy-animal-123.convex.cloud), or unset CONVEX_DEPLOY_KEY to run the demo on the local simulator',
    );
  return url ? 'deployment' : 'demo';
}
