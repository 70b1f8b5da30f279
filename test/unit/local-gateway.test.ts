import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  buildEvent,
  createGateway,
  type Gateway,
  type GatewayRoute,
  isTextContentType,
  type ModuleLoader,
  parseQuery,
} from '../../lib/local/gateway.ts';

const ROUTES: GatewayRoute[] = [
  { id: 'Create', method: 'POST', path: '/api/v1/things', entry: 'fake/create.ts' },
  { id: 'Get', method: 'GET', path: '/api/v1/things/{thing_id}', entry: 'fake/get.ts' },
  { id: 'Spec', method: 'GET', path: '/api/v1/openapi.json', entry: 'fake/spec.ts' },
  { id: 'Any', method: 'GET', path: '/api/v1/{anything}', entry: 'fake/any.ts' },
  { id: 'Throw', method: 'GET', path: '/api/v1/boom/now', entry: 'fake/throw.ts' },
  { id: 'Slow', method: 'GET', path: '/api/v1/slow/now', entry: 'fake/slow.ts' },
  { id: 'Plain', method: 'GET', path: '/api/v1/plain/now', entry: 'fake/plain.ts' },
  { id: 'Missing', method: 'GET', path: '/api/v1/missing/now', entry: 'fake/missing.ts' },
];

interface Seen {
  event: APIGatewayProxyEventV2;
  context: Context;
}

const seen: Seen[] = [];
const loads: string[] = [];
let missingAttempts = 0;

const echo = async (event: APIGatewayProxyEventV2, context: Context) => {
  seen.push({ event, context });
  return {
    statusCode: 201,
    headers: { 'Content-Type': 'application/json', 'X-Custom': 7 },
    cookies: ['a=1; Path=/; HttpOnly', 'b=2; Path=/'],
    body: JSON.stringify({ ok: true, remaining: context.getRemainingTimeInMillis() }),
  };
};

const MODULES: Record<string, () => { handler?: unknown }> = {
  'fake/create.ts': () => ({ handler: echo }),
  'fake/get.ts': () => ({ handler: echo }),
  'fake/any.ts': () => ({ handler: async () => ({ statusCode: 200, body: 'any' }) }),
  'fake/spec.ts': () => ({
    handler: async () => ({
      statusCode: 200,
      headers: { 'content-type': 'application/octet-stream' },
      isBase64Encoded: true,
      body: Buffer.from([0, 1, 2, 255]).toString('base64'),
    }),
  }),
  'fake/throw.ts': () => ({
    handler: async () => {
      throw new Error('secret detail that must not reach the client');
    },
  }),
  'fake/slow.ts': () => ({
    handler: () => new Promise((r) => setTimeout(() => r({ statusCode: 200 }), 2000)),
  }),
  'fake/plain.ts': () => ({ handler: async () => ({ hello: 'world' }) }),
  'fake/missing.ts': () => {
    missingAttempts++;
    if (missingAttempts === 1) throw new Error('Cannot find module');
    return { handler: async () => ({ statusCode: 204 }) };
  },
};

const loader: ModuleLoader = async (entry) => {
  loads.push(entry);
  const make = MODULES[entry];
  if (!make) throw new Error(`no module ${entry}`);
  return make();
};

async function start(opts: Partial<Parameters<typeof createGateway>[0]> = {}) {
  const gw = createGateway({
    routes: ROUTES,
    root: '/nonexistent',
    loadModule: loader,
    portalDir: null,
    accessLog: false,
    maxPayloadBytes: 1024,
    timeoutMs: 500,
    ...opts,
  });
  await new Promise<void>((r) => gw.server.listen(0, '127.0.0.1', () => r()));
  const { port } = gw.server.address() as AddressInfo;
  return { gw, url: `http://127.0.0.1:${port}` };
}

async function close(gw: Gateway) {
  gw.server.closeAllConnections();
  await new Promise((r) => gw.server.close(r));
}

/** Raw request (duplicate headers, unnormalized paths). */
function raw(
  url: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string | string[]>; body?: Buffer | string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest(
      { host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('local gateway: event building', () => {
  it('buildEvent produces a payload format 2.0 event', () => {
    const now = new Date(Date.UTC(2020, 2, 12, 19, 3, 58));
    const event = buildEvent({
      method: 'POST',
      rawPath: '/api/v1/things',
      rawQueryString: 'a=1&a=2&b=x%20y',
      headers: {
        Host: ['localhost:3000'],
        'X-Multi': ['one', 'two'],
        Cookie: ['s=abc; t=def', 'u=ghi'],
        'Content-Type': ['application/json'],
        'User-Agent': ['vitest'],
      },
      body: Buffer.from('{"x":1}'),
      sourceIp: '127.0.0.1',
      routeKey: 'POST /api/v1/things',
      pathParameters: {},
      requestId: 'req-1',
      now,
    });
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /api/v1/things',
      rawPath: '/api/v1/things',
      rawQueryString: 'a=1&a=2&b=x%20y',
      cookies: ['s=abc', 't=def', 'u=ghi'],
      queryStringParameters: { a: '1,2', b: 'x y' },
      body: '{"x":1}',
      isBase64Encoded: false,
      requestContext: {
        accountId: expect.any(String),
        apiId: expect.any(String),
        domainName: 'localhost:3000',
        http: {
          method: 'POST',
          path: '/api/v1/things',
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'vitest',
        },
        requestId: 'req-1',
        routeKey: 'POST /api/v1/things',
        stage: '$default',
        time: '12/Mar/2020:19:03:58 +0000',
        timeEpoch: now.getTime(),
      },
    });
    expect(event.headers['x-multi']).toBe('one,two');
    expect(event.headers.cookie).toBeUndefined();
    expect(event.headers.Host).toBeUndefined();
    expect(event.headers.host).toBe('localhost:3000');
    expect(event.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(event.pathParameters).toBeUndefined();
  });

  it('omits body, cookies and query when absent; base64-encodes non-text bodies', () => {
    const base = {
      method: 'GET',
      rawPath: '/x',
      rawQueryString: '',
      sourceIp: '127.0.0.1',
      routeKey: 'GET /x',
      pathParameters: {},
      requestId: 'r',
    };
    const empty = buildEvent({ ...base, headers: {}, body: Buffer.alloc(0) });
    expect(empty.body).toBeUndefined();
    expect(empty.isBase64Encoded).toBe(false);
    expect(empty.cookies).toBeUndefined();
    expect(empty.queryStringParameters).toBeUndefined();

    const bin = buildEvent({
      ...base,
      headers: { 'content-type': ['application/octet-stream'] },
      body: Buffer.from([0, 255]),
    });
    expect(bin.isBase64Encoded).toBe(true);
    expect(Buffer.from(bin.body!, 'base64')).toEqual(Buffer.from([0, 255]));
  });

  it('classifies content types like API Gateway', () => {
    expect(isTextContentType('application/json; charset=utf-8')).toBe(true);
    expect(isTextContentType('text/plain')).toBe(true);
    expect(isTextContentType('application/vnd.api+json')).toBe(true);
    expect(isTextContentType('application/octet-stream')).toBe(false);
    expect(isTextContentType('application/x-www-form-urlencoded')).toBe(false);
    expect(isTextContentType(undefined)).toBe(false);
    expect(parseQuery('')).toBeUndefined();
    expect(parseQuery('k=v&k=w&e=')).toEqual({ k: 'v,w', e: '' });
  });
});

describe('local gateway over HTTP', () => {
  let gw: Gateway;
  let url: string;

  beforeAll(async () => {
    ({ gw, url } = await start());
  });
  afterAll(async () => {
    await close(gw);
  });
  afterEach(() => {
    seen.length = 0;
    vi.restoreAllMocks();
  });

  it('passes the event and a Lambda-like context to the handler and writes its result', async () => {
    const res = await fetch(`${url}/api/v1/things?x=1&x=2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'bus_session=tok; other=1' },
      body: '{"hello":"world"}',
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-custom')).toBe('7');
    expect(res.headers.get('apigw-requestid')).toBeTruthy();
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Path=/']);
    const body = (await res.json()) as { ok: boolean; remaining: number };
    expect(body.ok).toBe(true);
    expect(body.remaining).toBeGreaterThan(0);

    const { event, context } = seen[0]!;
    expect(event.routeKey).toBe('POST /api/v1/things');
    expect(event.rawQueryString).toBe('x=1&x=2');
    expect(event.queryStringParameters).toEqual({ x: '1,2' });
    expect(event.cookies).toEqual(['bus_session=tok', 'other=1']);
    expect(event.headers.cookie).toBeUndefined();
    expect(event.body).toBe('{"hello":"world"}');
    expect(event.isBase64Encoded).toBe(false);
    expect(event.requestContext.requestId).toBe(res.headers.get('apigw-requestid'));
    expect(event.requestContext.http.sourceIp).toBe('127.0.0.1');
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(context.functionName).toBe('local-Create');
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(500);
  });

  it('extracts and decodes path parameters; comma-joins duplicate headers', async () => {
    const res = await raw(url, '/api/v1/things/abc%20def', { headers: { 'x-dup': ['1', '2'] } });
    expect(res.status).toBe(201);
    expect(seen[0]!.event.pathParameters).toEqual({ thing_id: 'abc def' });
    expect(seen[0]!.event.routeKey).toBe('GET /api/v1/things/{thing_id}');
    expect(seen[0]!.event.headers['x-dup']).toBe('1,2');
    expect(seen[0]!.event.body).toBeUndefined();
  });

  it('prefers the most specific route', async () => {
    const res = await fetch(`${url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(await (await fetch(`${url}/api/v1/whatever`)).text()).toBe('any');
  });

  it('loads each handler module once and retries a module that failed to load', async () => {
    await fetch(`${url}/api/v1/things/a`);
    await fetch(`${url}/api/v1/things/b`);
    expect(loads.filter((e) => e === 'fake/get.ts')).toHaveLength(1);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect((await fetch(`${url}/api/v1/missing/now`)).status).toBe(500);
    expect((await fetch(`${url}/api/v1/missing/now`)).status).toBe(204);
  });

  it('returns API-Gateway-like JSON 404 and 405', async () => {
    const nf = await fetch(`${url}/api/v2/nothing/here`);
    expect(nf.status).toBe(404);
    expect(nf.headers.get('content-type')).toContain('application/json');
    expect(await nf.json()).toEqual({ error: { code: 'not_found', message: expect.any(String) } });

    const na = await fetch(`${url}/api/v1/things`, { method: 'DELETE' });
    expect(na.status).toBe(405);
    expect(na.headers.get('allow')).toBe('GET, POST'); // /api/v1/{anything} matches too
    expect(((await na.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });

  it('turns a throwing handler into a generic 500 and logs it to stderr as JSON', async () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const res = await fetch(`${url}/api/v1/boom/now`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: 'internal_error', message: 'Internal error' } });
    expect(text).not.toContain('secret detail');
    const line = JSON.parse(writes.find((w) => w.includes('handler failed'))!);
    expect(line).toMatchObject({ level: 'error', route: 'Throw' });
    expect(JSON.stringify(line)).toContain('secret detail');
  });

  it('logs a client that disconnects mid-request as info, without a stack trace', async () => {
    const lines: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    // A body announced as 500 bytes, 10 sent, then the client goes away.
    socket.write('POST /api/v1/things HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n');
    socket.write('content-length: 500\r\n\r\n{"a":"1234');
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const entries = lines
      .flatMap((l) => l.split('\n'))
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(entries.filter((e) => e.level === 'error' || e.level === 'warn')).toEqual([]);
    const gone = entries.find((e) => e.message === 'client disconnected');
    expect(gone).toMatchObject({ level: 'info', method: 'POST', path: '/api/v1/things' });
    expect(JSON.stringify(entries)).not.toContain('stack');
  });

  it('treats a non-structured result as a 200 JSON body', async () => {
    const res = await fetch(`${url}/api/v1/plain/now`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({ hello: 'world' });
  });

  it('enforces the payload limit before calling the handler', async () => {
    const res = await fetch(`${url}/api/v1/things`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(2048),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    expect(seen).toHaveLength(0);
  });

  it('enforces the payload limit for chunked bodies without a content-length', async () => {
    const res = await raw(url, '/api/v1/things', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body: 'y'.repeat(4096),
    });
    expect(res.status).toBe(413);
    expect(seen).toHaveLength(0);
  });

  it('answers 503 when the handler exceeds the integration timeout', async () => {
    const res = await fetch(`${url}/api/v1/slow/now`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('service_unavailable');
  });

  it('serves a minimal page at / when there is no portal', async () => {
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('/api/v1/openapi.json');
    expect((await fetch(`${url}/app.js`)).status).toBe(404);
  });
});

describe('local gateway: portal and access log', () => {
  let dir: string;
  let gw: Gateway;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-portal-'));
    const portal = join(dir, 'portal');
    mkdirSync(join(portal, 'assets'), { recursive: true });
    writeFileSync(join(portal, 'index.html'), '<!doctype html><title>portal</title>');
    writeFileSync(join(portal, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'outside the portal');
    ({ gw, url } = await start({ portalDir: portal, accessLog: true }));
  });
  afterAll(async () => {
    await close(gw);
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => vi.restoreAllMocks());

  it('serves portal files with their MIME types and index.html at /', async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const index = await fetch(`${url}/`);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(await index.text()).toContain('portal');
    const js = await fetch(`${url}/assets/app.js`);
    expect(js.headers.get('content-type')).toContain('text/javascript');
    expect((await fetch(`${url}/assets/nope.js`)).status).toBe(404);
  });

  it('never serves files outside the portal directory', async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/%00']) {
      const res = await raw(url, path);
      expect(res.status, path).toBe(404);
      expect(res.body).not.toContain('outside the portal');
    }
  });

  it('writes JSON access log lines without the query string', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    await fetch(`${url}/api/v1/things/t1?token=supersecret`);
    await new Promise((r) => setTimeout(r, 20));
    const entry = lines.map((l) => JSON.parse(l)).find((l) => l.message === 'request');
    expect(entry).toMatchObject({ method: 'GET', path: '/api/v1/things/t1', status: 201, route: 'Get' });
    expect(typeof entry.ms).toBe('number');
    expect(lines.join('')).not.toContain('supersecret');
  });
});
