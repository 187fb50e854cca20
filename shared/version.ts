/** Kept equal to package.json's version (checked by a test); bundled code cannot read package.json. */
export const BRIDGE_VERSION = '0.1.0';

/** Sent as `Convex-Client`; Convex requires `<name>-<semver>` or rejects every request. */
export const CONVEX_CLIENT_HEADER = `convex-stream-bridge-${BRIDGE_VERSION}`;
