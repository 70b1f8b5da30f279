import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  type ContentBlock,
  ConverseCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
  type Message,
  type Tool,
  type ToolChoice,
  type ToolUseBlock,
} from '@aws-sdk/client-bedrock-runtime';
import {
  type ModelClient,
  ModelError,
  type ModelMessage,
  type ModelRequest,
  type ModelResponse,
  type ToolCall,
} from './model.ts';

/** The SDK's JSON document type (tool inputs and input schemas). */
type DocumentType = NonNullable<ToolUseBlock['input']>;

export interface BedrockModelOptions {
  modelId: string;
  /** Defaults to the SDK's region resolution (`AWS_REGION`, profile, …). */
  region?: string;
  /** Defaults to the SDK's resolution, which honours `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`. */
  endpoint?: string;
  /** SDK attempts including the first (standard retry mode with backoff on 429/5xx). Default 3. */
  maxAttempts?: number;
  /** Per-request timeout in milliseconds. Default 60 000. */
  timeoutMs?: number;
  /** Extra SDK client configuration (credentials in tests). */
  clientConfig?: BedrockRuntimeClientConfig;
  /** A ready client (tests, shared clients). */
  client?: BedrockRuntimeClient;
}

/** The model port over the Amazon Bedrock Converse API (tool use as structured output). */
export class BedrockModelClient implements ModelClient {
  readonly id: string;
  private readonly client: BedrockRuntimeClient;
  private readonly timeoutMs: number;

  constructor(private readonly options: BedrockModelOptions) {
    this.id = `bedrock:${options.modelId}`;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.client =
      options.client ??
      new BedrockRuntimeClient({
        ...(options.region ? { region: options.region } : {}),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        maxAttempts: options.maxAttempts ?? 3,
        ...options.clientConfig,
      });
  }

  async converse(request: ModelRequest): Promise<ModelResponse> {
    const input = toConverseInput(this.options.modelId, request);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    let out: ConverseCommandOutput;
    try {
      out = await this.client.send(new ConverseCommand(input), { abortSignal: signal });
    } catch (err) {
      throw toModelError(err);
    }
    return fromConverseOutput(out);
  }
}

/** A Converse cache point: the prefix before it is cached (5 minutes, refreshed on every hit). */
const CACHE_POINT = { type: 'default' } as const;

export function toConverseInput(modelId: string, request: ModelRequest): ConverseCommandInput {
  const input: ConverseCommandInput = {
    modelId,
    system: request.system
      ? [{ text: request.system }, ...(request.promptCache ? [{ cachePoint: CACHE_POINT }] : [])]
      : undefined,
    messages: toBedrockMessages(request.messages),
    inferenceConfig: {
      maxTokens: request.maxTokens ?? 1024,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    },
  };
  if (request.tools?.length) {
    const tools: Tool[] = request.tools.map((t) => ({
      toolSpec: {
        name: t.name,
        description: t.description,
        inputSchema: { json: t.inputSchema as DocumentType },
      },
    }));
    if (request.promptCache) tools.push({ cachePoint: CACHE_POINT });
    let toolChoice: ToolChoice | undefined;
    if (request.toolChoice && request.toolChoice !== 'auto')
      toolChoice = { tool: { name: request.toolChoice.name } };
    else if (request.toolChoice === 'auto') toolChoice = { auto: {} };
    input.toolConfig = { tools, ...(toolChoice ? { toolChoice } : {}) };
  }
  return input;
}

/**
 * Bedrock wants alternating user/assistant turns; tool results travel in a user turn. Consecutive
 * messages of the same Bedrock role are merged into one turn.
 */
export function toBedrockMessages(messages: ModelMessage[]): Message[] {
  const out: Message[] = [];
  const pushBlocks = (role: 'user' | 'assistant', blocks: ContentBlock[]) => {
    if (!blocks.length) return;
    const last = out.at(-1);
    if (last && last.role === role) last.content = [...(last.content ?? []), ...blocks];
    else out.push({ role, content: blocks });
  };
  for (const m of messages) {
    if (m.role === 'user') pushBlocks('user', [{ text: m.content || ' ' }]);
    else if (m.role === 'assistant') {
      const blocks: ContentBlock[] = [];
      if (m.content) blocks.push({ text: m.content });
      for (const c of m.toolCalls ?? []) {
        blocks.push({
          toolUse: {
            toolUseId: c.id,
            name: c.name,
            input: (isObject(c.input) ? c.input : {}) as DocumentType,
          },
        });
      }
      pushBlocks('assistant', blocks.length ? blocks : [{ text: ' ' }]);
    } else {
      pushBlocks('user', [
        {
          toolResult: {
            toolUseId: m.toolCallId,
            content: [{ text: m.content || ' ' }],
            ...(m.isError ? { status: 'error' as const } : {}),
          },
        },
      ]);
    }
  }
  return out;
}

export function fromConverseOutput(out: {
  output?: { message?: Message } | undefined;
  stopReason?: string | undefined;
  usage?:
    | {
        inputTokens?: number | undefined;
        outputTokens?: number | undefined;
        cacheReadInputTokens?: number | undefined;
        cacheWriteInputTokens?: number | undefined;
      }
    | undefined;
}): ModelResponse {
  const content = out.output?.message?.content ?? [];
  const text: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of content) {
    if (typeof block.text === 'string') text.push(block.text);
    if (block.toolUse) {
      const raw: unknown = block.toolUse.input;
      let input: unknown = raw;
      let rawInput: string;
      if (typeof raw === 'string') {
        // Bedrock documents are JSON already; a string here is a model that sent its arguments as text.
        rawInput = raw;
        input = parseJson(raw);
      } else {
        rawInput = JSON.stringify(raw ?? null);
      }
      toolCalls.push({ id: block.toolUse.toolUseId ?? '', name: block.toolUse.name ?? '', input, rawInput });
    }
  }
  return {
    text: text.join(''),
    toolCalls,
    stopReason: mapStopReason(out.stopReason),
    // Converse reports cached input apart from `inputTokens` (the uncached part).
    usage: {
      inputTokens: out.usage?.inputTokens ?? 0,
      outputTokens: out.usage?.outputTokens ?? 0,
      cachedInputTokens: out.usage?.cacheReadInputTokens ?? 0,
      cacheWriteInputTokens: out.usage?.cacheWriteInputTokens ?? 0,
    },
  };
}

function mapStopReason(reason: string | undefined): ModelResponse['stopReason'] {
  if (reason === 'end_turn' || reason === 'stop_sequence') return 'end_turn';
  if (reason === 'tool_use') return 'tool_use';
  if (reason === 'max_tokens') return 'max_tokens';
  return 'other';
}

function toModelError(err: unknown): ModelError {
  if (err instanceof ModelError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const retryable =
    e.name === 'ThrottlingException' ||
    e.name === 'ServiceUnavailableException' ||
    e.name === 'InternalServerException' ||
    e.name === 'ModelNotReadyException' ||
    e.name === 'ModelTimeoutException' ||
    e.name === 'TimeoutError' ||
    e.name === 'AbortError' ||
    (status !== undefined && (status === 429 || status >= 500));
  return new ModelError(
    `bedrock: ${e.name ?? 'Error'}${status ? ` (${status})` : ''}: ${e.message ?? ''}`,
    retryable,
  );
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
