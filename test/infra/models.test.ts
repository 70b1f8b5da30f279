import type { Template } from 'aws-cdk-lib/assertions';
import { Template as T } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BuildStack } from '../../lib/infra/build-stack.ts';
import { type StackConfig, validateStackConfig } from '../../lib/infra/config.ts';
import {
  allowsAction,
  allRoleStatements,
  logicalIdOf,
  synthBuildStack,
  testApp,
  testStackConfig,
} from './synth.ts';

function synth(config: StackConfig): { stack: BuildStack; template: Template } {
  const stack = new BuildStack(testApp({ cfnValidation: false }), 'BusBuild-models', { config });
  return { stack, template: T.fromStack(stack) };
}

const invokers = (template: Template) =>
  [
    ...new Set(
      allRoleStatements(template)
        .filter(({ statement }) => allowsAction(statement, 'bedrock:InvokeModel'))
        .map(({ role }) => role),
    ),
  ].sort();

const endpointsOf = (template: Template, service: string) =>
  Object.values(template.findResources('AWS::EC2::VPCEndpoint')).filter((e) =>
    JSON.stringify(e.Properties.ServiceName).includes(`.${service}"`),
  );
const bedrockEndpoints = (template: Template) => endpointsOf(template, 'bedrock-runtime');
const secretsEndpoints = (template: Template) => endpointsOf(template, 'secretsmanager');

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
const container = (template: Template): any =>
  Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties.ContainerDefinitions[0];

describe('model providers', () => {
  describe('default (Amazon Bedrock for intake and coder, the AWS default)', () => {
    let stack: BuildStack;
    let template: Template;
    beforeAll(() => {
      ({ stack, template } = synthBuildStack());
    });

    it('lets PostMessage and the worker invoke the default model through the bedrock-runtime endpoint', () => {
      const { models } = testStackConfig();
      expect(invokers(template)).toEqual(
        [logicalIdOf(stack.api.functions.PostMessage!.role), logicalIdOf(stack.worker.taskRole)].sort(),
      );
      const env =
        template.toJSON().Resources[logicalIdOf(stack.api.functions.PostMessage!.function)].Properties
          .Environment.Variables;
      expect(env).toMatchObject({ INTAKE_PROVIDER: 'bedrock', BEDROCK_MODEL_ID: models.bedrockModelId });
      expect(env.BEDROCK_REGION).toBeUndefined();
      const vars = Object.fromEntries(
        container(template).Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]),
      );
      expect(vars).toMatchObject({ CODER: 'bedrock', BEDROCK_MODEL_ID: models.bedrockModelId });
      expect(bedrockEndpoints(template)).toHaveLength(1);
    });

    it('has no model secret, no container secrets and so no Secrets Manager endpoint', () => {
      expect(stack.models.openAiKey).toBeUndefined();
      expect(container(template).Secrets).toBeUndefined();
      expect(secretsEndpoints(template)).toEqual([]);
    });
  });

  describe('offline everywhere (-c intakeProvider=offline -c coder=offline)', () => {
    let stack: BuildStack;
    let template: Template;
    beforeAll(() => {
      const base = testStackConfig();
      ({ stack, template } = synth({
        ...base,
        worker: { ...base.worker, coder: 'offline' },
        models: { ...base.models, intakeProvider: 'offline' },
      }));
    });

    it('grants no Bedrock permission anywhere and has no Bedrock endpoint or model secret', () => {
      expect(invokers(template)).toEqual([]);
      expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).not.toContain('bedrock:');
      expect(bedrockEndpoints(template)).toEqual([]);
      expect(stack.models.openAiKey).toBeUndefined();
    });

    it('runs the offline intake and coder', () => {
      const env =
        template.toJSON().Resources[logicalIdOf(stack.api.functions.PostMessage!.function)].Properties
          .Environment.Variables;
      expect(env.INTAKE_PROVIDER).toBe('offline');
      expect(env.BEDROCK_MODEL_ID).toBeUndefined();
      const vars = Object.fromEntries(
        container(template).Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]),
      );
      expect(vars.CODER).toBe('offline');
      expect(vars.BEDROCK_MODEL_ID).toBeUndefined();
    });
  });

  describe('bedrock for intake and coder', () => {
    const modelId = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
    let stack: BuildStack;
    let template: Template;
    beforeAll(() => {
      const base = testStackConfig();
      ({ stack, template } = synth({
        ...base,
        worker: { ...base.worker, coder: 'bedrock' },
        models: { ...base.models, intakeProvider: 'bedrock', bedrockModelId: modelId },
      }));
    });

    it('lets only PostMessage and the worker task role invoke the one configured model', () => {
      expect(invokers(template)).toEqual(
        [logicalIdOf(stack.api.functions.PostMessage!.role), logicalIdOf(stack.worker.taskRole)].sort(),
      );
      const statements = allRoleStatements(template).filter(({ statement }) =>
        allowsAction(statement, 'bedrock:InvokeModel'),
      );
      for (const { statement } of statements) {
        expect(statement.Action).toBe('bedrock:InvokeModel');
        expect(stack.resolve(statement.Resource)).toEqual({
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':bedrock:',
              { Ref: 'AWS::Region' },
              `::foundation-model/${modelId}`,
            ],
          ],
        });
      }
    });

    it('configures PostMessage and the worker container for Bedrock', () => {
      const env =
        template.toJSON().Resources[logicalIdOf(stack.api.functions.PostMessage!.function)].Properties
          .Environment.Variables;
      expect(env).toMatchObject({ INTAKE_PROVIDER: 'bedrock', BEDROCK_MODEL_ID: modelId });
      const vars = Object.fromEntries(
        container(template).Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]),
      );
      expect(vars).toMatchObject({ CODER: 'bedrock', BEDROCK_MODEL_ID: modelId });
    });

    it('invokes the model in a configured region (BEDROCK_REGION and the model ARN)', () => {
      const base = testStackConfig();
      // Intake only: PostMessage runs outside the VPC, so another region needs no worker egress.
      const other = synth({
        ...base,
        worker: { ...base.worker, coder: 'offline' },
        models: {
          ...base.models,
          intakeProvider: 'bedrock',
          bedrockModelId: modelId,
          bedrockRegion: 'eu-central-1',
        },
      });
      const fn = other.stack.api.functions.PostMessage!;
      const env =
        other.template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Environment.Variables;
      expect(env.BEDROCK_REGION).toBe('eu-central-1');
      const resources = allRoleStatements(other.template)
        .filter(({ statement }) => allowsAction(statement, 'bedrock:InvokeModel'))
        .map(({ statement }) => JSON.stringify(other.stack.resolve(statement.Resource)));
      expect(resources.length).toBeGreaterThan(0);
      for (const r of resources) expect(r).toContain(':bedrock:eu-central-1::foundation-model/');
    });

    it('adds the bedrock-runtime interface endpoint (the VPC has no route out)', () => {
      const endpoints = bedrockEndpoints(template);
      expect(endpoints).toHaveLength(1);
      expect(endpoints[0]!.Properties).toMatchObject({
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
      });
    });
  });

  describe('openai', () => {
    let stack: BuildStack;
    let template: Template;
    beforeAll(() => {
      const base = testStackConfig();
      ({ stack, template } = synth({
        ...base,
        network: { ...base.network, workerEgress: 'nat' },
        worker: { ...base.worker, coder: 'openai' },
        models: {
          ...base.models,
          intakeProvider: 'openai',
          openai: { baseUrl: 'https://api.openai.com/v1', model: 'gpt-4o' },
        },
      }));
    });

    it('passes the API key to the worker as an ECS secret and its ARN to PostMessage, never the value', () => {
      const key = stack.models.openAiKey!;
      const c = container(template);
      expect(c.Secrets).toEqual([{ Name: 'OPENAI_API_KEY', ValueFrom: { Ref: logicalIdOf(key) } }]);
      expect(JSON.stringify(c.Environment)).not.toContain('OPENAI_API_KEY');
      const env =
        template.toJSON().Resources[logicalIdOf(stack.api.functions.PostMessage!.function)].Properties
          .Environment.Variables;
      expect(env).toMatchObject({ INTAKE_PROVIDER: 'openai', OPENAI_API_KEY_ARN: { Ref: logicalIdOf(key) } });
      expect(invokers(template)).toEqual([]);
      expect(bedrockEndpoints(template)).toEqual([]);
    });

    it('adds the Secrets Manager endpoint so the ECS agent can fetch the key at task start', () => {
      const endpoints = secretsEndpoints(template);
      expect(endpoints).toHaveLength(1);
      expect(endpoints[0]!.Properties).toMatchObject({
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
        SecurityGroupIds: [{ 'Fn::GetAtt': [logicalIdOf(stack.network.endpointSecurityGroup), 'GroupId'] }],
        PolicyDocument: {
          Statement: [
            expect.objectContaining({
              Condition: { StringEquals: { 'aws:PrincipalAccount': { Ref: 'AWS::AccountId' } } },
            }),
          ],
        },
      });
      // In the isolated subnets, like every interface endpoint.
      const isolated = stack.network.vpc.isolatedSubnets.map((s) => ({ Ref: logicalIdOf(s) }));
      expect(endpoints[0]!.Properties.SubnetIds).toEqual(isolated);
    });
  });

  it('adds no Secrets Manager endpoint when only the intake (outside the VPC) reads the key', () => {
    const base = testStackConfig();
    const { stack, template } = synth({
      ...base,
      models: {
        ...base.models,
        intakeProvider: 'openai',
        openai: { baseUrl: 'https://api.openai.com/v1', model: 'gpt-4o' },
      },
    });
    expect(stack.models.openAiKey).toBeDefined();
    expect(container(template).Secrets).toBeUndefined();
    expect(secretsEndpoints(template)).toEqual([]);
  });

  it('refuses to build a stack whose coder cannot reach its model without worker egress', () => {
    const base = testStackConfig();
    const openai = { baseUrl: 'https://api.openai.com/v1', model: 'gpt-4o' };
    expect(() =>
      synth({ ...base, worker: { ...base.worker, coder: 'openai' }, models: { ...base.models, openai } }),
    ).toThrow(/-c workerEgress=nat/);
    expect(() =>
      synth({
        ...base,
        worker: { ...base.worker, coder: 'command' },
        models: { ...base.models, coderCommand: ['agent'] },
      }),
    ).toThrow(/-c workerEgress=nat/);
    const elsewhere = { ...base, models: { ...base.models, bedrockRegion: 'us-east-1' } };
    expect(() => synth(elsewhere)).toThrow(/bedrockRegion us-east-1.*-c workerEgress=nat/);
    // With the stack's region known, the same region is fine and another one is refused.
    const pinned = (region: string) =>
      new BuildStack(testApp({ cfnValidation: false }), 'BusBuild-pinned', {
        config: elsewhere,
        env: { region },
      });
    expect(() => pinned('us-east-1')).not.toThrow();
    expect(() => pinned('eu-west-1')).toThrow(/bedrockRegion us-east-1.*\(eu-west-1\)/);
    expect(() => synth({ ...elsewhere, network: { ...base.network, workerEgress: 'nat' } })).not.toThrow();
  });

  it('rejects incomplete model settings', () => {
    const base = testStackConfig();
    expect(() => validateStackConfig({ ...base, worker: { ...base.worker, coder: 'openai' } })).toThrow(
      /models.openai/,
    );
    expect(() => validateStackConfig({ ...base, worker: { ...base.worker, coder: 'command' } })).toThrow(
      /coderCommand/,
    );
    expect(() => validateStackConfig({ ...base, models: { ...base.models, bedrockModelId: 'x y' } })).toThrow(
      /bedrockModelId/,
    );
  });
});
