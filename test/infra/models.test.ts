import type { Template } from 'aws-cdk-lib/assertions';
import { Template as T } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BuildStack } from '../../lib/infra/build-stack.ts';
import { type StackConfig, stackConfig, validateStackConfig } from '../../lib/infra/config.ts';
import { allowsAction, allRoleStatements, logicalIdOf, synthBuildStack, testApp } from './synth.ts';

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

const bedrockEndpoints = (template: Template) =>
  Object.values(template.findResources('AWS::EC2::VPCEndpoint')).filter((e) =>
    JSON.stringify(e.Properties.ServiceName).includes('bedrock-runtime'),
  );

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
const container = (template: Template): any =>
  Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties.ContainerDefinitions[0];

describe('model providers', () => {
  describe('default (offline everywhere)', () => {
    let stack: BuildStack;
    let template: Template;
    beforeAll(() => {
      ({ stack, template } = synthBuildStack());
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
      const base = stackConfig({ stage: 'test' });
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
      const base = stackConfig({ stage: 'test' });
      const other = synth({
        ...base,
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
      const base = stackConfig({ stage: 'test' });
      ({ stack, template } = synth({
        ...base,
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
  });

  it('rejects incomplete model settings', () => {
    const base = stackConfig({ stage: 'test' });
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
