import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { BedrockModelClient } from './bedrock.ts';
import type { ModelClient } from './model.ts';
import { OpenAIModelClient } from './openai.ts';

/**
 * Which model provider a component uses, read from the environment. Secrets are read here and
 * handed to the client only; `describeModelConfig` reports them as set / not set.
 *
 * - `bedrock`: `BEDROCK_MODEL_ID` (+ `AWS_REGION` / `BEDROCK_REGION`; the endpoint honours
 *   `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`).
 * - `openai`: `OPENAI_BASE_URL` + `OPENAI_MODEL` (+ `OPENAI_API_KEY`, optional for local servers).
 */
export type ModelConfig =
  | { provider: 'bedrock'; modelId: string; region: string | undefined; timeoutMs: number }
  | {
      provider: 'openai';
      baseUrl: string;
      model: string;
      apiKey: string | undefined;
      /** AWS: Secrets Manager secret holding the key (read once per process). */
      apiKeyArn?: string | undefined;
      timeoutMs: number;
    };

export type ModelProvider = ModelConfig['provider'];

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelConfigError';
  }
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * The model configuration for `provider`, or — without one — the first provider the environment
 * configures (Bedrock first), or undefined when none is configured.
 * Throws ModelConfigError when the chosen provider lacks a required variable.
 */
export function loadModelConfig(
  env: NodeJS.ProcessEnv = process.env,
  provider?: ModelProvider,
): ModelConfig | undefined {
  const timeoutMs = positiveInt(env.MODEL_TIMEOUT_MS) ?? DEFAULT_TIMEOUT_MS;
  const chosen = provider ?? (env.BEDROCK_MODEL_ID ? 'bedrock' : env.OPENAI_BASE_URL ? 'openai' : undefined);
  if (chosen === 'bedrock') {
    const modelId = env.BEDROCK_MODEL_ID?.trim();
    if (!modelId) throw new ModelConfigError('BEDROCK_MODEL_ID is required for the bedrock provider');
    return {
      provider: 'bedrock',
      modelId,
      region: env.BEDROCK_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
      timeoutMs,
    };
  }
  if (chosen === 'openai') {
    const baseUrl = env.OPENAI_BASE_URL?.trim();
    const model = env.OPENAI_MODEL?.trim();
    if (!baseUrl || !model) {
      throw new ModelConfigError('OPENAI_BASE_URL and OPENAI_MODEL are required for the openai provider');
    }
    if (!/^https?:\/\//.test(baseUrl)) throw new ModelConfigError('OPENAI_BASE_URL must be an http(s) URL');
    return {
      provider: 'openai',
      baseUrl,
      model,
      apiKey: env.OPENAI_API_KEY || undefined,
      apiKeyArn: env.OPENAI_API_KEY_ARN?.trim() || undefined,
      timeoutMs,
    };
  }
  return undefined;
}

export function createModelClient(config: ModelConfig): ModelClient {
  if (config.provider === 'bedrock') {
    return new BedrockModelClient({
      modelId: config.modelId,
      ...(config.region ? { region: config.region } : {}),
      timeoutMs: config.timeoutMs,
    });
  }
  return new OpenAIModelClient({
    baseUrl: config.baseUrl,
    model: config.model,
    ...(config.apiKey
      ? { apiKey: config.apiKey }
      : config.apiKeyArn
        ? { apiKey: secretReader(config.apiKeyArn) }
        : {}),
    timeoutMs: config.timeoutMs,
  });
}

/** Reads a Secrets Manager secret once (trimmed; blank = none); a failed read is retried next time. */
export function secretReader(
  arn: string,
  client: Pick<SecretsManagerClient, 'send'> = new SecretsManagerClient({}),
): () => Promise<string | undefined> {
  let cached: Promise<string | undefined> | undefined;
  return () => {
    cached ??= client
      .send(new GetSecretValueCommand({ SecretId: arn }))
      .then((out) => out.SecretString?.trim() || undefined)
      .catch((err: unknown) => {
        cached = undefined;
        throw err;
      });
    return cached;
  };
}

/** One line for status output; never contains a key. */
export function describeModelConfig(config: ModelConfig | undefined): string {
  if (!config) return 'offline (no model configured)';
  if (config.provider === 'bedrock') {
    return `bedrock ${config.modelId} in ${config.region ?? '(default region)'}`;
  }
  return `openai-compatible ${config.model} at ${safeUrl(config.baseUrl)} (API key ${config.apiKey ? 'set' : config.apiKeyArn ? 'in Secrets Manager' : 'not set'})`;
}

/** The base URL without credentials or query (someone may put a key in it). */
function safeUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function positiveInt(raw: string | undefined): number | undefined {
  const n = Number(raw);
  return raw && Number.isInteger(n) && n > 0 ? n : undefined;
}
