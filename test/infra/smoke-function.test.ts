import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BuildStack } from '../../lib/infra/build-stack.ts';
import { SMOKE_FUNCTION_TIMEOUT_SECONDS } from '../../lib/infra/state-machine.ts';
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

describe('SmokeBinary function (runs candidate binaries for VerifyArtifacts)', () => {
  it('runs in the isolated subnets of the VPC with its own security group, on the verifier architecture', () => {
    const smoke = fnProps(stack.pipeline.smokeFunction);
    const isolated = stack.network.vpc.isolatedSubnets.map((s) =>
      flatten({ Ref: logicalIdOf(s.node.defaultChild as never) }),
    );
    expect(isolated.length).toBeGreaterThanOrEqual(2);
    expect(smoke.VpcConfig?.SubnetIds.map(flatten).sort()).toEqual(isolated.sort());
    expect(smoke.VpcConfig?.SecurityGroupIds.map(flatten)).toEqual([
      `<${logicalIdOf(stack.network.smokeSecurityGroup)}.GroupId>`,
    ]);
    // VerifyArtifacts detects its platform at run time; the smoke function must run the same one.
    const verify = fnProps(stack.pipeline.functions.VerifyArtifacts!);
    expect(smoke.Architectures).toEqual(verify.Architectures);
    expect(smoke.Architectures).toEqual(['arm64']);
    expect(verify.VpcConfig).toBeUndefined();
    expect(smoke.Timeout).toBe(SMOKE_FUNCTION_TIMEOUT_SECONDS);
    expect(smoke.Timeout).toBeLessThan(
      stack.pipeline.functions.VerifyArtifacts!.function.timeout!.toSeconds(),
    );
    expect(smoke.MemorySize).toBeLessThanOrEqual(1024);
    expect(smoke.EphemeralStorage?.Size).toBeGreaterThanOrEqual(2 * 128 + 64);
    // No table, bucket, bus or secret to find in its environment either.
    expect(Object.keys(smoke.Environment?.Variables ?? {})).toEqual(['NODE_OPTIONS']);
  });

  it('security group: nothing inbound; the only egress is HTTPS to the S3 prefix list', () => {
    const id = logicalIdOf(stack.network.smokeSecurityGroup);
    const props = resources[id]!.Properties as {
      SecurityGroupIngress?: unknown[];
      SecurityGroupEgress?: unknown[];
    };
    expect(props.SecurityGroupIngress ?? []).toEqual([]);
    const lookup = Object.entries(resources).find(([, r]) => r.Type === 'Custom::S3PrefixListLookup');
    expect(lookup).toBeDefined();
    expect(props.SecurityGroupEgress).toEqual([
      {
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        DestinationPrefixListId: { 'Fn::GetAtt': [lookup![0], 'PrefixListId'] },
        Description: expect.any(String),
      },
    ]);
    const mentions = (r: Resource) => JSON.stringify(r.Properties).includes(`"${id}"`);
    const standalone = Object.values(resources).filter(
      (r) => /^AWS::EC2::SecurityGroup(Ingress|Egress)$/.test(r.Type) && mentions(r),
    );
    // Not a source of any other group's ingress either (no interface endpoint, no file system).
    expect(standalone).toEqual([]);
    // The lookup asks for this region's S3 prefix list.
    expect(lookup![1].Properties.Region).toEqual({ Ref: 'AWS::Region' });
  });

  it('the prefix-list lookup resolves com.amazonaws.<region>.s3', async () => {
    const mod = createRequire(import.meta.url)('../../lib/infra/s3-prefix-list/index.js');
    const asked: string[] = [];
    const event = {
      RequestType: 'Create',
      StackId: 's',
      RequestId: 'r',
      LogicalResourceId: 'l',
      ResourceProperties: { Region: 'eu-north-1' },
    };
    const out = await mod.run(event, {
      prefixListId: async (name: string) => {
        asked.push(name);
        return 'pl-c3aa4faa';
      },
    });
    expect(asked).toEqual(['com.amazonaws.eu-north-1.s3']);
    expect(out).toMatchObject({ Status: 'SUCCESS', Data: { PrefixListId: 'pl-c3aa4faa' } });
    const failed = await mod.run(event, {
      prefixListId: async () => {
        throw new Error('none');
      },
    });
    expect(failed.Status).toBe('FAILED');
    const providerRole = Object.entries(resources).find(
      ([id, r]) =>
        r.Type === 'AWS::IAM::Role' && id.startsWith('CustomS3PrefixListLookupCustomResourceProviderRole'),
    );
    const inline = JSON.stringify(providerRole?.[1].Properties.Policies);
    expect(inline).toContain('ec2:DescribeManagedPrefixLists');
    expect(
      JSON.parse(inline).flatMap(
        (p: { PolicyDocument: { Statement: unknown[] } }) => p.PolicyDocument.Statement,
      ),
    ).toHaveLength(1);
  });

  it('role: its own logs, the VPC network-interface actions and tracing; no data, events or secrets', () => {
    const roleId = logicalIdOf(stack.pipeline.smokeFunction.role);
    const role = resources[roleId]!.Properties;
    expect(role.ManagedPolicyArns).toBeUndefined();
    expect(role.Policies).toBeUndefined();
    const statements = statementsForRole(template, roleId);
    const actions = actionsOf(statements);
    expect(actions.length).toBeGreaterThan(0);
    for (const a of actions) {
      expect(a, a).not.toMatch(/^(s3|dynamodb|events|secretsmanager|kms|lambda|states|ecs|iam|sts|ssm):/i);
      expect(a, a).toMatch(
        /^(logs:|xray:|ec2:(Create|Describe|Delete|Assign|Unassign)\w*NetworkInterface|ec2:DescribeSubnets|ec2:\w+PrivateIpAddresses)/,
      );
    }
    for (const a of [
      's3:GetObject',
      's3:PutObject',
      'dynamodb:GetItem',
      'events:PutEvents',
      'secretsmanager:GetSecretValue',
    ]) {
      expect(
        statements.some((s) => allowsAction(s, a)),
        a,
      ).toBe(false);
    }
    const logGroup = `<${logicalIdOf(stack.pipeline.smokeFunction.logGroup)}.Arn>`;
    const logResources = statements
      .filter((s) => actionsOf([s]).some((a) => a.startsWith('logs:')))
      .flatMap(resourcesOf);
    expect(logResources.every((r) => r.startsWith(logGroup))).toBe(true);
  });

  it('VerifyArtifacts may invoke exactly this function and gets its name as SMOKE_FUNCTION_NAME', () => {
    const verify = stack.pipeline.functions.VerifyArtifacts!;
    const smokeId = logicalIdOf(stack.pipeline.smokeFunction.function as never);
    expect(fnProps(verify).Environment?.Variables.SMOKE_FUNCTION_NAME).toEqual({ Ref: smokeId });
    const invoke = statementsForRole(template, logicalIdOf(verify.role)).filter(
      (s) => allowsAction(s, 'lambda:InvokeFunction') && resourcesOf(s).includes(`<${smokeId}.Arn>`),
    );
    expect(invoke).toHaveLength(1);
    expect(actionsOf(invoke)).toEqual(['lambda:InvokeFunction']);
    expect(resourcesOf(invoke[0]!)).toEqual([`<${smokeId}.Arn>`]);
    // Nobody else may invoke it (the state machine invokes only the task functions).
    const others = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
      .filter(([, r]) => JSON.stringify(r.Properties).includes(`"${smokeId}"`))
      .flatMap(([, r]) => (r.Properties.Roles as { Ref: string }[]).map((x) => x.Ref));
    expect(others).toEqual([logicalIdOf(verify.role)]);
  });
});
