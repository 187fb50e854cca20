import type { IncomingHttpHeaders } from 'node:http';
import type { Knobs } from './knobs.js';
import { SimError } from './sim-error.js';

export type Identity =
  | { readonly kind: 'admin'; readonly readOnly: boolean }
  | { readonly kind: 'user' }
  | { readonly kind: 'anonymous' };

export interface KeyConfig {
  readonly deployKey: string;
  readonly readOnlyKeys: readonly string[];
}

const badAdminKey = () =>
  new SimError(401, 'BadAdminKey', 'The provided admin key was invalid for this instance');

function identityForKey(key: string, keys: KeyConfig): Identity {
  // A `prod:`/`dev:` type prefix is stripped; a later ':' introduces base64 JSON "act as" attributes.
  const rest = key.replace(/^[a-z-]+:/, '');
  const actAs = rest.indexOf(':');
  if (actAs >= 0) {
    try {
      JSON.parse(Buffer.from(rest.slice(actAs + 1), 'base64').toString('utf8'));
    } catch {
      throw new SimError(400, 'HeaderParseFailure', 'Malformed Authorization header.');
    }
  }
  if (key === keys.deployKey) return { kind: 'admin', readOnly: false };
  if (keys.readOnlyKeys.includes(key)) return { kind: 'admin', readOnly: true };
  throw badAdminKey();
}

/** The header ladder of docs/convex-api.md §1.2, in its order. */
export function extractIdentity(
  headers: IncomingHttpHeaders,
  query: URLSearchParams,
  keys: KeyConfig,
): Identity {
  const header = headers.authorization;
  if (header === undefined) {
    const adminKey = query.get('adminKey');
    return adminKey === null ? { kind: 'anonymous' } : identityForKey(adminKey, keys);
  }
  if (!/^[\x20-\x7e\t]*$/.test(header))
    throw new SimError(400, 'HeaderParseFailure', 'Malformed Authorization header.');
  if (header.length < 7)
    throw new SimError(400, 'InvalidHeaderFailure', 'Invalid authentication header');
  const scheme = header.slice(0, 7).toLowerCase();
  if (scheme === 'convex ') return identityForKey(header.slice(7), keys);
  if (scheme === 'bearer ') return { kind: 'user' };
  throw new SimError(400, 'InvalidAdminKey', 'Invalid admin key');
}

const badDeployKey = () =>
  new SimError(
    403,
    'BadDeployKey',
    'The provided deploy key was invalid for this deployment. Double check that the environment this key was generated for matches the desired deployment.',
  );

/** Export needs the plan flag first (even for anonymous callers), then `ViewData`. */
export function requireExportAccess(identity: Identity, knobs: Knobs): void {
  if (!knobs.streamingExportEnabled) {
    throw new SimError(
      403,
      'StreamingExportNotEnabled',
      'Streaming export is not available on your current subscription. Upgrade to Convex Professional to use it.',
    );
  }
  if (identity.kind !== 'admin') throw badDeployKey();
}

/** Import needs `ImportBackups`, which read-only keys lack. */
export function requireImportAccess(identity: Identity): void {
  if (identity.kind !== 'admin') throw badDeployKey();
  if (identity.readOnly) {
    throw new SimError(
      403,
      'OperationNotPermitted',
      'You do not have permission to perform this operation (ImportBackups).',
    );
  }
}
