import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { log } from '../log.ts';
import { contentTypeFor } from '../verify/mime.ts';

/**
 * The local stand-in for API Gateway (HTTP API) + Lambda: matches a request against the route
 * table, builds a payload-format-2.0 event exactly as API Gateway would, calls the route's
 * handler module in process and writes its structured result back. Also serves `portal/`.
 */

/** What the gateway needs of a route (a subset of `RouteDef` in functions/api/routes.ts). */
export interface GatewayRoute {
  id: string;
  method: string;
  /** API Gateway route path with `{param}` (or a final `{param+}`) segments. */
  path: string;
  /** Handler module path relative to `root`; the module exports `handler`. */
  entry: string;
}

export type LambdaHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
  callback?: (err?: unknown, result?: unknown) => void,
) => unknown;

/** Loads a route's handler module; the default imports `<root>/<entry>`. */
export type ModuleLoader = (entry: string) => Promise<{ handler?: unknown }>;

export interface GatewayOptions {
  routes: readonly GatewayRoute[];
  /** Repository root: handler entries and `portal/` are resolved against it. */
  root: string;
  loadModule?: ModuleLoader;
  /** Static site served at `/` when it contains index.html; null disables. Default `<root>/portal`. */
  portalDir?: string | null;
  /** API Gateway's request payload limit (10 MB); larger bodies get 413 before the handler runs. */
  maxPayloadBytes?: number;
  /** API Gateway's integration timeout (30 s). */
  timeoutMs?: number;
  /** JSON access log lines on stdout (default true). */
  accessLog?: boolean;
  region?: string;
}

export interface Gateway {
  server: Server;
  /** Waits until in-flight handler invocations finish, at most `timeoutMs`. */
  drain(timeoutMs: number): Promise<void>;
}

export const API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
export const API_GATEWAY_TIMEOUT_MS = 30_000;
const ACCOUNT_ID = '000000000000';
const API_ID = 'local';

interface CompiledRoute {
  route: GatewayRoute;
  routeKey: string;
  segments: { literal?: string; param?: string; greedy?: boolean }[];
  staticCount: number;
}

export type RouteMatch =
  | { kind: 'match'; route: GatewayRoute; routeKey: string; pathParameters: Record<string, string> }
  | { kind: 'method_not_allowed'; allow: string[] }
  | { kind: 'bad_path' }
  | { kind: 'none' };

export function compileRoutes(routes: readonly GatewayRoute[]): CompiledRoute[] {
  const compiled = routes.map((route) => {
    const segments = route.path
      .split('/')
      .slice(1)
      .map((s) => {
        const m = /^\{([A-Za-z0-9_.-]+)(\+?)\}$/.exec(s);
        return m ? { param: m[1]!, greedy: m[2] === '+' } : { literal: s };
      });
    return {
      route,
      routeKey: `${route.method.toUpperCase()} ${route.path}`,
      segments,
      staticCount: segments.filter((s) => s.literal !== undefined).length,
    };
  });
  // API Gateway prefers the most specific route: more literal segments first, greedy last.
  return compiled.sort(
    (a, b) =>
      Number(a.segments.some((s) => s.greedy)) - Number(b.segments.some((s) => s.greedy)) ||
      b.staticCount - a.staticCount,
  );
}

/** Matches a raw (still percent-encoded) path; path parameter values are decoded. */
export function matchRoute(compiled: CompiledRoute[], method: string, rawPath: string): RouteMatch {
  const parts = rawPath.split('/').slice(1);
  let decoded: string[];
  try {
    decoded = parts.map((p) => decodeURIComponent(p));
  } catch {
    return { kind: 'bad_path' };
  }
  const allow = new Set<string>();
  for (const c of compiled) {
    const params = matchSegments(c.segments, decoded);
    if (!params) continue;
    const m = c.route.method.toUpperCase();
    if (m === method || m === 'ANY')
      return { kind: 'match', route: c.route, routeKey: c.routeKey, pathParameters: params };
    allow.add(m);
  }
  return allow.size > 0 ? { kind: 'method_not_allowed', allow: [...allow].sort() } : { kind: 'none' };
}

function matchSegments(
  segments: CompiledRoute['segments'],
  parts: string[],
): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s.greedy) {
      const rest = parts.slice(i);
      if (rest.length === 0 || rest.join('/') === '') return undefined;
      params[s.param!] = rest.join('/');
      return params;
    }
    const p = parts[i];
    if (p === undefined) return undefined;
    if (s.literal !== undefined) {
      if (s.literal !== p) return undefined;
    } else {
      if (p === '') return undefined;
      params[s.param!] = p;
    }
  }
  return parts.length === segments.length ? params : undefined;
}

const TEXT_TYPES = [
  /^text\//,
  /^application\/(json|xml|javascript|x-javascript|ecmascript|graphql|ld\+json)$/,
  /\+(json|xml)$/,
];

/** API Gateway passes text bodies as strings and everything else base64-encoded. */
export function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mime = contentType.split(';')[0]!.trim().toLowerCase();
  return TEXT_TYPES.some((re) => re.test(mime));
}

export interface EventInput {
  method: string;
  rawPath: string;
  rawQueryString: string;
  /** Header name (any case) → all values in order. */
  headers: Record<string, string[]>;
  body: Buffer;
  sourceIp: string;
  routeKey: string;
  pathParameters: Record<string, string>;
  requestId: string;
  now?: Date;
}

/** Builds an API Gateway HTTP API payload format 2.0 event. */
export function buildEvent(input: EventInput): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [rawName, values] of Object.entries(input.headers)) {
    const name = rawName.toLowerCase();
    if (name === 'cookie') {
      for (const v of values)
        for (const c of v.split(';')) {
          const t = c.trim();
          if (t) cookies.push(t);
        }
      continue;
    }
    headers[name] = headers[name] === undefined ? values.join(',') : `${headers[name]},${values.join(',')}`;
  }
  headers['x-forwarded-for'] = headers['x-forwarded-for']
    ? `${headers['x-forwarded-for']}, ${input.sourceIp}`
    : input.sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  const host = headers.host ?? 'localhost';
  const portMatch = /:(\d+)$/.exec(host);
  headers['x-forwarded-port'] ??= portMatch ? portMatch[1]! : '80';

  const now = input.now ?? new Date();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: input.routeKey,
    rawPath: input.rawPath,
    rawQueryString: input.rawQueryString,
    headers,
    requestContext: {
      accountId: ACCOUNT_ID,
      apiId: API_ID,
      domainName: host,
      domainPrefix: host.split('.')[0]!.split(':')[0]!,
      http: {
        method: input.method,
        path: input.rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: input.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: input.requestId,
      routeKey: input.routeKey,
      stage: '$default',
      time: formatClf(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (cookies.length > 0) event.cookies = cookies;
  const query = parseQuery(input.rawQueryString);
  if (query) event.queryStringParameters = query;
  if (Object.keys(input.pathParameters).length > 0) event.pathParameters = { ...input.pathParameters };
  if (input.body.length > 0) {
    if (isTextContentType(headers['content-type'])) {
      event.body = input.body.toString('utf8');
    } else {
      event.body = input.body.toString('base64');
      event.isBase64Encoded = true;
    }
  }
  return event;
}

/** Query parameters as API Gateway v2 gives them: decoded, repeated keys comma-joined. */
export function parseQuery(raw: string): Record<string, string> | undefined {
  if (!raw) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw)) out[k] = out[k] === undefined ? v : `${out[k]},${v}`;
  return Object.keys(out).length > 0 ? out : undefined;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, the format of requestContext.time. */
function formatClf(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(
    d.getUTCMinutes(),
  )}:${p(d.getUTCSeconds())} +0000`;
}

function makeContext(route: GatewayRoute, timeoutMs: number, region: string): Context {
  const deadline = Date.now() + timeoutMs;
  const functionName = `local-${route.id}`;
  const unsupported = () => {
    throw new Error('context.done/succeed/fail are not supported; return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]local`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const FALLBACK_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>BusDK Artifact Builder (local)</title></head>
<body><h1>BusDK Artifact Builder</h1>
<p>The local API is up. The portal is not built yet.</p>
<p>API description: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a></p>
</body></html>
`;

export function createGateway(opts: GatewayOptions): Gateway {
  const compiled = compileRoutes(opts.routes);
  const maxPayload = opts.maxPayloadBytes ?? API_GATEWAY_MAX_PAYLOAD_BYTES;
  const timeoutMs = opts.timeoutMs ?? API_GATEWAY_TIMEOUT_MS;
  const accessLog = opts.accessLog ?? true;
  const region = opts.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const portalDir = opts.portalDir === undefined ? join(opts.root, 'portal') : opts.portalDir;
  const loadModule: ModuleLoader =
    opts.loadModule ??
    ((entry) => import(pathToFileURL(join(opts.root, entry)).href) as Promise<{ handler?: unknown }>);
  const handlers = new Map<string, Promise<LambdaHandler>>();
  let inFlight = 0;
  const idleWaiters = new Set<() => void>();

  function getHandler(route: GatewayRoute): Promise<LambdaHandler> {
    let p = handlers.get(route.entry);
    if (!p) {
      p = loadModule(route.entry).then((mod) => {
        if (typeof mod?.handler !== 'function')
          throw new Error(`${route.entry} does not export a handler function`);
        return mod.handler as LambdaHandler;
      });
      // A module that failed to load (e.g. not written yet) is retried on the next request.
      p.catch(() => handlers.delete(route.entry));
      handlers.set(route.entry, p);
    }
    return p;
  }

  async function invoke(route: GatewayRoute, event: APIGatewayProxyEventV2): Promise<unknown> {
    const handler = await getHandler(route);
    const context = makeContext(route, timeoutMs, region);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new HttpProblem(503, 'service_unavailable', 'The handler did not respond in time.')),
        timeoutMs,
      );
    });
    const run = new Promise<unknown>((resolveRun, rejectRun) => {
      const callback = (err?: unknown, result?: unknown) => (err ? rejectRun(err) : resolveRun(result));
      try {
        const out = handler(event, context, callback);
        if (out && typeof (out as Promise<unknown>).then === 'function')
          (out as Promise<unknown>).then(resolveRun, rejectRun);
        else if (handler.length < 3) resolveRun(out);
      } catch (err) {
        rejectRun(err);
      }
    });
    try {
      return await Promise.race([run, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
  ): Promise<string | undefined> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const rawQueryString = q === -1 ? '' : url.slice(q + 1);

    const match = matchRoute(compiled, method, rawPath);
    if (match.kind === 'bad_path')
      throw new HttpProblem(400, 'bad_request', 'The request path is not valid.');
    if (match.kind === 'method_not_allowed')
      throw new HttpProblem(405, 'method_not_allowed', `Method ${method} is not allowed for ${rawPath}.`, {
        allow: match.allow.join(', '),
      });
    if (match.kind === 'none') {
      if ((method === 'GET' || method === 'HEAD') && !rawPath.startsWith('/api/')) {
        if (await serveStatic(rawPath, method, res)) return undefined;
      }
      throw new HttpProblem(404, 'not_found', 'No route matches this request.');
    }

    const body = await readBody(req, maxPayload);
    const event = buildEvent({
      method,
      rawPath,
      rawQueryString,
      headers: req.headersDistinct as Record<string, string[]>,
      body,
      sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      routeKey: match.routeKey,
      pathParameters: match.pathParameters,
      requestId,
    });
    let result: unknown;
    try {
      result = await invoke(match.route, event);
    } catch (err) {
      if (err instanceof HttpProblem) throw err;
      log.error('handler failed', { route: match.route.id, requestId, error: err });
      throw new HttpProblem(500, 'internal_error', 'Internal error');
    }
    try {
      writeResult(res, result);
    } catch (err) {
      log.error('handler returned an invalid response', { route: match.route.id, requestId, error: err });
      throw new HttpProblem(500, 'internal_error', 'Internal error');
    }
    return match.route.id;
  }

  async function serveStatic(rawPath: string, method: string, res: ServerResponse): Promise<boolean> {
    const hasPortal = portalDir !== null && existsSync(join(portalDir, 'index.html'));
    if (!hasPortal) {
      if (rawPath !== '/' && rawPath !== '/index.html') return false;
      send(
        res,
        200,
        { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' },
        FALLBACK_PAGE,
        method,
      );
      return true;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(rawPath);
    } catch {
      return false;
    }
    if (rel.includes('\0')) return false;
    const base = resolve(portalDir);
    let file = resolve(base, `.${rel}`);
    if (file !== base && !file.startsWith(base + sep)) return false;
    let stat = await fsp.stat(file).catch(() => undefined);
    if (stat?.isDirectory()) {
      file = join(file, 'index.html');
      stat = await fsp.stat(file).catch(() => undefined);
    }
    if (!stat?.isFile()) return false;
    // No symlink escapes out of the portal directory.
    const real = await fsp.realpath(file);
    const realBase = await fsp.realpath(base);
    if (!real.startsWith(realBase + sep)) return false;
    const data = await fsp.readFile(real);
    send(
      res,
      200,
      {
        'content-type': contentTypeFor(real),
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      },
      data,
      method,
    );
    return true;
  }

  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    const requestId = randomBytes(10).toString('base64');
    inFlight++;
    res.setHeader('apigw-requestid', requestId);
    res.on('close', () => {
      inFlight--;
      if (inFlight === 0) for (const w of idleWaiters) w();
    });
    handle(req, res, requestId)
      .catch((err: unknown) => {
        if (isClientGone(err, req)) {
          // The visitor closed the tab or the connection dropped: nothing to answer, nothing wrong.
          log.info('client disconnected', {
            requestId,
            method: req.method,
            path: (req.url ?? '/').split('?')[0],
          });
          res.destroy();
          return undefined;
        }
        const problem =
          err instanceof HttpProblem ? err : new HttpProblem(500, 'internal_error', 'Internal error');
        if (!(err instanceof HttpProblem)) log.error('gateway error', { requestId, error: err });
        if (res.headersSent) {
          res.destroy();
          return undefined;
        }
        for (const name of res.getHeaderNames()) if (name !== 'apigw-requestid') res.removeHeader(name);
        if (problem.status === 413) res.setHeader('connection', 'close');
        sendJson(
          res,
          problem.status,
          { error: { code: problem.code, message: problem.message } },
          problem.headers,
        );
        return undefined;
      })
      .then((routeId) => {
        if (!accessLog) return;
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const path = (req.url ?? '/').split('?')[0];
        log.info('request', {
          method: req.method,
          path,
          status: res.statusCode,
          ms: Math.round(ms * 10) / 10,
          ...(routeId ? { route: routeId } : {}),
          requestId,
        });
      });
  });
  // Let long-polls run; API Gateway's own limit is enforced by `timeoutMs`.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  return {
    server,
    drain(ms: number) {
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((done) => {
        const finish = () => {
          clearTimeout(timer);
          idleWaiters.delete(finish);
          done();
        };
        const timer = setTimeout(finish, ms);
        idleWaiters.add(finish);
      });
    },
  };
}

/** The client went away before its request was read (a reset or an aborted body). */
class ClientGoneError extends Error {}

const CLIENT_GONE_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

function isClientGone(err: unknown, req: IncomingMessage): boolean {
  if (err instanceof ClientGoneError) return true;
  const code = (err as { code?: string } | null)?.code;
  return req.destroyed && typeof code === 'string' && CLIENT_GONE_CODES.has(code);
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max)
    return Promise.reject(new HttpProblem(413, 'payload_too_large', 'The request body is too large.'));
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > max) {
        failed = true;
        chunks.length = 0;
        reject(new HttpProblem(413, 'payload_too_large', 'The request body is too large.'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolveBody(Buffer.concat(chunks));
    });
    // A request stream errors only when its connection broke ('aborted', ECONNRESET).
    req.on('error', () => {
      if (!failed) {
        failed = true;
        reject(new ClientGoneError('client disconnected'));
      }
    });
    req.on('close', () => {
      if (!failed && !req.complete) {
        failed = true;
        reject(new ClientGoneError('client disconnected'));
      }
    });
  });
}

/** Writes a Lambda result the way API Gateway (payload 2.0) interprets it. */
export function writeResult(res: ServerResponse, result: unknown): void {
  if (result === null || typeof result !== 'object' || !('statusCode' in result)) {
    // Not a structured response: API Gateway returns it as a 200 JSON body.
    const body = typeof result === 'string' ? result : (JSON.stringify(result) ?? '');
    sendJson(res, 200, undefined, {}, body);
    return;
  }
  const r = result as APIGatewayProxyStructuredResultV2;
  const status = Number(r.statusCode);
  if (!Number.isInteger(status) || status < 100 || status > 599)
    throw new Error(`invalid statusCode ${r.statusCode}`);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
  if (r.cookies && r.cookies.length > 0) headers['set-cookie'] = [...r.cookies];
  const body =
    r.body === undefined || r.body === null
      ? Buffer.alloc(0)
      : r.isBase64Encoded
        ? Buffer.from(r.body, 'base64')
        : Buffer.from(String(r.body), 'utf8');
  // Validate all headers before writing anything, so a bad one becomes a clean 500.
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.statusCode = status;
  res.setHeader('content-length', body.length);
  res.end(body);
}

function sendJson(
  res: ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
  raw?: string,
): void {
  send(
    res,
    status,
    { 'content-type': 'application/json', ...headers },
    raw ?? JSON.stringify(payload),
    'GET',
  );
}

function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string | Buffer,
  method: string,
): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { ...headers, 'content-length': String(buf.length) });
  res.end(method === 'HEAD' ? undefined : buf);
}
