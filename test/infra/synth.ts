import { readFileSync } from 'node:fs';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { BuildStack } from '../../lib/infra/build-stack.ts';
import { type StackConfig, stackConfig } from '../../lib/infra/config.ts';

/** The feature flags of cdk.json, so tests synthesize exactly what `cdk synth` does. */
const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
).context;

export interface TestAppOptions {
  /**
   * Run CDK's built-in CloudFormation template validation at synthesis (cdk.json turns it on;
   * default true). It takes most of a synthesis, so the assertion suites skip it and the nag
   * suite's full-synthesis test keeps it.
   */
  readonly cfnValidation?: boolean;
}

/** The SES sender the test stacks use (`emailFrom` has no default; `.example` is a reserved TLD). */
export const TEST_EMAIL_FROM = 'no-reply@busdk.example';

/** The stack config of the test stacks: the defaults, stage `test`, the test sender. */
export function testStackConfig(): StackConfig {
  return stackConfig({ stage: 'test', emailFrom: TEST_EMAIL_FROM });
}

/** A fresh app with cdk.json's context that skips asset bundling (no esbuild, no Docker build). */
export function testApp(options: TestAppOptions = {}): App {
  const context: Record<string, unknown> = { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] };
  if (options.cfnValidation === false) context['@aws-cdk/core:validateAgainstDefaultRules'] = false;
  return new App({ context });
}

/** The real stack with the default test config, plus its synthesized template. */
export function synthBuildStack(options: TestAppOptions = { cfnValidation: false }): {
  app: App;
  stack: BuildStack;
  template: Template;
} {
  const app = testApp(options);
  const stack = new BuildStack(app, 'BusBuild-test', { config: testStackConfig() });
  return { app, stack, template: Template.fromStack(stack) };
}

/**
 * The roles of CDK custom resource providers (AWSLambdaBasicExecutionRole attached by CDK): the
 * provider of `Custom::VpcRestrictDefaultSG`, which empties the VPC's default security group
 * (cdk.json `@aws-cdk/aws-ec2:restrictDefaultSecurityGroup`), and `Custom::PreviewKeyImport`
 * (lib/infra/preview-key.ts; its own statements are asserted in test/infra/preview.test.ts), and
 * `Custom::S3PrefixListLookup` (lib/infra/network.ts; asserted in test/infra/smoke-function.test.ts).
 */
export const CDK_PROVIDER_ROLE =
  /^Custom(VpcRestrictDefaultSG|PreviewKeyImport|S3PrefixListLookup)CustomResourceProviderRole/;

export interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Logical id of a construct's CloudFormation resource (a role, a bucket, …). */
export function logicalIdOf(construct: IConstruct): string {
  const child = (construct.node.defaultChild ?? construct) as CfnElement;
  return child.stack.getLogicalId(child);
}

/** Every statement of the IAM policies attached to a role (by logical id). */
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

/** Every policy statement in the template with the logical ids of the roles it is attached to. */
export function allRoleStatements(template: Template): { role: string; statement: PolicyStatement }[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) =>
    (p.Properties.Roles as { Ref: string }[]).flatMap((r) =>
      (p.Properties.PolicyDocument.Statement as PolicyStatement[]).map((statement) => ({
        role: r.Ref,
        statement,
      })),
    ),
  );
}

export function actionsOf(statements: PolicyStatement[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

/**
 * A statement's resources as flat strings, the way cdk-nag prints them: `Ref` → `<Id>`,
 * `Fn::GetAtt` → `<Id.Attr>`, `Fn::Join` joined.
 */
export function resourcesOf(statement: PolicyStatement): string[] {
  const list = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
  return list.map(flatten);
}

export function flatten(node: unknown): string {
  if (typeof node === 'string') return node;
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if ('Ref' in o) return `<${String(o.Ref)}>`;
    if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(sep);
    }
  }
  return JSON.stringify(node);
}

/** Does the statement allow the action (exactly, or through a wildcard such as `s3:*` / `s3:Put*`)? */
export function allowsAction(statement: PolicyStatement, action: string): boolean {
  if (statement.Effect !== 'Allow') return false;
  return actionsOf([statement]).some((a) => {
    const re = new RegExp(`^${a.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i');
    return re.test(action);
  });
}
