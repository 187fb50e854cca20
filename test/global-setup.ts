import type { TestProject } from 'vitest/node';
import { type LocalAwsEnv, startLocalAws } from '../local/local-aws.js';

declare module 'vitest' {
  export interface ProvidedContext {
    localAws: LocalAwsEnv;
  }
}

/** One moto and one kinesalite for the whole run, stopped when it ends, whatever the outcome. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const aws = await startLocalAws();
  project.provide('localAws', aws.env);
  return () => aws.stop();
}
