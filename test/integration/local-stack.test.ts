import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiClient,
  type ApiResponse,
  allKeys,
  INTERNAL_KEYS,
  makeTempDataDir,
  runStackExpectingFailure,
  startTestStack,
  type TestStack,
} from './harness.ts';

/**
 * The foundation acceptance test: the real `npm start` stack (dynalite, s3rver, the local API
 * gateway and the real handlers) over real HTTP.
 */

interface PublicRun {
  run_id: string;
  phase: string;
  status_message: string;
  scope: { title: string; summary: string; features: string[] } | null;
  quote: { amount_cents: number; currency: string; amount_display: string } | null;
  messages?: { message_id: string; role: string; text: string; at: string }[];
}
interface CreateRunBody {
  run: PublicRun;
  session_token: string;
}
interface MessageBody {
  run: PublicRun;
  reply: { message_id: string; role: string; text: string; at: string };
}
interface PublicEvent {
  seq: number;
  type: string;
  at: string;
  message: string;
  phase?: string;
}
interface EventsBody {
  events: PublicEvent[];
  next_after: number;
}
interface ErrorBody {
  error: { code: string; message: string };
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function expectError(res: ApiResponse, status: number | number[], code?: string): void {
  const statuses = Array.isArray(status) ? status : [status];
  expect(statuses, `status ${res.status}: ${res.text}`).toContain(res.status);
  expect(res.headers.get('content-type')).toContain('application/json');
  const body = res.body as ErrorBody;
  expect(body.error.code).toEqual(expect.any(String));
  expect(body.error.message).toEqual(expect.any(String));
  expect(Object.keys(body)).toEqual(['error']);
  if (code) expect(body.error.code).toBe(code);
}

describe('local stack over HTTP (foundation acceptance)', () => {
  let dataDir: string;
  let stack: TestStack;
  let alice: ApiClient;
  let runId: string;
  let token: string;
  let lastEvents: EventsBody;
  const clients: ApiClient[] = [];

  const client = (opts?: ConstructorParameters<typeof ApiClient>[1]) => {
    const c = new ApiClient(stack.url, opts);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dataDir = makeTempDataDir();
    stack = await startTestStack({ dataDir });
    alice = client();
  });

  afterAll(async () => {
    await stack?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the landing page and the OpenAPI document', async () => {
    const page = await fetch(`${stack.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const spec = await alice.get<{ openapi: string; paths: Record<string, unknown> }>('/api/v1/openapi.json');
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.body.paths)).toContain('/api/v1/build-runs');
  });

  it('creates a run with a session token and an HttpOnly session cookie', async () => {
    const res = await alice.post<CreateRunBody>('/api/v1/build-runs', {});
    expect(res.status, res.text).toBe(201);
    expect(res.body.run.run_id).toMatch(/^run_[a-z2-7]{26}$/);
    expect(res.body.run.phase).toBe('drafting');
    expect(res.body.session_token).toMatch(JWT);
    const cookie = res.setCookies.find((c) => c.startsWith('bus_session='));
    expect(cookie, res.setCookies.join('\n')).toBeDefined();
    const attrs = cookie!.split(';').map((a) => a.trim().toLowerCase());
    expect(attrs).toEqual(expect.arrayContaining(['httponly', 'samesite=lax', 'path=/']));
    expect(attrs).not.toContain('secure'); // COOKIE_SECURE=false locally (plain http)
    expect(cookie!.slice('bus_session='.length).split(';')[0]).toBe(res.body.session_token);
    runId = res.body.run.run_id;
    token = res.body.session_token;
  });

  it('chats until the run is quoted', async () => {
    const answers = ['I need a tip calculator', 'a web app please', 'a web app please'];
    let run: PublicRun | undefined;
    for (const text of answers) {
      const res = await alice.post<MessageBody>(`/api/v1/build-runs/${runId}/messages`, { text });
      expect(res.status, res.text).toBe(200);
      expect(res.body.reply).toMatchObject({
        message_id: expect.any(String),
        role: 'assistant',
        text: expect.any(String),
        at: expect.any(String),
      });
      expect(res.body.reply.text.length).toBeGreaterThan(0);
      expect(Number.isNaN(Date.parse(res.body.reply.at))).toBe(false);
      run = res.body.run;
      if (run.phase === 'quoted') break;
    }
    expect(run?.phase).toBe('quoted');
  });

  it('reads the quoted run back with scope, quote and conversation', async () => {
    const res = await alice.get<{ run: PublicRun }>(`/api/v1/build-runs/${runId}`);
    expect(res.status, res.text).toBe(200);
    const { run } = res.body;
    expect(run.run_id).toBe(runId);
    expect(run.phase).toBe('quoted');
    expect(Number.isInteger(run.quote?.amount_cents)).toBe(true);
    expect(run.quote!.amount_cents).toBeGreaterThan(0);
    expect(run.scope?.title).toEqual(expect.any(String));
    expect(run.scope!.title.length).toBeGreaterThan(0);
    const roles = run.messages!.map((m) => m.role);
    expect(roles[0]).toBe('visitor');
    expect(roles).toContain('assistant');
    expect(run.messages![0]!.text).toBe('I need a tip calculator');
  });

  it('lists events with a cursor: gapless increasing seq, only newer events after the cursor', async () => {
    const res = await alice.get<EventsBody>(`/api/v1/build-runs/${runId}/events?after=0`);
    expect(res.status, res.text).toBe(200);
    const { events, next_after } = res.body;
    expect(events.length).toBeGreaterThanOrEqual(3);
    const seqs = events.map((e) => e.seq);
    seqs.forEach((s, i) => {
      if (i > 0) expect(s, `seqs ${seqs.join(',')}`).toBe(seqs[i - 1]! + 1);
    });
    expect(seqs[0]).toBeGreaterThanOrEqual(1);
    expect(next_after).toBe(seqs.at(-1));
    const types = events.map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(['bus.build.run.requested', 'bus.build.message.added', 'bus.build.quote.ready']),
    );
    expect(types.indexOf('bus.build.run.requested')).toBe(0);
    for (const e of events) {
      expect(
        Object.keys(e).every((k) => ['seq', 'type', 'at', 'message', 'phase'].includes(k)),
        JSON.stringify(e),
      ).toBe(true);
      expect(e.message).toEqual(expect.any(String));
      expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    }
    expect(events.find((e) => e.type === 'bus.build.quote.ready')?.phase).toBe('quoted');

    const mid = seqs[1]!;
    const newer = await alice.get<EventsBody>(`/api/v1/build-runs/${runId}/events?after=${mid}`);
    expect(newer.status).toBe(200);
    expect(newer.body.events.map((e) => e.seq)).toEqual(seqs.filter((s) => s > mid));

    const none = await alice.get<EventsBody>(`/api/v1/build-runs/${runId}/events?after=${next_after}`);
    expect(none.status).toBe(200);
    expect(none.body.events).toEqual([]);
    expect(none.body.next_after).toBe(next_after);
    lastEvents = res.body;
  });

  it('long-polls with wait=1 and returns within ~1-2 s when nothing happens', async () => {
    const t0 = Date.now();
    const res = await alice.get<EventsBody>(
      `/api/v1/build-runs/${runId}/events?after=${lastEvents.next_after}&wait=1`,
    );
    const elapsed = Date.now() - t0;
    expect(res.status, res.text).toBe(200);
    expect(res.body.events).toEqual([]);
    expect(res.body.next_after).toBe(lastEvents.next_after);
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(2500);
  });

  it('hides the run from another session (404) and from a caller without a session', async () => {
    const bob = client();
    const own = await bob.post<CreateRunBody>('/api/v1/build-runs', {});
    expect(own.status).toBe(201);
    expect(own.body.run.run_id).not.toBe(runId);

    expectError(await bob.get(`/api/v1/build-runs/${runId}`), 404, 'not_found');
    expectError(await bob.post(`/api/v1/build-runs/${runId}/messages`, { text: 'hello' }), 404, 'not_found');
    expectError(await bob.get(`/api/v1/build-runs/${runId}/events?after=0`), 404, 'not_found');
    // Alice cannot see Bob's run either.
    expectError(await alice.get(`/api/v1/build-runs/${own.body.run.run_id}`), 404, 'not_found');

    const anonymous = client({ useCookies: false });
    // Without any session the handlers answer 401 `unauthenticated` (no run data either way).
    expectError(await anonymous.get(`/api/v1/build-runs/${runId}`), [401, 404]);
    expectError(await anonymous.get(`/api/v1/build-runs/${runId}/events?after=0`), [401, 404]);
    expectError(await anonymous.post(`/api/v1/build-runs/${runId}/messages`, { text: 'hi' }), [401, 404]);
    const forged = client({ useCookies: false, bearer: `${token.slice(0, -4)}AAAA` });
    expectError(await forged.get(`/api/v1/build-runs/${runId}`), [401, 404]);
  });

  it('accepts the session token as a bearer token instead of the cookie', async () => {
    const api = client({ useCookies: false, bearer: token });
    const run = await api.get<{ run: PublicRun }>(`/api/v1/build-runs/${runId}`);
    expect(run.status, run.text).toBe(200);
    expect(run.body.run.run_id).toBe(runId);
    const events = await api.get<EventsBody>(`/api/v1/build-runs/${runId}/events?after=0`);
    expect(events.status).toBe(200);
    expect(events.body.events.length).toBe(lastEvents.events.length);
  });

  it('rejects bad input with clear 4xx JSON errors', async () => {
    const path = `/api/v1/build-runs/${runId}/messages`;
    expectError(await alice.request('POST', path, { body: '{"text": "unterminated' }), 400);
    expectError(await alice.post(path, { text: 'hi', extra: true }), 400);
    expectError(await alice.post(path, { text: '' }), 400);
    expectError(await alice.post(path, { text: 42 }), 400);
    expectError(await alice.post(path, { text: 'x'.repeat(17 * 1024) }), 413);
    expectError(await alice.post('/api/v1/build-runs', { unexpected: 1 }), 400);
    expectError(await alice.request('POST', '/api/v1/build-runs', { body: '[1,' }), 400);
    expectError(await alice.get('/api/v1/build-runs/not-a-run-id'), [400, 404]);
    expectError(await alice.get('/api/v1/build-runs/run_aaaaaaaaaaaaaaaaaaaaaaaaaa'), 404, 'not_found');
    expectError(await alice.post('/api/v1/build-runs/%2e%2e/messages', { text: 'hi' }), [400, 404]);
    expectError(await alice.get(`/api/v1/build-runs/${runId}/events?after=-1`), 400);
    expectError(await alice.get(`/api/v1/build-runs/${runId}/events?after=0&bogus=1`), 400);
    expectError(await alice.get('/api/v1/no-such-route'), 404, 'not_found');
    expectError(await alice.request('DELETE', `/api/v1/build-runs/${runId}`), 405);

    // Nothing was lost or changed by the rejected requests.
    const after = await alice.get<{ run: PublicRun }>(`/api/v1/build-runs/${runId}`);
    expect(after.body.run.phase).toBe('quoted');
  });

  it('never returns internal fields', () => {
    // The OpenAPI document names request fields (e.g. the contact `email`): it describes, carries no data.
    const responses = clients
      .flatMap((c) => c.responses)
      .filter((r) => !(r.body && typeof r.body === 'object' && 'openapi' in r.body));
    expect(responses.length).toBeGreaterThan(20);
    for (const res of responses) {
      const keys = allKeys(res.body);
      for (const k of INTERNAL_KEYS) expect(keys.has(k), `${k} in ${res.text.slice(0, 200)}`).toBe(false);
      expect(res.text).not.toMatch(/build\/\d{8}\//); // branch names
      expect(res.text).not.toMatch(/ses_[a-z2-7]{26}/); // session ids
    }
  });

  it('publishes a stack info file without secrets for the operator CLI', () => {
    const info = JSON.parse(readFileSync(join(dataDir, 'local-stack.json'), 'utf8'));
    expect(info).toMatchObject({
      apiUrl: stack.url,
      dynamoEndpoint: stack.dynamoUrl,
      s3Endpoint: stack.s3Url,
    });
    const secret = readFileSync(join(dataDir, 'session-secret'), 'utf8').trim();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(dataDir, 'session-secret')).mode & 0o077).toBe(0);
    expect(JSON.stringify(info)).not.toContain(secret);
    expect(stack.output()).not.toContain(secret);
    expect(stack.output()).not.toContain(token); // tokens never reach the logs
  });

  it('keeps data across a restart on the same data dir', async () => {
    expect(await stack.stop()).toBe(0); // clean shutdown on SIGTERM
    expect(stack.output()).toContain('local stack stopped');
    expect(existsSync(join(dataDir, 'local-stack.json'))).toBe(false);
    expect(existsSync(join(dataDir, 'local-stack.pid'))).toBe(false);

    stack = await startTestStack({ dataDir });
    const byCookie = new ApiClient(stack.url);
    for (const [k, v] of alice.cookies) byCookie.cookies.set(k, v);
    const res = await byCookie.get<{ run: PublicRun }>(`/api/v1/build-runs/${runId}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.run.phase).toBe('quoted');
    expect(res.body.run.messages!.length).toBeGreaterThanOrEqual(4);

    const byToken = new ApiClient(stack.url, { bearer: token, useCookies: false });
    const events = await byToken.get<EventsBody>(`/api/v1/build-runs/${runId}/events?after=0`);
    expect(events.status).toBe(200);
    expect(events.body.next_after).toBe(lastEvents.next_after);
    expect(events.body.events.map((e) => e.seq)).toEqual(lastEvents.events.map((e) => e.seq));

    // The conversation continues after the restart.
    const more = await byToken.post<MessageBody>(`/api/v1/build-runs/${runId}/messages`, { text: 'thanks!' });
    expect(more.status, more.text).toBe(200);
  });

  it('refuses a second stack on the same data dir with a clear message', async () => {
    const { code, output } = await runStackExpectingFailure({ DATA_DIR: dataDir });
    expect(code).toBe(1);
    expect(output).toContain('in use');
    expect(output).toContain('DATA_DIR');
  });
});

describe('local stack start-up errors', () => {
  let blocker: Server;
  let port: number;

  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    port = (blocker.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => blocker.close(r));
  });

  it.each([
    ['PORT', 'gateway'],
    ['DYNAMO_PORT', 'DynamoDB'],
    ['S3_PORT', 'S3'],
    ['SFN_PORT', 'Step Functions'],
    ['PREVIEW_PORT', 'previews'],
  ])('names the port and %s when a port is in use (%s)', async (envVar, service) => {
    const dataDir = makeTempDataDir();
    try {
      const { code, output } = await runStackExpectingFailure({ DATA_DIR: dataDir, [envVar]: String(port) });
      expect(code).toBe(1);
      expect(output).toContain(`Port ${port}`);
      expect(output).toContain(service);
      expect(output).toContain(`${envVar}=`);
      expect(output).not.toMatch(/\n\s+at /); // a message, not a stack trace
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
