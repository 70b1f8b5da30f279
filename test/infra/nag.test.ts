import { Stack, Validations } from 'aws-cdk-lib';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { KEY_PREFIXES } from '../../lib/infra/buckets.ts';
import { VPC_ENI_ACTIONS } from '../../lib/infra/build-function.ts';
import { BuildStack } from '../../lib/infra/build-stack.ts';
import {
  actionsOf,
  allRoleStatements,
  logicalIdOf,
  resourcesOf,
  synthBuildStack,
  testApp,
  testStackConfig,
} from './synth.ts';

type Synth = ReturnType<typeof synthBuildStack>;

/**
 * Every cdk-nag acknowledgement (`Validations.of(x).acknowledge(...)` of an `AwsSolutions-` rule) in
 * the tree: rule id, reason, construct path. aws-cdk-lib acknowledges a few of its own
 * `CloudFormation-Validate::…` findings (VPC AZs, flow log options); those are not ours.
 */
function acknowledgements(root: IConstruct): { id: string; reason: string; path: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, unknown>)
          .map(([id, reason]) => ({
            id: id.replace(/^annotation::/i, ''),
            reason: String(reason),
            path: c.node.path,
          }))
          .filter((a) => a.id.startsWith('AwsSolutions-')),
      ),
  );
}

/** The foundation model behind the default inference profile, in any region (as cdk-nag prints it). */
function profileModelResource(): string {
  const model = testStackConfig().models.bedrockModelId.replace(/^[a-z-]+\.(?=anthropic\.)/, '');
  return `arn:<AWS::Partition>:bedrock:*::foundation-model/${model}`;
}

describe('cdk-nag AwsSolutions', () => {
  let synth: Synth;
  beforeAll(() => {
    synth = synthBuildStack();
  });

  it('reports no unacknowledged errors or warnings', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(synth.stack);
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledgement a written reason', () => {
    const acks = acknowledgements(synth.stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.id, ack.path).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThanOrEqual(80);
    }
  });

  it('acknowledges only the expected rules', () => {
    const { stack } = synth;
    const ids = new Set(acknowledgements(stack).map((a) => a.id));
    const prefixGrants = [
      stack.buckets.prefixFindingId('staging', KEY_PREFIXES.assignments),
      stack.buckets.prefixFindingId('staging', KEY_PREFIXES.candidates),
      stack.buckets.prefixFindingId('evidence', KEY_PREFIXES.evidenceRuns),
      stack.buckets.prefixFindingId('artifacts', KEY_PREFIXES.publishedRuns),
    ];
    const workerTasks = `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/<${logicalIdOf(stack.worker.cluster)}>/*]`;
    // The default model is a cross-region inference profile: its foundation model in any region.
    const profileModel = `AwsSolutions-IAM5[Resource::${profileModelResource()}]`;
    // The portal's deploy-time BucketDeployment (CDK's grants and provider runtime), on its own role.
    const portalDeploy = new Set(stack.portal.deploymentFindingIds);
    for (const id of portalDeploy) expect(ids.has(id), id).toBe(true);
    const others = [...ids].filter((id) => id === 'AwsSolutions-IAM5[Resource::*]' || !portalDeploy.has(id));
    expect(others.sort()).toEqual(
      [
        'AwsSolutions-APIG4',
        'AwsSolutions-CFR1',
        'AwsSolutions-CFR2',
        'AwsSolutions-CFR4',
        'AwsSolutions-ECS2',
        'AwsSolutions-IAM5[Resource::*]',
        'AwsSolutions-S1',
        'AwsSolutions-SMG4',
        ...prefixGrants,
        workerTasks,
        profileModel,
      ].sort(),
    );
  });

  it('keeps Resource "*" to actions without resource-level permissions, each on the roles that need it', () => {
    const { stack, template } = synth;
    const vpcRoles = [
      logicalIdOf(stack.pipeline.functions.PrepareBranch!.role),
      logicalIdOf(stack.pipeline.smokeFunction.role),
      logicalIdOf(stack.pipeline.webCheckFunction.role),
    ];
    const executionRole = logicalIdOf(stack.worker.taskDefinition.obtainExecutionRole());
    const stateMachineRole = logicalIdOf(stack.pipeline.stateMachine.role);
    const logDelivery = [
      'logs:CreateLogDelivery',
      'logs:GetLogDelivery',
      'logs:UpdateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:DescribeResourcePolicies',
      'logs:DescribeLogGroups',
    ];
    const allowed = (role: string, action: string) =>
      /^xray:(PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets)$/.test(action) ||
      ((VPC_ENI_ACTIONS as readonly string[]).includes(action) && vpcRoles.includes(role)) ||
      (action === 'ecr:GetAuthorizationToken' && role === executionRole) ||
      (logDelivery.includes(action) && role === stateMachineRole) ||
      (/^cloudfront:(CreateInvalidation|GetInvalidation)$/.test(action) &&
        role === logicalIdOf(stack.portal.deploymentRole));
    const star = allRoleStatements(template).filter(({ statement }) => resourcesOf(statement).includes('*'));
    expect(star.length).toBeGreaterThan(0);
    for (const { role, statement } of star) {
      expect(statement.Resource, role).toBe('*');
      for (const a of actionsOf([statement])) expect(allowed(role, a), `${a} on ${role}`).toBe(true);
    }
  });

  it("uses partial wildcards only for S3 key prefixes and the worker cluster's task ids", () => {
    const { stack, template } = synth;
    const bucketIds = [stack.buckets.staging, stack.buckets.evidence, stack.buckets.artifacts].map(
      logicalIdOf,
    );
    const prefixes = Object.values(KEY_PREFIXES);
    const taskPattern = `arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/<${logicalIdOf(stack.worker.cluster)}>/*`;
    const partial = allRoleStatements(template).flatMap(({ role, statement }) =>
      resourcesOf(statement)
        .filter((r) => r !== '*' && r.includes('*'))
        .map((r) => ({ role, r, actions: actionsOf([statement]) })),
    );
    expect(partial.length).toBeGreaterThan(0);
    for (const { role, r, actions } of partial) {
      // The portal's deploy-time sync role: its statements are pinned in test/infra/portal.test.ts.
      if (role === logicalIdOf(stack.portal.deploymentRole)) continue;
      const prefixGrant = bucketIds.some((b) => prefixes.some((p) => r === `<${b}.Arn>/${p}*`));
      const taskGrant = r === taskPattern && role === logicalIdOf(stack.pipeline.stateMachine.role);
      const modelRoles = [
        logicalIdOf(stack.api.functions.PostMessage!.role),
        logicalIdOf(stack.worker.taskRole),
      ];
      const modelGrant =
        r === profileModelResource() &&
        modelRoles.includes(role) &&
        actions.every((a) => a === 'bedrock:InvokeModel');
      expect(prefixGrant || taskGrant || modelGrant, `${r} on ${role}`).toBe(true);
      for (const a of actions) expect(a, `${r} on ${role}`).not.toContain('*');
    }
  });

  it('passes the app-level validation plugin during synthesis (as bin/app.ts runs it)', () => {
    const app = testApp();
    new BuildStack(app, 'BusBuild-test', { config: testStackConfig() });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('passes for the egress variant too (NAT gateway, openai coder, Secrets Manager endpoint)', () => {
    const base = testStackConfig();
    const stack = new BuildStack(testApp({ cfnValidation: false }), 'BusBuild-egress', {
      config: {
        ...base,
        network: { ...base.network, workerEgress: 'nat' },
        worker: { ...base.worker, coder: 'openai' },
        models: { ...base.models, openai: { baseUrl: 'https://api.openai.com/v1', model: 'gpt-4o' } },
      },
    });
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
  });

  it('does find a violation when there is one (the check is live)', () => {
    const stack = new Stack(testApp(), 'Insecure');
    new Table(stack, 'NoPitr', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.success).toBe(false);
    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-DDB3');
  });

  it('fails synthesis through the app-level plugin when a finding is not acknowledged', () => {
    const app = testApp();
    const stack = new Stack(app, 'Insecure');
    new Table(stack, 'NoPitr', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow();
  });
});
