import { ConfigError } from '../errors.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface DeploymentUrlOptions {
  /** Permits plain http to a loopback host, for the local simulator. Never for remote hosts. */
  readonly allowInsecureLoopback?: boolean;
}

/**
 * Validates CONVEX_URL. Errors describe the rule broken without echoing the URL, which can
 * identify a private deployment.
 */
export function parseDeploymentUrl(raw: string, options: DeploymentUrlOptions = {}): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError('CONVEX_URL is not a valid absolute URL');
  }
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol === 'http:') {
    if (!loopback)
      throw new ConfigError(
        'CONVEX_URL must use https:// (plain http is only allowed for a loopback host)',
      );
    if (!options.allowInsecureLoopback) {
      throw new ConfigError('CONVEX_URL uses http:// on loopback; enable local mode to allow it');
    }
  } else if (url.protocol !== 'https:') {
    throw new ConfigError('CONVEX_URL must use https://');
  }
  if (url.username !== '' || url.password !== '')
    throw new ConfigError('CONVEX_URL must not contain credentials');
  if (url.search !== '' || raw.includes('?'))
    throw new ConfigError('CONVEX_URL must not have a query string');
  if (url.hash !== '' || raw.includes('#'))
    throw new ConfigError('CONVEX_URL must not have a fragment');
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new ConfigError('CONVEX_URL must be the deployment origin, without a path');
  }
  return new URL(url.origin);
}

/** A deploy key goes into an HTTP header: refuse anything that could split or corrupt it. */
export function validateDeployKey(raw: string, source = 'CONVEX_DEPLOY_KEY'): string {
  const key = raw.trim();
  if (key.length === 0) throw new ConfigError(`the deploy key in ${source} is empty`);
  if (!/^[\x21-\x7e]+$/.test(key)) {
    throw new ConfigError(
      `the deploy key in ${source} contains whitespace or non-printable characters`,
    );
  }
  return key;
}
