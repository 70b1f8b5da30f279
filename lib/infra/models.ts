import { RemovalPolicy, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { Coder } from './config.ts';

export const INTAKE_PROVIDERS = ['offline', 'bedrock', 'openai'] as const;
export type IntakeProvider = (typeof INTAKE_PROVIDERS)[number];
export const CODERS: readonly Coder[] = ['offline', 'bedrock', 'openai', 'command'];

export interface ModelsConfig {
  /** INTAKE_PROVIDER of the chat (PostMessage): `offline` rules, or a model. */
  readonly intakeProvider: IntakeProvider;
  /**
   * BEDROCK_MODEL_ID: a foundation model id (`amazon.nova-pro-v1:0`) or a cross-region inference
   * profile id (`global.` / `us.` / `eu.` / `apac.` … + the model id), invoked in the stack's
   * region. Default DEFAULT_BEDROCK_MODEL_ID (config.ts).
   */
  readonly bedrockModelId: string;
  /**
   * BEDROCK_REGION: where the model is invoked (default: the stack's region). Without worker
   * egress the worker reaches Bedrock only through the VPC endpoint in the stack's region, so a
   * Bedrock coder with another region needs `network.workerEgress: 'nat'` (validateStackConfig).
   */
  readonly bedrockRegion?: string;
  /** OpenAI-compatible endpoint (OPENAI_BASE_URL / OPENAI_MODEL) when a component uses `openai`. */
  readonly openai?: { readonly baseUrl: string; readonly model: string };
  /** CODER_COMMAND (JSON argv) when the worker's coder is `command`. */
  readonly coderCommand?: readonly string[];
}

/** Geography prefixes of Bedrock's system-defined cross-region inference profiles. */
export const INFERENCE_PROFILE_GEOGRAPHIES = [
  'global',
  'us',
  'us-gov',
  'eu',
  'apac',
  'ca',
  'jp',
  'au',
] as const;

/** Cross-region inference profile ids start with a geography prefix. */
const INFERENCE_PROFILE = new RegExp(`^(${INFERENCE_PROFILE_GEOGRAPHIES.join('|')})\\.`);

/** `provider.model-version[:n]`, e.g. `anthropic.claude-sonnet-4-5-20250929-v1:0`. */
const FOUNDATION_MODEL_ID = /^[a-z][a-z0-9-]*\.[A-Za-z0-9][A-Za-z0-9.:_-]{1,150}$/;

/**
 * Anthropic models from Claude 4 on have no in-region on-demand throughput on Bedrock: Converse
 * with the bare model id fails ("on-demand throughput isn't supported"), only an inference profile
 * id works.
 */
const PROFILE_ONLY = /^anthropic\.claude-(sonnet|opus|haiku)-[4-9]/;

/** Why a Bedrock model id cannot work, or undefined when its form is valid. */
export function bedrockModelIdProblem(id: string): string | undefined {
  const geography = /^([a-z-]{2,7})\.([a-z][a-z0-9-]*)\.(.+)$/.exec(id);
  const profile = INFERENCE_PROFILE.test(id);
  if (!profile && geography && KNOWN_PROVIDERS.has(geography[2]!)) {
    return (
      `${id} starts with ${geography[1]}., which is not an inference profile geography ` +
      `(${INFERENCE_PROFILE_GEOGRAPHIES.join(', ')})`
    );
  }
  const model = id.replace(INFERENCE_PROFILE, '');
  if (!FOUNDATION_MODEL_ID.test(model)) {
    return `${id} is not a Bedrock model id (provider.model, e.g. anthropic.claude-sonnet-4-5-20250929-v1:0)`;
  }
  if (!profile && PROFILE_ONLY.test(model)) {
    return (
      `${id} can only be invoked through a cross-region inference profile: use global.${id}, or ` +
      `us.${id} / eu.${id} / apac.${id} to keep requests in one geography`
    );
  }
  return undefined;
}

/** Model providers on Bedrock (only used to recognise a mistyped geography prefix). */
const KNOWN_PROVIDERS = new Set([
  'anthropic',
  'amazon',
  'meta',
  'mistral',
  'cohere',
  'ai21',
  'deepseek',
  'openai',
  'qwen',
  'writer',
]);

export function validateModelsConfig(models: ModelsConfig, coder: Coder): void {
  if (!INTAKE_PROVIDERS.includes(models.intakeProvider)) {
    throw new Error(`models.intakeProvider must be one of ${INTAKE_PROVIDERS.join(', ')}`);
  }
  if (!CODERS.includes(coder)) throw new Error(`worker.coder must be one of ${CODERS.join(', ')}`);
  const usesBedrock = models.intakeProvider === 'bedrock' || coder === 'bedrock';
  const problem = bedrockModelIdProblem(models.bedrockModelId);
  if (problem && usesBedrock) throw new Error(`models.bedrockModelId: ${problem} (-c bedrockModelId=…)`);
  if (models.bedrockRegion !== undefined && !/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(models.bedrockRegion)) {
    throw new Error(`models.bedrockRegion is not an AWS region: ${models.bedrockRegion}`);
  }
  if ((models.intakeProvider === 'openai' || coder === 'openai') && !models.openai) {
    throw new Error('models.openai (baseUrl, model) is required when a component uses openai');
  }
  if (models.openai && !/^https:\/\//.test(models.openai.baseUrl)) {
    throw new Error('models.openai.baseUrl must be an https URL');
  }
  if (coder === 'command' && !models.coderCommand?.length) {
    throw new Error('models.coderCommand is required when worker.coder is command');
  }
}

export interface ModelProvidersProps {
  readonly stage: string;
  readonly models: ModelsConfig;
  readonly coder: Coder;
}

/**
 * Model providers of the intake assistant (PostMessage) and the worker's coder. Nothing is granted
 * unless a component is configured for a provider: the AWS default (`bedrock` for both) grants
 * InvokeModel on the one model to PostMessage and the worker; with `offline` everywhere no role
 * can invoke a model and no model secret exists.
 *
 * - `bedrock`: `bedrock:InvokeModel` (what the Converse API checks) on the one configured model,
 *   for PostMessage and/or the worker task role only. The worker reaches Bedrock through the
 *   `bedrock-runtime` interface endpoint (network.ts), since its subnets have no route out.
 * - `openai`: an API key secret (blank placeholder, set after deploy like the Stripe secrets),
 *   `OPENAI_API_KEY_ARN` + GetSecretValue for PostMessage, an ECS container secret for the worker
 *   (the stack then adds the Secrets Manager endpoint; the worker needs `workerEgress: 'nat'`).
 */
export class ModelProviders extends Construct {
  readonly models: ModelsConfig;
  readonly coder: Coder;
  readonly openAiKey?: Secret;

  constructor(scope: Construct, id: string, props: ModelProvidersProps) {
    super(scope, id);
    this.models = props.models;
    this.coder = props.coder;
    if (props.models.intakeProvider === 'openai' || props.coder === 'openai') {
      this.openAiKey = new Secret(this, 'OpenAiApiKey', {
        description: `BusDK Artifact Builder (${props.stage}): OpenAI-compatible API key (set after deploy)`,
        secretStringValue: SecretValue.unsafePlainText(' '),
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(this.openAiKey).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          "This is an API key of an external model provider, issued and rotated in that provider's " +
          'console: no AWS rotation Lambda can mint one. Operators rotate it there and store the new ' +
          'value here (aws secretsmanager put-secret-value); readers pick it up on their next start.',
      });
    }
  }

  /** The IAM resources of the configured Bedrock model in the stack's region. */
  bedrockModelArns(scope: Construct): string[] {
    const stack = Stack.of(scope);
    const id = this.models.bedrockModelId;
    const region = this.models.bedrockRegion ?? stack.region;
    if (!INFERENCE_PROFILE.test(id)) {
      return [`arn:${stack.partition}:bedrock:${region}::foundation-model/${id}`];
    }
    // An inference profile routes to the foundation model in any region of its geography.
    return [
      `arn:${stack.partition}:bedrock:${region}:${stack.account}:inference-profile/${id}`,
      `arn:${stack.partition}:bedrock:*::foundation-model/${id.replace(INFERENCE_PROFILE, '')}`,
    ];
  }

  private bedrockStatement(scope: Construct): iam.PolicyStatement {
    return new iam.PolicyStatement({
      actions: ['bedrock:InvokeModel'],
      resources: this.bedrockModelArns(scope),
    });
  }

  private acknowledgeProfile(role: iam.IRole): void {
    if (!INFERENCE_PROFILE.test(this.models.bedrockModelId)) return;
    const stack = Stack.of(role);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/${this.models.bedrockModelId.replace(INFERENCE_PROFILE, '')}]`,
      reason:
        `The configured model ${this.models.bedrockModelId} is a cross-region inference profile: Bedrock ` +
        'authorizes the call against the one foundation model in whichever region of the profile serves ' +
        `it, so the region is a wildcard; the model id is fixed (stack region ${stack.region}).`,
    });
  }

  /** The intake assistant (PostMessage): INTAKE_PROVIDER and what that provider needs. */
  configureIntake(fn: lambda.Function): void {
    const { intakeProvider, bedrockModelId, openai } = this.models;
    fn.addEnvironment('INTAKE_PROVIDER', intakeProvider);
    if (intakeProvider === 'bedrock') {
      fn.addEnvironment('BEDROCK_MODEL_ID', bedrockModelId);
      if (this.models.bedrockRegion) fn.addEnvironment('BEDROCK_REGION', this.models.bedrockRegion);
      fn.addToRolePolicy(this.bedrockStatement(fn));
      if (fn.role) this.acknowledgeProfile(fn.role);
    }
    if (intakeProvider === 'openai' && this.openAiKey && openai) {
      fn.addEnvironment('OPENAI_BASE_URL', openai.baseUrl);
      fn.addEnvironment('OPENAI_MODEL', openai.model);
      fn.addEnvironment('OPENAI_API_KEY_ARN', this.openAiKey.secretArn);
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.openAiKey.secretArn],
        }),
      );
    }
  }

  /**
   * The worker container (CODER is set by worker.ts from `worker.coder`): the model settings of
   * the configured coder, InvokeModel for the task role, the API key as an ECS secret (the
   * execution role reads it at task start; it never appears in the task definition).
   */
  configureWorker(container: ecs.ContainerDefinition, taskRole: iam.IRole): void {
    const { bedrockModelId, openai, coderCommand } = this.models;
    if (this.coder === 'bedrock') {
      container.addEnvironment('BEDROCK_MODEL_ID', bedrockModelId);
      if (this.models.bedrockRegion) container.addEnvironment('BEDROCK_REGION', this.models.bedrockRegion);
      taskRole.addToPrincipalPolicy(this.bedrockStatement(container));
      this.acknowledgeProfile(taskRole);
    }
    if (this.coder === 'openai' && this.openAiKey && openai) {
      container.addEnvironment('OPENAI_BASE_URL', openai.baseUrl);
      container.addEnvironment('OPENAI_MODEL', openai.model);
      container.addSecret('OPENAI_API_KEY', ecs.Secret.fromSecretsManager(this.openAiKey));
    }
    if (this.coder === 'command' && coderCommand) {
      container.addEnvironment('CODER_COMMAND', JSON.stringify(coderCommand));
    }
  }
}
