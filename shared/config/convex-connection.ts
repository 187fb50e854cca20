// A namespace import lets esbuild drop what is unused (zod's locales): 460 -> 99 KiB per bundle.
import * as z from 'zod';
import { intSetting, parseEnv } from './parse-env.js';

/** Where the deploy key comes from: the environment, or a Secrets Manager secret. */
export type DeployKeySource = { readonly value: string } | { readonly secretId: string };

/** The settings every Convex-facing command and function shares; merge into larger schemas. */
export const convexConnectionShape = {
  CONVEX_URL: z.string({ message: 'is required (the deployment URL)' }).min(1),
  CONVEX_DEPLOY_KEY: z.string().min(1).optional(),
  CONVEX_DEPLOY_KEY_SECRET_ID: z.string().min(1).optional(),
  BRIDGE_ALLOW_INSECURE_LOOPBACK: z.enum(['true', 'false']).default('false'),
  BRIDGE_CONVEX_TIMEOUT_MS: intSetting(1_000, 300_000, 30_000),
  /** How long a key read from CONVEX_DEPLOY_KEY_SECRET_ID is used before the secret is read again. */
  BRIDGE_DEPLOY_KEY_MAX_AGE_SECONDS: intSetting(0, 3_600, 300),
};

const connectionSchema = z.object(convexConnectionShape);
type ConnectionEnv = z.output<typeof connectionSchema>;

/** Refinement for schemas built on the shape: one of the two key settings must be present. */
export const deployKeyRequired: [
  (e: {
    CONVEX_DEPLOY_KEY?: string | undefined;
    CONVEX_DEPLOY_KEY_SECRET_ID?: string | undefined;
  }) => boolean,
  { message: string; path: PropertyKey[] },
] = [
  (e) => e.CONVEX_DEPLOY_KEY !== undefined || e.CONVEX_DEPLOY_KEY_SECRET_ID !== undefined,
  {
    message:
      'is not set: set CONVEX_DEPLOY_KEY or CONVEX_DEPLOY_KEY_SECRET_ID, e.g. CONVEX_DEPLOY_KEY=prod:<deployment>|<key> or CONVEX_DEPLOY_KEY_SECRET_ID=<secret name or ARN>',
    path: ['CONVEX_DEPLOY_KEY'],
  },
];

export interface ConvexConnection {
  readonly url: string;
  readonly deployKey: DeployKeySource;
  readonly allowInsecureLoopback: boolean;
  readonly timeoutMs: number;
  /** Seconds a key read from a secret is cached; Convex refusing it forces a fresh read. */
  readonly keyMaxAgeSeconds?: number;
}

export function toConvexConnection(e: ConnectionEnv): ConvexConnection {
  return {
    url: e.CONVEX_URL,
    deployKey:
      e.CONVEX_DEPLOY_KEY !== undefined
        ? { value: e.CONVEX_DEPLOY_KEY }
        : { secretId: e.CONVEX_DEPLOY_KEY_SECRET_ID as string },
    allowInsecureLoopback: e.BRIDGE_ALLOW_INSECURE_LOOPBACK === 'true',
    timeoutMs: e.BRIDGE_CONVEX_TIMEOUT_MS,
    keyMaxAgeSeconds: e.BRIDGE_DEPLOY_KEY_MAX_AGE_SECONDS,
  };
}

/** Just what a Convex client needs, for commands that neither export nor import. */
export function loadConvexConnection(
  env: Readonly<Record<string, string | undefined>>,
): ConvexConnection {
  return toConvexConnection(parseEnv(connectionSchema.refine(...deployKeyRequired), env));
}
