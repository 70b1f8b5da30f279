import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BedrockModelClient } from '../../lib/ai/bedrock.ts';
import {
  createModelClient,
  describeModelConfig,
  loadModelConfig,
  ModelConfigError,
} from '../../lib/ai/config.ts';
import { type ModelClient, ModelError, type ModelRequest } from '../../lib/ai/model.ts';
import { OpenAIModelClient } from '../../lib/ai/openai.ts';
import { type ScriptedModelServer, scriptedModelServer } from '../support/scripted-model-server.ts';

let server: ScriptedModelServer;
beforeAll(async () => {
  server = await scriptedModelServer();
});
afterAll(() => server.close());
afterEach(() => {
  const left = server.pending();
  server.clear();
  expect(left).toBe(0);
});

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const bedrock = (extra: { maxAttempts?: number; timeoutMs?: number } = {}) =>
  new BedrockModelClient({
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
    region: 'eu-west-1',
    endpoint: server.url,
    maxAttempts: extra.maxAttempts ?? 1,
    ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}),
    clientConfig: { credentials },
  });
const openai = (extra: { maxRetries?: number; timeoutMs?: number } = {}) =>
  new OpenAIModelClient({
    baseUrl: `${server.url}/v1`,
    model: 'gpt-test',
    apiKey: 'sk-secret-123',
    maxRetries: extra.maxRetries ?? 0,
    backoffMs: 5,
    ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}),
  });

const request: ModelRequest = {
  system: 'You scope tools.',
  messages: [
    { role: 'user', content: 'A tip calculator' },
    {
      role: 'assistant',
      content: '',
      toolCalls: [{ id: 'q1', name: 'ask', input: { question: 'Web or program?' }, rawInput: '' }],
    },
    { role: 'tool', toolCallId: 'q1', name: 'ask', content: 'Web please' },
  ],
  tools: [
    {
      name: 'propose',
      description: 'Propose a spec',
      inputSchema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] },
    },
  ],
  toolChoice: { name: 'propose' },
  maxTokens: 300,
  temperature: 0,
};

describe.each([
  ['bedrock', () => bedrock()],
  ['openai', () => openai()],
] as [string, () => ModelClient][])('%s adapter over the scripted server', (format, make) => {
  it('maps a text answer with usage', async () => {
    server.push({ text: 'Hello there', usage: { inputTokens: 12, outputTokens: 3 } });
    const res = await make().converse({ system: 's', messages: [{ role: 'user', content: 'hi' }] });
    expect(res).toEqual({
      text: 'Hello there',
      toolCalls: [],
      stopReason: 'end_turn',
      usage: { inputTokens: 12, outputTokens: 3, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    });
    expect(server.requests[0]?.format).toBe(format);
  });

  it('counts cached input apart from the uncached input', async () => {
    server.push({
      text: 'ok',
      usage: { inputTokens: 300, outputTokens: 40, cachedInputTokens: 9000, cacheWriteInputTokens: 0 },
    });
    const res = await make().converse({ system: 's', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.usage).toEqual({
      inputTokens: 300,
      outputTokens: 40,
      cachedInputTokens: 9000,
      cacheWriteInputTokens: 0,
    });
  });

  it('maps tool calls, including malformed JSON arguments', async () => {
    server.push({
      toolCalls: [
        { id: 't1', name: 'propose', input: { title: 'Tips' } },
        { id: 't2', name: 'propose', rawArguments: '{"title": "Tips",' },
      ],
    });
    const res = await make().converse(request);
    expect(res.stopReason).toBe('tool_use');
    expect(res.toolCalls[0]).toMatchObject({ id: 't1', name: 'propose', input: { title: 'Tips' } });
    expect(res.toolCalls[1]).toMatchObject({
      id: 't2',
      name: 'propose',
      input: undefined,
      rawInput: '{"title": "Tips",',
    });
  });

  it('with promptCache sends cache points after the system prompt and the tools (Bedrock only)', async () => {
    server.push({ text: 'ok' }, { text: 'ok' });
    await make().converse({ ...request, promptCache: true });
    await make().converse(request);
    const [cached, plain] = server.requests.map((r) => r.body as Record<string, unknown>);
    if (format === 'bedrock') {
      expect(cached!.system).toEqual([{ text: request.system }, { cachePoint: { type: 'default' } }]);
      const tools = (cached!.toolConfig as { tools: Record<string, unknown>[] }).tools;
      expect(tools.at(-1)).toEqual({ cachePoint: { type: 'default' } });
      expect(tools.slice(0, -1).every((t) => 'toolSpec' in t)).toBe(true);
      expect(JSON.stringify(plain)).not.toContain('cachePoint');
    } else {
      // OpenAI-compatible servers cache automatically: the request is the same either way.
      expect(cached).toEqual(plain);
    }
  });

  it('maps max_tokens', async () => {
    server.push({ text: 'cut', stopReason: 'max_tokens' });
    expect((await make().converse(request)).stopReason).toBe('max_tokens');
  });

  it('turns an HTTP 500 into a retryable ModelError', async () => {
    server.push({ error: { status: 500, message: 'boom' } });
    const err = await make()
      .converse(request)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).retryable).toBe(true);
  });

  it('turns a 400 into a non-retryable ModelError', async () => {
    server.push({ error: { status: 400, message: 'bad request' } });
    const err = await make()
      .converse(request)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).retryable).toBe(false);
  });

  it('rejects an unparsable body with a ModelError', async () => {
    server.push({ rawBody: '<html>gateway</html>' });
    await expect(make().converse(request)).rejects.toBeInstanceOf(ModelError);
  });
});

describe('bedrock wire format', () => {
  it('sends the Converse REST-JSON request: system, alternating messages, tool use/result, toolConfig', async () => {
    server.push({ text: 'ok' });
    await bedrock().converse(request);
    const req = server.requests[0];
    expect(req?.path).toBe(`/model/${encodeURIComponent('anthropic.claude-3-haiku-20240307-v1:0')}/converse`);
    expect(req?.model).toBe('anthropic.claude-3-haiku-20240307-v1:0');
    expect(String(req?.headers.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=test\/\d+\/eu-west-1\/bedrock\//,
    );
    expect(req?.body).toEqual({
      system: [{ text: 'You scope tools.' }],
      messages: [
        { role: 'user', content: [{ text: 'A tip calculator' }] },
        {
          role: 'assistant',
          content: [{ toolUse: { toolUseId: 'q1', name: 'ask', input: { question: 'Web or program?' } } }],
        },
        { role: 'user', content: [{ toolResult: { toolUseId: 'q1', content: [{ text: 'Web please' }] } }] },
      ],
      inferenceConfig: { maxTokens: 300, temperature: 0 },
      toolConfig: {
        tools: [
          {
            toolSpec: {
              name: 'propose',
              description: 'Propose a spec',
              inputSchema: { json: request.tools?.[0]?.inputSchema },
            },
          },
        ],
        toolChoice: { tool: { name: 'propose' } },
      },
    });
  });

  it('retries a throttled call through the SDK retry strategy', async () => {
    server.push({ error: { status: 429, message: 'slow down' } }, { text: 'fine' });
    const res = await bedrock({ maxAttempts: 2 }).converse({
      system: 's',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(res.text).toBe('fine');
    expect(server.requests).toHaveLength(2);
  });

  it('honours AWS_ENDPOINT_URL_BEDROCK_RUNTIME', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
    process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = server.url;
    try {
      server.push({ text: 'via env' });
      const client = new BedrockModelClient({
        modelId: 'm1',
        region: 'us-east-1',
        maxAttempts: 1,
        clientConfig: { credentials },
      });
      expect((await client.converse({ system: '', messages: [{ role: 'user', content: 'x' }] })).text).toBe(
        'via env',
      );
      expect(server.requests[0]?.path).toBe('/model/m1/converse');
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
      else process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = saved;
    }
  });

  it('times out a slow model as a retryable error', async () => {
    server.push({ text: 'late', delayMs: 400 });
    const err = await bedrock({ timeoutMs: 100 })
      .converse({ system: '', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).retryable).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
  });
});

describe('openai wire format', () => {
  it('sends chat completions with bearer key, tool_calls, tool results, tools and tool_choice', async () => {
    server.push({ text: 'ok' });
    await openai().converse(request);
    const req = server.requests[0];
    expect(req?.path).toBe('/v1/chat/completions');
    expect(req?.headers.authorization).toBe('Bearer sk-secret-123');
    expect(req?.body).toEqual({
      model: 'gpt-test',
      max_tokens: 300,
      temperature: 0,
      messages: [
        { role: 'system', content: 'You scope tools.' },
        { role: 'user', content: 'A tip calculator' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'q1',
              type: 'function',
              function: { name: 'ask', arguments: '{"question":"Web or program?"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'q1', content: 'Web please' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'propose',
            description: 'Propose a spec',
            parameters: request.tools?.[0]?.inputSchema,
          },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'propose' } },
    });
  });

  it('retries 429 and 5xx with backoff, then succeeds', async () => {
    server.push({ error: { status: 429 } }, { error: { status: 503 } }, { text: 'third time' });
    const res = await openai({ maxRetries: 2 }).converse({
      system: '',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(res.text).toBe('third time');
    expect(server.requests).toHaveLength(3);
  });

  it('gives up after the retries with the last error, and never retries a 401', async () => {
    server.push({ error: { status: 500 } }, { error: { status: 500 } });
    await expect(
      openai({ maxRetries: 1 }).converse({ system: '', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toThrow(/HTTP 500/);
    server.requests.length = 0;
    server.push({ error: { status: 401, message: 'bad key' } });
    await expect(
      openai({ maxRetries: 3 }).converse({ system: '', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toThrow(/HTTP 401: bad key/);
    expect(server.requests).toHaveLength(1);
  });

  it('times out per attempt', async () => {
    server.push({ text: 'late', delayMs: 400 });
    await expect(
      openai({ timeoutMs: 100 }).converse({ system: '', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toThrow(/timed out/);
    await new Promise((r) => setTimeout(r, 400));
  });

  it('reports an empty choices list as a model error', async () => {
    server.push({ rawBody: '{"choices":[]}' });
    await expect(
      openai().converse({ system: '', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toThrow(/no choices/);
  });
});

describe('model config', () => {
  it('selects bedrock or openai from the environment and describes it without secrets', () => {
    expect(loadModelConfig({})).toBeUndefined();
    const b = loadModelConfig({ BEDROCK_MODEL_ID: 'anthropic.x', AWS_REGION: 'eu-north-1' });
    expect(b).toMatchObject({ provider: 'bedrock', modelId: 'anthropic.x', region: 'eu-north-1' });
    expect(createModelClient(b!).id).toBe('bedrock:anthropic.x');
    const o = loadModelConfig(
      {
        OPENAI_BASE_URL: 'https://user:pw@llm.example/v1?key=zzz',
        OPENAI_MODEL: 'm',
        OPENAI_API_KEY: 'sk-very-secret',
      },
      'openai',
    );
    expect(createModelClient(o!).id).toBe('openai:m');
    const text = describeModelConfig(o);
    expect(text).toContain('llm.example/v1');
    expect(text).toContain('API key set');
    expect(text).not.toMatch(/sk-very-secret|pw|zzz/);
    expect(describeModelConfig(undefined)).toMatch(/offline/);
  });

  it('refuses an incomplete provider configuration', () => {
    expect(() => loadModelConfig({}, 'bedrock')).toThrow(ModelConfigError);
    expect(() => loadModelConfig({ OPENAI_BASE_URL: 'http://x' }, 'openai')).toThrow(ModelConfigError);
    expect(() => loadModelConfig({ OPENAI_BASE_URL: 'ftp://x', OPENAI_MODEL: 'm' }, 'openai')).toThrow(
      ModelConfigError,
    );
  });
});
