import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadBridgeConfig } from './config.js';
import { acknowledgeNagFindings } from './nag-acknowledgements.js';
import { BridgeStack } from './stacks/bridge-stack.js';

const app = new App();
const config = loadBridgeConfig((key) => app.node.tryGetContext(key));
const stack = new BridgeStack(
  app,
  (app.node.tryGetContext('stackName') as string | undefined) ?? 'ConvexStreamBridge',
  {
    config,
    ...(process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION
      ? {
          env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
        }
      : {}),
  },
);
acknowledgeNagFindings(stack);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
