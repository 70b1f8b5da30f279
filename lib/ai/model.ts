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
}

export interface ModelResponse {
  text: string;
  toolCalls: ToolCall[];
  stopReason: 'end_turn' | 'tool_use' | 'max_tokens' | 'other';
  usage: { inputTokens: number; outputTokens: number };
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
