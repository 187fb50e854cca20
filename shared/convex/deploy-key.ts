/**
 * Where the Convex client gets its deploy key. The client asks for the key before every request
 * (a provider may cache it) and, once, for a fresh read when Convex refuses the key (401, 403, or
 * a malformed Authorization header), so a key rotated in its store is picked up without a restart.
 */
export interface DeployKeyProvider {
  /** The key to use now; may come from a cache. */
  get(): Promise<string>;
  /** Reads the key from its source again, bypassing any cache. */
  refresh(): Promise<string>;
  /** The setting that holds the key, for messages: `CONVEX_DEPLOY_KEY`, or the secret's id. */
  readonly source: string;
}

/** A key given directly (CONVEX_DEPLOY_KEY): refreshing returns the same key. */
export function staticDeployKey(key: string, source = 'CONVEX_DEPLOY_KEY'): DeployKeyProvider {
  return { get: async () => key, refresh: async () => key, source };
}
