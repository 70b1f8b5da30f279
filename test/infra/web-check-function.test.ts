import { beforeAll, describe, expect, it } from 'vitest';
import type { BuildStack } from '../../lib/infra/build-stack.ts';
import { WEB_CHECK_FUNCTION_TIMEOUT_SECONDS } from '../../lib/infra/state-machine.ts';
import {
  actionsOf,
  allowsAction,
  flatten,
  logicalIdOf,
  resourcesOf,
  statementsForRole,
  synthBuildStack,
} from './synth.ts';

type Template = ReturnType<typeof synthBuildStack>['template'];
type Resource = { Type: string; Properties: Record<string, unknown> };

let stack: BuildStack;
let template: Template;
let resources: Record<string, Resource>;
beforeAll(() => {
  ({ stack, template } = synthBuildStack());
  resources = template.toJSON().Resources;
});

const fnProps = (fn: { function: object }) =>
  resources[logicalIdOf(fn.function as never)]!.Properties as {
    Architectures?: string[];
    VpcConfig?: { SubnetIds: unknown[]; SecurityGroupIds: unknown[] };
    Timeout: number;
    MemorySize: number;
    EphemeralStorage?: { Size: number };
    Environment?: { Variables: Record<string, unknown> };
  };

describe('WebChecks function (renders and checks candidate web apps for VerifyArtifacts)', () => {
  it('runs x86_64 (the npm Chromium for Lambda is x64 only) in the isolated subnets with the HTTPS-to-S3-only group', () => {
    const web = fnProps(stack.pipeline.webCheckFunction);
    expect(web.Architectures).toEqual(['x86_64']);
    const isolated = stack.network.vpc.isolatedSubnets.map((s) =>
      flatten({ Ref: logicalIdOf(s.node.defaultChild as never) }),
    );
    expect(web.VpcConfig?.SubnetIds.map(flatten).sort()).toEqual(isolated.sort());
    expect(web.VpcConfig?.SecurityGroupIds.map(flatten)).toEqual([
      `<${logicalIdOf(stack.network.smokeSecurityGroup)}.GroupId>`,
    ]);
    expect(web.Timeout).toBe(WEB_CHECK_FUNCTION_TIMEOUT_SECONDS);
    expect(web.Timeout).toBeLessThan(stack.pipeline.functions.VerifyArtifacts!.function.timeout!.toSeconds());
    expect(web.MemorySize).toBeGreaterThanOrEqual(1536);
    expect(web.EphemeralStorage?.Size).toBeGreaterThanOrEqual(1024);
    expect(Object.keys(web.Environment?.Variables ?? {})).toEqual(['NODE_OPTIONS']);
  });

  it('role: its own logs, the VPC network-interface actions and tracing; no data, events or secrets', () => {
    const roleId = logicalIdOf(stack.pipeline.webCheckFunction.role);
    const role = resources[roleId]!.Properties;
    expect(role.ManagedPolicyArns).toBeUndefined();
    const statements = statementsForRole(template, roleId);
    for (const a of actionsOf(statements)) {
      expect(a, a).toMatch(
        /^(logs:|xray:|ec2:(Create|Describe|Delete|Assign|Unassign)\w*NetworkInterface|ec2:DescribeSubnets|ec2:\w+PrivateIpAddresses)/,
      );
    }
    for (const a of ['s3:GetObject', 's3:PutObject', 'dynamodb:GetItem', 'lambda:InvokeFunction']) {
      expect(
        statements.some((s) => allowsAction(s, a)),
        a,
      ).toBe(false);
    }
  });

  it('VerifyArtifacts may invoke it, gets its name as WEB_CHECK_FUNCTION_NAME, and no longer relies on worker render evidence', () => {
    const verify = stack.pipeline.functions.VerifyArtifacts!;
    const webId = logicalIdOf(stack.pipeline.webCheckFunction.function as never);
    const env = fnProps(verify).Environment?.Variables ?? {};
    expect(env.WEB_CHECK_FUNCTION_NAME).toEqual({ Ref: webId });
    expect(env.RENDER_EVIDENCE).toBeUndefined();
    const invoke = statementsForRole(template, logicalIdOf(verify.role)).filter(
      (s) => allowsAction(s, 'lambda:InvokeFunction') && resourcesOf(s).includes(`<${webId}.Arn>`),
    );
    expect(invoke).toHaveLength(1);
    expect(actionsOf(invoke)).toEqual(['lambda:InvokeFunction']);
    const others = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
      .filter(([, r]) => JSON.stringify(r.Properties).includes(`"${webId}"`))
      .flatMap(([, r]) => (r.Properties.Roles as { Ref: string }[]).map((x) => x.Ref));
    expect(others).toEqual([logicalIdOf(verify.role)]);
  });
});
