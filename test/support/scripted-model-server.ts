/**
 * A local model server speaking two real wire formats, replying from a queue of scripted turns:
 *
 * - Amazon Bedrock Converse: `POST /model/{modelId}/converse` (REST-JSON, as the AWS SDK v3
 *   `ConverseCommand` sends it; point the SDK at it with `endpoint` or
 *   `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`). SigV4 is not checked.
 * - OpenAI-compatible chat completions: `POST /v1/chat/completions` (base URL `${url}/v1`).
 *
 * One port speaks HTTP/1.1 and cleartext HTTP/2 (the Bedrock runtime client sends over HTTP/2):
 * the connection preface decides which server a socket goes to.
 *
 * Each request takes the next turn from the queue (whatever its format), so one script can drive
 * either adapter. Every request is recorded for assertions. With an empty queue the server
 * answers HTTP 500 (`no scripted turn left`), which a well-behaved client treats as a model error.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  createServer as createH2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net';
import { BedrockModelClient } from '../../lib/ai/bedrock.ts';
import type { ModelClient } from '../../lib/ai/model.ts';
import { OpenAIModelClient } from '../../lib/ai/openai.ts';

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;
const H2_PREFACE = 'PRI * HTTP/2.0';

export interface ScriptedToolCall {
  /** Defaults to `call_<n>`. */
  id?: string;
  name: string;
  /** The tool input (serialised as JSON), unless `rawArguments` is given. */
  input?: unknown;
  /**
   * Send these exact argument characters instead (e.g. malformed JSON). OpenAI: the `arguments`
   * string as is. Bedrock: the tool input becomes this string (a JSON string document), which is
   * as close as the Bedrock wire format can get to broken arguments.
   */
  rawArguments?: string;
}

export interface ScriptedTurn {
  text?: string;
  toolCalls?: ScriptedToolCall[];
  /** Defaults to `tool_use` when there are tool calls, `end_turn` otherwise. */
  stopReason?: 'end_turn' | 'tool_use' | 'max_tokens';
  /**
   * `inputTokens` is the uncached input. Bedrock sends the cache figures as
   * `cacheReadInputTokens`/`cacheWriteInputTokens`; OpenAI as `prompt_tokens` (uncached + cached)
   * with `prompt_tokens_details.cached_tokens`.
   */
  usage?: {
    inputTokens: number;
    outputTokens: number;
    cachedInputTokens?: number;
    cacheWriteInputTokens?: number;
  };
  /** Answer with this HTTP error instead of a turn (e.g. 429, 500). */
  error?: { status: number; message?: string; type?: string };
  /** Wait this long before answering (client timeouts). */
  delayMs?: number;
  /** Send this body verbatim with status 200 (e.g. an empty or non-JSON body). */
  rawBody?: string;
}

export interface RecordedRequest {
  format: 'bedrock' | 'openai' | 'unknown';
  method: string;
  path: string;
  /** Bedrock: the model id from the path (decoded). OpenAI: `body.model`. */
  model?: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface ScriptedModelServer {
  /** `http://127.0.0.1:<port>`. OpenAI base URL: `${url}/v1`. Bedrock endpoint: `url`. */
  url: string;
  requests: RecordedRequest[];
  /** Turns not yet used. */
  pending(): number;
  /** Forget unused turns and recorded requests. */
  clear(): void;
  push(...turns: ScriptedTurn[]): void;
  close(): Promise<void>;
}

export async function scriptedModelServer(
  options: { turns?: ScriptedTurn[] } = {},
): Promise<ScriptedModelServer> {
  const queue: ScriptedTurn[] = [...(options.turns ?? [])];
  const requests: RecordedRequest[] = [];
  let callCounter = 0;

  const onRequest = (req: Req, res: Res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { message: String(err) });
    });
  };
  const http1 = createServer(onRequest);
  const http2 = createH2Server(onRequest);
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      if (first.toString('latin1').startsWith(H2_PREFACE)) {
        // node:http2 reads the socket's native handle, so an HTTP/2 connection is piped to it.
        const upstream = connect(h2Port, '127.0.0.1');
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        upstream.on('error', () => socket.destroy());
        socket.on('error', () => upstream.destroy());
        upstream.write(first);
        socket.pipe(upstream).pipe(socket);
        return;
      }
      socket.pause();
      socket.unshift(first);
      http1.emit('connection', socket);
      socket.resume();
    });
  });

  async function handle(req: Req, res: Res): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    let body: unknown = raw;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      // keep the raw text
    }
    const bedrock = /^\/model\/([^/]+)\/converse$/.exec(path);
    const openai = path === '/v1/chat/completions' || path === '/chat/completions';
    const format = bedrock ? 'bedrock' : openai ? 'openai' : 'unknown';
    const model = bedrock
      ? decodeURIComponent(bedrock[1] ?? '')
      : typeof body === 'object' && body !== null && 'model' in body
        ? String((body as { model: unknown }).model)
        : undefined;
    requests.push({ format, method: req.method ?? '', path, model, headers: { ...req.headers }, body });

    if (req.method !== 'POST' || format === 'unknown') {
      send(res, 404, { message: `no route ${req.method} ${path}` });
      return;
    }
    const turn = queue.shift();
    if (!turn) {
      sendError(res, format, 500, 'scripted model server: no scripted turn left', 'InternalServerException');
      return;
    }
    if (turn.delayMs) await new Promise((r) => setTimeout(r, turn.delayMs));
    if (res.destroyed) return;
    if (turn.error) {
      sendError(res, format, turn.error.status, turn.error.message ?? 'scripted error', turn.error.type);
      return;
    }
    if (turn.rawBody !== undefined) {
      (res as ServerResponse).writeHead(200, { 'content-type': 'application/json' });
      res.end(turn.rawBody);
      return;
    }
    const calls = (turn.toolCalls ?? []).map((c) => ({ ...c, id: c.id ?? `call_${++callCounter}` }));
    const stopReason = turn.stopReason ?? (calls.length ? 'tool_use' : 'end_turn');
    const {
      cachedInputTokens: cached = 0,
      cacheWriteInputTokens: written = 0,
      ...usage
    } = turn.usage ?? {
      inputTokens: 10,
      outputTokens: 5,
    };
    if (format === 'bedrock') {
      const content: unknown[] = [];
      if (turn.text !== undefined) content.push({ text: turn.text });
      for (const c of calls) {
        content.push({
          toolUse: {
            toolUseId: c.id,
            name: c.name,
            input: c.rawArguments !== undefined ? c.rawArguments : c.input,
          },
        });
      }
      send(res, 200, {
        output: { message: { role: 'assistant', content } },
        stopReason,
        usage: {
          ...usage,
          ...(cached || written ? { cacheReadInputTokens: cached, cacheWriteInputTokens: written } : {}),
          totalTokens: usage.inputTokens + usage.outputTokens + cached + written,
        },
        metrics: { latencyMs: 1 },
      });
      return;
    }
    const finish = { end_turn: 'stop', tool_use: 'tool_calls', max_tokens: 'length' }[stopReason];
    send(res, 200, {
      id: `chatcmpl-${requests.length}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: model ?? 'scripted',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: turn.text ?? null,
            ...(calls.length
              ? {
                  tool_calls: calls.map((c) => ({
                    id: c.id,
                    type: 'function',
                    function: { name: c.name, arguments: c.rawArguments ?? JSON.stringify(c.input ?? {}) },
                  })),
                }
              : {}),
          },
          finish_reason: finish,
        },
      ],
      usage: {
        prompt_tokens: usage.inputTokens + cached,
        completion_tokens: usage.outputTokens,
        total_tokens: usage.inputTokens + cached + usage.outputTokens,
        ...(cached ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
      },
    });
  }

  await new Promise<void>((resolve) => http2.listen(0, '127.0.0.1', resolve));
  const h2Port = (http2.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    pending: () => queue.length,
    clear: () => {
      queue.length = 0;
      requests.length = 0;
    },
    push: (...turns) => {
      queue.push(...turns);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        http2.close();
        http1.close();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: Req): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  (res as ServerResponse).writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function sendError(
  res: Res,
  format: 'bedrock' | 'openai',
  status: number,
  message: string,
  type?: string,
): void {
  if (format === 'bedrock') {
    const errorType =
      type ??
      (status === 429
        ? 'ThrottlingException'
        : status >= 500
          ? 'InternalServerException'
          : status === 403
            ? 'AccessDeniedException'
            : 'ValidationException');
    send(res, status, { message }, { 'x-amzn-errortype': errorType });
    return;
  }
  send(res, status, { error: { message, type: type ?? 'server_error', code: null } });
}

/**
 * Both wire formats' clients pointed at a scripted server (`url` read when a client is made, so
 * the list can be declared before the server starts): `[name, make]` for `describe.each`.
 */
export function wireClients(url: () => string): [string, () => ModelClient][] {
  return [
    [
      'bedrock',
      () =>
        new BedrockModelClient({
          modelId: 'anthropic.claude-test',
          region: 'eu-west-1',
          endpoint: url(),
          maxAttempts: 1,
          clientConfig: { credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
        }),
    ],
    ['openai', () => new OpenAIModelClient({ baseUrl: `${url()}/v1`, model: 'gpt-test', maxRetries: 0 })],
  ];
}
