import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BuildStack } from '../../lib/infra/build-stack.ts';
import { stackConfig } from '../../lib/infra/config.ts';

/** The feature flags of cdk.json, so tests synthesize exactly what `cdk synth` does. */
const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
).context;

/** A fresh app with cdk.json's context that skips asset bundling (no esbuild runs). */
export function testApp(): App {
  return new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
}

/** The real stack with the default test config, plus its synthesized template. */
export function synthBuildStack(): { app: App; stack: BuildStack; template: Template } {
  const app = testApp();
  const stack = new BuildStack(app, 'BusBuild-test', { config: stackConfig({ stage: 'test' }) });
  return { app, stack, template: Template.fromStack(stack) };
}

interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every Allow statement of the IAM policies attached to a role (by logical id). */
export function statementsForRole(template: Template, roleLogicalId: string): PolicyStatement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) =>
      (p.Properties.Roles as unknown[]).some(
        (r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId }),
      ),
    )
    .flatMap((p) => p.Properties.PolicyDocument.Statement as PolicyStatement[]);
}

export function actionsOf(statements: PolicyStatement[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}
