import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BuildStack } from '../lib/infra/build-stack.ts';
import { stackConfig } from '../lib/infra/config.ts';

/**
 * CDK app. Environment-agnostic (no account/region lookups), so `cdk synth` works offline.
 * Choose the deployment stage with `-c stage=prod` (default `dev`).
 */
const app = new App();
const stage: unknown = app.node.tryGetContext('stage');
const config = stackConfig({ stage: typeof stage === 'string' ? stage : undefined });

new BuildStack(app, `BusBuild-${config.stage}`, {
  config,
  description: `BusDK Artifact Builder (${config.stage})`,
});

// cdk-nag v3: AwsSolutions runs as a policy validation plugin; any unacknowledged finding
// (error or warning) fails synthesis. Acknowledgements live next to the resources they concern.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
