/**
 * The model port: one chat turn with tool use, provider-neutral. Implementations live beside this
 * file (Amazon Bedrock Converse; any OpenAI-compatible chat-completions endpoint). Both the intake
 * assistant and the model-driven coder use it; tests run them against a local scripted model
 * server that speaks the real wire formats.
 */
export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the tool's input (an object schema). */
  inputSchema: Record<string, unknown>;
}

export type ModelMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; name: string; content: string; isError?: boolean };

export interface ToolCall {
  id: string;
  name: string;
  /** Parsed arguments; `undefined` when the model sent arguments that are not valid JSON. */
  input: unknown;
  /** The raw argument text as the model sent it (for logs and error messages). */
  rawInput: string;
}

export interface ModelRequest {
  system: string;
  messages: ModelMessage[];
  tools?: ToolSpec[];
  /** Force a particular tool (structured output), or let the model choose. */
  toolChoice?: { name: string } | 'auto';
  maxTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
  /**
   * Ask the provider to cache the stable prefix of the request (the system prompt and the tool
   * specs). Bedrock Converse: `cachePoint` blocks after the system prompt and after the tools.
   * OpenAI-compatible servers cache automatically and ignore it.
   */
  promptCache?: boolean;
}

/**
 * Token usage of one call as the provider bills it, normalised: `inputTokens` counts only the
 * input billed at the full rate (Bedrock `inputTokens`; OpenAI `prompt_tokens` minus
 * `prompt_tokens_details.cached_tokens`), `cachedInputTokens` the input read from the prompt
 * cache (Bedrock `cacheReadInputTokens`; OpenAI `cached_tokens`), `cacheWriteInputTokens` the
 * input written to the cache (Bedrock `cacheWriteInputTokens`; OpenAI reports none).
 */
export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  cacheWriteInputTokens?: number;
}

export interface ModelResponse {
  text: string;
  toolCalls: ToolCall[];
  stopReason: 'end_turn' | 'tool_use' | 'max_tokens' | 'other';
  usage: ModelUsage;
}

export interface ModelClient {
  /** `bedrock:<model id>` or `openai:<model>`; never contains a key. */
  readonly id: string;
  converse(request: ModelRequest): Promise<ModelResponse>;
}

/** A model call failed in a way the caller should treat as "no usable answer". */
export class ModelError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'ModelError';
  }
}
