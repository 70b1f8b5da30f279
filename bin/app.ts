import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BuildStack } from '../lib/infra/build-stack.ts';
import { stackConfigFromContext } from '../lib/infra/config.ts';

/**
 * CDK app. Environment-agnostic (no account/region lookups), so `cdk synth` works offline.
 * Settings come from context: `-c stage=prod`, `-c intakeProvider=bedrock -c coder=bedrock
 * -c bedrockModelId=… -c bedrockRegion=…`, `-c emailFrom=…`, `-c cardPayments=true` (see
 * `stackConfigFromContext` in lib/infra/config.ts).
 */
const app = new App();
const config = stackConfigFromContext((key) => app.node.tryGetContext(key));

new BuildStack(app, `BusBuild-${config.stage}`, {
  config,
  description: `BusDK Artifact Builder (${config.stage})`,
});

// cdk-nag v3: AwsSolutions runs as a policy validation plugin; any unacknowledged finding
// (error or warning) fails synthesis. Acknowledgements live next to the resources they concern.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
