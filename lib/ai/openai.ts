import {
  type ModelClient,
  ModelError,
  type ModelMessage,
  type ModelRequest,
  type ModelResponse,
  type ToolCall,
} from './model.ts';

export interface OpenAIModelOptions {
  /** e.g. `https://api.openai.com/v1`; `/chat/completions` is appended. */
  baseUrl: string;
  model: string;
  /**
   * Sent as `Authorization: Bearer …` when set (local servers often need none). A function is
   * called per request (e.g. a cached Secrets Manager read on AWS).
   */
  apiKey?: string | (() => Promise<string | undefined>);
  /** Per-attempt timeout in milliseconds. Default 60 000. */
  timeoutMs?: number;
  /** Retries after the first attempt on 429, 5xx, timeouts and network errors. Default 2. */
  maxRetries?: number;
  /** First backoff delay in ms, doubled per retry (with jitter); `Retry-After` wins. Default 500. */
  backoffMs?: number;
  fetch?: typeof fetch;
}

interface ChatToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

interface ChatCompletion {
  choices?: {
    message?: { content?: string | null; tool_calls?: ChatToolCall[] | null };
    finish_reason?: string | null;
  }[];
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number | null } | null;
  };
}

/** The model port over any OpenAI-compatible `POST /chat/completions` endpoint. */
export class OpenAIModelClient implements ModelClient {
  readonly id: string;
  private readonly url: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: OpenAIModelOptions) {
    this.id = `openai:${options.model}`;
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.fetchImpl = options.fetch ?? fetch;
  }

  async converse(request: ModelRequest): Promise<ModelResponse> {
    const body = JSON.stringify(toChatRequest(this.options.model, request));
    const retries = this.options.maxRetries ?? 2;
    let last: ModelError | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0)
        await sleep(last instanceof RetryAfter ? last.delayMs : this.backoff(attempt), request.signal);
      try {
        return await this.once(body, request.signal);
      } catch (err) {
        last = err instanceof ModelError ? err : new ModelError(`openai: ${String(err)}`, false);
        if (!last.retryable || request.signal?.aborted) throw last;
      }
    }
    throw last ?? new ModelError('openai: no attempt made', false);
  }

  private backoff(attempt: number): number {
    const base = (this.options.backoffMs ?? 500) * 2 ** (attempt - 1);
    return Math.min(10_000, base + Math.random() * base * 0.2);
  }

  private async once(body: string, outer: AbortSignal | undefined): Promise<ModelResponse> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 60_000);
    const signal = outer ? AbortSignal.any([outer, timeout]) : timeout;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    const apiKey =
      typeof this.options.apiKey === 'function' ? await this.options.apiKey() : this.options.apiKey;
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(this.url, { method: 'POST', headers, body, signal });
      text = await res.text();
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (outer?.aborted) throw new ModelError('openai: aborted', false);
      // Timeouts and network errors are worth another attempt.
      throw new ModelError(
        `openai: ${name === 'TimeoutError' ? 'timed out' : `request failed (${name ?? 'error'})`}`,
        true,
      );
    }
    if (!res.ok) {
      const message = `openai: HTTP ${res.status}: ${errorMessage(text)}`;
      const retryable = res.status === 429 || res.status === 408 || res.status >= 500;
      const retryAfter = Number(res.headers.get('retry-after'));
      if (retryable && Number.isFinite(retryAfter) && retryAfter > 0) {
        throw new RetryAfter(message, Math.min(retryAfter * 1000, 20_000));
      }
      throw new ModelError(message, retryable);
    }
    let parsed: ChatCompletion;
    try {
      parsed = JSON.parse(text) as ChatCompletion;
    } catch {
      throw new ModelError('openai: response is not JSON', true);
    }
    return fromChatCompletion(parsed);
  }
}

class RetryAfter extends ModelError {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message, true);
  }
}

export function toChatRequest(model: string, request: ModelRequest): Record<string, unknown> {
  const messages: unknown[] = [];
  if (request.system) messages.push({ role: 'system', content: request.system });
  for (const m of request.messages) messages.push(toChatMessage(m));
  const out: Record<string, unknown> = { model, messages, max_tokens: request.maxTokens ?? 1024 };
  if (request.temperature !== undefined) out.temperature = request.temperature;
  if (request.tools?.length) {
    out.tools = request.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, description: t.description, parameters: t.inputSchema },
    }));
    if (request.toolChoice === 'auto') out.tool_choice = 'auto';
    else if (request.toolChoice)
      out.tool_choice = { type: 'function', function: { name: request.toolChoice.name } };
  }
  return out;
}

function toChatMessage(m: ModelMessage): Record<string, unknown> {
  if (m.role === 'user') return { role: 'user', content: m.content };
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
  const msg: Record<string, unknown> = { role: 'assistant', content: m.content || null };
  if (m.toolCalls?.length) {
    msg.tool_calls = m.toolCalls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.input === undefined ? c.rawInput : JSON.stringify(c.input) },
    }));
  }
  return msg;
}

export function fromChatCompletion(body: ChatCompletion): ModelResponse {
  const choice = body.choices?.[0];
  if (!choice) throw new ModelError('openai: response has no choices', true);
  const toolCalls: ToolCall[] = (choice.message?.tool_calls ?? []).map((c, i) => {
    const rawInput = c.function?.arguments ?? '';
    return { id: c.id ?? `call_${i}`, name: c.function?.name ?? '', input: parseJson(rawInput), rawInput };
  });
  // `prompt_tokens` includes the cached part (servers cache the prompt prefix automatically).
  const prompt = count(body.usage?.prompt_tokens);
  const cached = Math.min(prompt, count(body.usage?.prompt_tokens_details?.cached_tokens));
  return {
    text: typeof choice.message?.content === 'string' ? choice.message.content : '',
    toolCalls,
    stopReason: mapFinishReason(choice.finish_reason, toolCalls.length > 0),
    usage: {
      inputTokens: prompt - cached,
      outputTokens: count(body.usage?.completion_tokens),
      cachedInputTokens: cached,
      cacheWriteInputTokens: 0,
    },
  };
}

const count = (n: number | null | undefined): number =>
  typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;

function mapFinishReason(reason: string | null | undefined, hasTools: boolean): ModelResponse['stopReason'] {
  if (reason === 'tool_calls' || reason === 'function_call') return 'tool_use';
  if (reason === 'length') return 'max_tokens';
  if (reason === 'stop') return hasTools ? 'tool_use' : 'end_turn';
  return 'other';
}

function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    const msg = typeof body.error === 'string' ? body.error : (body.error?.message ?? body.message);
    if (msg) return msg.slice(0, 300);
  } catch {
    // not JSON
  }
  return text.slice(0, 300) || '(empty body)';
}

/** Empty arguments (a tool without parameters) read as `{}`; anything unparsable as undefined. */
function parseJson(raw: string): unknown {
  if (!raw.trim()) return {};
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ModelError('openai: aborted', false));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new ModelError('openai: aborted', false));
      },
      { once: true },
    );
  });
}
