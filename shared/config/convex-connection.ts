import { z } from 'zod';
import type { DeployKeySource } from './deploy-key.js';
import { parseEnv } from './parse-env.js';

const schema = z
  .object({
    CONVEX_URL: z.string({ message: 'is required (the deployment URL)' }).min(1),
    CONVEX_DEPLOY_KEY: z.string().min(1).optional(),
    CONVEX_DEPLOY_KEY_SECRET_ID: z.string().min(1).optional(),
    BRIDGE_ALLOW_INSECURE_LOOPBACK: z.enum(['true', 'false']).default('false'),
  })
  .refine((e) => e.CONVEX_DEPLOY_KEY !== undefined || e.CONVEX_DEPLOY_KEY_SECRET_ID !== undefined, {
    message: 'set CONVEX_DEPLOY_KEY or CONVEX_DEPLOY_KEY_SECRET_ID',
    path: ['CONVEX_DEPLOY_KEY'],
  });

export interface ConvexConnection {
  readonly url: string;
  readonly deployKey: DeployKeySource;
  readonly allowInsecureLoopback: boolean;
}

/** Just what a Convex client needs, for commands that neither export nor import. */
export function loadConvexConnection(
  env: Readonly<Record<string, string | undefined>>,
): ConvexConnection {
  const e = parseEnv(schema, env);
  return {
    url: e.CONVEX_URL,
    deployKey:
      e.CONVEX_DEPLOY_KEY !== undefined
        ? { value: e.CONVEX_DEPLOY_KEY }
        : { secretId: e.CONVEX_DEPLOY_KEY_SECRET_ID as string },
    allowInsecureLoopback: e.BRIDGE_ALLOW_INSECURE_LOOPBACK === 'true',
  };
}
