import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { setAppDeps } from '../../functions/shared/deps.ts';
import { resetSecretCache } from '../../functions/shared/secrets.ts';
import { issueSession } from '../../functions/shared/session.ts';
import { resetClients } from '../../lib/aws/clients.ts';
import { newBuildRun } from '../../lib/domain/lifecycle.ts';
import { apiEvent, bodyOf, context, type Result } from '../support/api-event.ts';

process.env.SESSION_SECRET = 'unit-test-secret-unit-test-secret';
process.env.TABLE_NAME = 'runs';
process.env.COOKIE_SECURE = 'true';
process.env.LOG_LEVEL = 'silent';

const ddb = mockClient(DynamoDBDocumentClient);
const { handler: createRun } = await import('../../functions/api/create-run.ts');
const { handler: getRun } = await import('../../functions/api/get-run.ts');
const { handler: postMessage } = await import('../../functions/api/post-message.ts');
const { handler: listEvents } = await import('../../functions/api/list-events.ts');
const { handler: openapi } = await import('../../functions/api/openapi.ts');

const call = async (h: (e: never, c: never) => Promise<unknown>, e: unknown) =>
  (await h(e as never, context as never)) as Result;

beforeEach(() => {
  ddb.reset();
  resetClients();
  resetSecretCache();
  setAppDeps(undefined);
});

describe('POST /api/v1/build-runs', () => {
  it('creates a run, issues a session cookie and token, and stores the run and its first event', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    const res = await call(createRun, apiEvent({ method: 'POST', path: '/api/v1/build-runs', body: '{}' }));
    expect(res.statusCode).toBe(201);
    const body = bodyOf(res);
    expect(body.run.phase).toBe('drafting');
    expect(body.run.run_id).toMatch(/^run_[a-z2-7]{26}$/);
    expect(body.session_token).toMatch(/^ey/);
    expect(res.cookies?.[0]).toMatch(/^bus_session=ey.*HttpOnly.*SameSite=Lax.*Secure$/);
    const headers = Object.fromEntries(
      Object.entries(res.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    );
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['content-type']).toMatch(/^application\/json/);
    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item?.sk);
    expect(puts).toEqual([`RUN#${body.run.run_id}`, 'RUN', 'EVT#0000000001']);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input.Item?.pk).toMatch(/^SESSION#ses_[a-z2-7]{26}$/);
  });

  it('accepts an empty body and keeps an existing session', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    const { token } = await issueSession();
    const res = await call(
      createRun,
      apiEvent({ method: 'POST', path: '/api/v1/build-runs', headers: { authorization: `Bearer ${token}` } }),
    );
    expect(res.statusCode).toBe(201);
    expect(bodyOf(res).session_token).toBeUndefined();
    expect(res.cookies).toBeUndefined();
  });

  it.each([
    ['malformed JSON', '{"text":', 400, 'malformed_json'],
    ['an unknown field', '{"admin":true}', 400, 'invalid_request'],
    ['a JSON array', '[]', 400, 'invalid_request'],
    ['an oversized body', JSON.stringify({ pad: 'x'.repeat(20_000) }), 413, 'payload_too_large'],
  ])('rejects %s with a JSON error and stores nothing', async (_name, body, status, code) => {
    const res = await call(createRun, apiEvent({ method: 'POST', path: '/api/v1/build-runs', body }));
    expect(res.statusCode).toBe(status);
    expect(bodyOf(res)).toEqual({ error: { code, message: expect.any(String) } });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('hides internal errors behind a generic 500', async () => {
    ddb.on(PutCommand).rejects(new Error('ProvisionedThroughputExceeded at arn:aws:dynamodb:secret'));
    const res = await call(createRun, apiEvent({ method: 'POST', path: '/api/v1/build-runs', body: '{}' }));
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('arn:aws');
    expect(bodyOf(res).error.code).toBe('internal_error');
  });
});

describe('run routes', () => {
  const owner = { sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa', emailVerified: false };
  const run = newBuildRun(owner, '2026-11-24T10:00:00.000Z');
  const runItem = { Item: { pk: `RUN#${run.runId}`, sk: 'RUN', run: JSON.stringify(run) } };
  const tokenFor = async (sessionId: string) => {
    const { SignJWT } = await import('jose');
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sessionId)
      .setIssuer('busdk-artifact-builder')
      .setAudience('visitor')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(process.env.SESSION_SECRET));
  };
  const get = (token?: string, id = run.runId) =>
    apiEvent({
      method: 'GET',
      path: `/api/v1/build-runs/${id}`,
      pathParameters: { run_id: id },
      cookies: token ? [`other=1`, `bus_session=${token}`] : undefined,
    });

  it('returns the public run to its owner (cookie) and 404 to another session', async () => {
    ddb.on(GetCommand).resolves(runItem);
    ddb.on(QueryCommand).resolves({ Items: [] });
    const mine = await call(getRun, get(await tokenFor(owner.sessionId)));
    expect(mine.statusCode).toBe(200);
    expect(bodyOf(mine).run.run_id).toBe(run.runId);
    expect(mine.body).not.toContain(run.taskRef);
    const theirs = await call(getRun, get(await tokenFor('ses_bbbbbbbbbbbbbbbbbbbbbbbbbb')));
    expect(theirs.statusCode).toBe(404);
    expect(bodyOf(theirs).error.code).toBe('not_found');
  });

  it('gives 401 without a session and for a forged token', async () => {
    expect((await call(getRun, get())).statusCode).toBe(401);
    const forged = `${(await tokenFor(owner.sessionId)).slice(0, -4)}AAAA`;
    expect((await call(getRun, get(forged))).statusCode).toBe(401);
  });

  it('gives 404 for a malformed run id without touching the table', async () => {
    const res = await call(getRun, get(await tokenFor(owner.sessionId), 'run_../../x'));
    expect(res.statusCode).toBe(404);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('validates message bodies before anything is stored', async () => {
    ddb.on(GetCommand).resolves(runItem);
    const token = await tokenFor(owner.sessionId);
    for (const body of ['{"text":""}', '{"text":5}', '{"text":"hi","extra":1}', 'nope']) {
      const res = await call(
        postMessage,
        apiEvent({
          method: 'POST',
          path: `/api/v1/build-runs/${run.runId}/messages`,
          pathParameters: { run_id: run.runId },
          headers: { authorization: `Bearer ${token}` },
          body,
        }),
      );
      expect(res.statusCode).toBe(400);
    }
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('rejects out-of-range event cursors', async () => {
    const token = await tokenFor(owner.sessionId);
    const res = await call(
      listEvents,
      apiEvent({
        method: 'GET',
        path: `/api/v1/build-runs/${run.runId}/events`,
        pathParameters: { run_id: run.runId },
        headers: { authorization: `Bearer ${token}` },
        query: { after: '-1', wait: '99' },
      }),
    );
    expect(res.statusCode).toBe(400);
  });
});

describe('GET /api/v1/openapi.json', () => {
  it('documents every route as OpenAPI 3.1', async () => {
    const res = await call(openapi, apiEvent({ method: 'GET', path: '/api/v1/openapi.json' }));
    const doc = bodyOf(res);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/build-runs',
        '/api/v1/build-runs/{run_id}',
        '/api/v1/build-runs/{run_id}/messages',
        '/api/v1/build-runs/{run_id}/events',
      ]),
    );
    const msg = doc.paths['/api/v1/build-runs/{run_id}/messages'].post;
    expect(msg.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/MessageRequest',
    });
    const request = doc.components.schemas.MessageRequest;
    expect(request.properties.text.type).toBe('string');
    expect(request.additionalProperties).toBe(false);
    expect(doc.components.schemas.BuildRun.properties.run_id.type).toBe('string');
    // The quote lists its acceptance checks by title and kind only.
    const quote = doc.components.schemas.BuildRun.properties.quote.anyOf.find(
      (s: { type?: string }) => s.type === 'object',
    );
    expect(quote.properties.checks.items).toEqual({ $ref: '#/components/schemas/QuoteCheck' });
    expect(Object.keys(doc.components.schemas.QuoteCheck.properties).sort()).toEqual(['kind', 'title']);
    expect(JSON.stringify(doc)).not.toContain('$defs');
    const refs = [...JSON.stringify(doc).matchAll(/"#\/components\/schemas\/([A-Za-z]+)"/g)].map((m) => m[1]);
    for (const r of refs) expect(doc.components.schemas[r!]).toBeDefined();
  });
});
