import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { clientAddress, viewerIp } from '../../functions/shared/caller.ts';
import { setAppDeps } from '../../functions/shared/deps.ts';
import { ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER } from '../../functions/shared/origin-headers.ts';
import { setApiQuotas } from '../../functions/shared/quotas.ts';
import { resetSecretCache } from '../../functions/shared/secrets.ts';
import { issueSession } from '../../functions/shared/session.ts';
import { Quotas } from '../../lib/app/quotas.ts';
import { resetClients } from '../../lib/aws/clients.ts';
import { DEFAULT_QUOTAS } from '../../lib/domain/quotas.ts';
import { apiEvent, context, type Result } from '../support/api-event.ts';
import { MemoryLoginStore } from './email-fakes.ts';

process.env.SESSION_SECRET = 'unit-test-secret-unit-test-secret';
process.env.TABLE_NAME = 'runs';
process.env.COOKIE_SECURE = 'true';
process.env.LOG_LEVEL = 'silent';
process.env.OUTBOX_DIR = mkdtempSync(join(tmpdir(), 'client-address-outbox-'));
const VERIFY = 'origin-verify-secret-for-unit-tests';

const setContactSpy = vi.hoisted(() => vi.fn());
vi.mock('../../lib/app/contact.ts', async (original) => ({
  ...(await original<typeof import('../../lib/app/contact.ts')>()),
  setContact: setContactSpy,
}));

const ddb = mockClient(DynamoDBDocumentClient);
const { handler: requestEmailCode } = await import('../../functions/api/request-email-code.ts');
const { handler: createRun } = await import('../../functions/api/create-run.ts');
const { handler: postMessage } = await import('../../functions/api/post-message.ts');
const { handler: setContact } = await import('../../functions/api/set-contact.ts');

const call = async (h: (e: never, c: never) => Promise<unknown>, e: unknown) =>
  (await h(e as never, context as never)) as Result;

/** Everyone below reaches the API from this CloudFront edge address. */
const EDGE = '130.176.0.10';
const withSource = <T extends { requestContext: { http: { sourceIp: string } } }>(e: T, ip = EDGE): T => {
  e.requestContext.http.sourceIp = ip;
  return e;
};
/** The headers CloudFront adds to an `/api/*` origin request for a viewer at `viewer`. */
const viaCloudFront = (viewer: string, verify = VERIFY) => ({
  [VIEWER_ADDRESS_HEADER]: viewer,
  [ORIGIN_VERIFY_HEADER]: verify,
});

/** RATE# counters of the mocked table: the conditional ADD of DynamoLoginStore.hit. */
let rateHits: Map<string, number>;
beforeEach(() => {
  ddb.reset();
  resetClients();
  resetSecretCache();
  setAppDeps(undefined);
  setApiQuotas(undefined);
  setContactSpy.mockReset();
  process.env.ORIGIN_VERIFY_SECRET = VERIFY;
  rateHits = new Map();
  ddb.on(UpdateCommand).callsFake((input) => {
    const pk = String(input.Key.pk);
    const hits = rateHits.get(pk) ?? 0;
    if (hits >= input.ExpressionAttributeValues[':limit']) {
      throw Object.assign(new Error('condition'), { name: 'ConditionalCheckFailedException' });
    }
    rateHits.set(pk, hits + 1);
    return {};
  });
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb.on(PutCommand).resolves({});
});

describe('viewerIp: CloudFront-Viewer-Address style values', () => {
  it('takes the address off ip:port, [IPv6]:port, full IPv6 with a port, or a bare address', () => {
    expect(viewerIp('198.51.100.7:46532')).toBe('198.51.100.7');
    // A value that is a valid address as a whole is taken whole (the distribution sends bare IPs).
    expect(viewerIp('2001:db8::1:443')).toBe('2001:db8::1:443');
    expect(viewerIp('2001:0db8:0000:0000:0000:0000:0000:0001:52325')).toBe(
      '2001:0db8:0000:0000:0000:0000:0000:0001',
    );
    expect(viewerIp('[2001:DB8::1]:443')).toBe('2001:db8::1');
    expect(viewerIp('198.51.100.7')).toBe('198.51.100.7');
    expect(viewerIp(' 198.51.100.7:1 ')).toBe('198.51.100.7');
  });

  it('refuses anything that is not an IP address', () => {
    for (const v of [
      undefined,
      '',
      'evil',
      'evil:80',
      '198.51.100.7:port',
      '[198.51.100.7]:80',
      '1.2.3:4',
      '[::1',
    ]) {
      expect(viewerIp(v)).toBeUndefined();
    }
  });
});

describe('clientAddress', () => {
  const event = (headers: Record<string, string>) =>
    withSource(apiEvent({ method: 'POST', path: '/x', headers }));

  it('is the viewer address when the request carries the origin-verify secret', async () => {
    expect(await clientAddress(event(viaCloudFront('198.51.100.7:46532')))).toBe('198.51.100.7');
  });

  it('ignores a viewer address without, or with a wrong, origin-verify header (direct execute-api calls)', async () => {
    expect(await clientAddress(event({ [VIEWER_ADDRESS_HEADER]: '198.51.100.7:1' }))).toBe(EDGE);
    expect(await clientAddress(event(viaCloudFront('198.51.100.7:1', 'guess')))).toBe(EDGE);
    expect(await clientAddress(event(viaCloudFront('198.51.100.7:1', '')))).toBe(EDGE);
  });

  it('keeps the socket address when no secret is configured (local stack) or the address is malformed', async () => {
    expect(await clientAddress(event(viaCloudFront('not-an-ip')))).toBe(EDGE);
    delete process.env.ORIGIN_VERIFY_SECRET;
    resetSecretCache();
    expect(await clientAddress(event(viaCloudFront('198.51.100.7:1')))).toBe(EDGE);
  });
});

describe('per-source limits behind one CloudFront edge', () => {
  const emailCode = (headers: Record<string, string>) =>
    call(
      requestEmailCode,
      withSource(
        apiEvent({
          method: 'POST',
          path: '/api/v1/sessions/email-code',
          body: JSON.stringify({ email: 'owner@example.com' }),
          headers,
        }),
      ),
    );

  it("an owner's login code is not blocked by another visitor's flood from the same edge", async () => {
    // Mallory: a fresh session each time (no cookie), so only the per-source limit (10/hour) holds.
    for (let i = 0; i < 10; i++)
      expect((await emailCode(viaCloudFront('203.0.113.66:4000'))).statusCode).toBe(202);
    expect((await emailCode(viaCloudFront('203.0.113.66:4001'))).statusCode).toBe(429);
    // The owner behind the same edge still gets a code.
    expect((await emailCode(viaCloudFront('198.51.100.7:5000'))).statusCode).toBe(202);
    expect([...rateHits.keys()].some((k) => k.includes(EDGE))).toBe(false);
  });

  it('a spoofed viewer address without the origin-verify header counts against the socket address', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await emailCode({ [VIEWER_ADDRESS_HEADER]: `203.0.113.${i}:1` })).statusCode).toBe(202);
    }
    expect((await emailCode({ [VIEWER_ADDRESS_HEADER]: '203.0.113.200:1' })).statusCode).toBe(429);
    expect((await emailCode(viaCloudFront('203.0.113.201:1', 'guess'))).statusCode).toBe(429);
  });

  it('run creation and messages: two visitors at one edge have separate per-source quotas', async () => {
    setApiQuotas(
      new Quotas(new MemoryLoginStore(), {
        ...DEFAULT_QUOTAS,
        runsPerSourcePerHour: 2,
        messagesPerSourcePerMinute: 2,
      }),
    );
    const run = (viewer: string) =>
      call(
        createRun,
        withSource(apiEvent({ method: 'POST', path: '/api/v1/build-runs', headers: viaCloudFront(viewer) })),
      );
    expect((await run('203.0.113.66:1')).statusCode).toBe(201);
    expect((await run('203.0.113.66:2')).statusCode).toBe(201);
    expect((await run('203.0.113.66:3')).statusCode).toBe(429);
    expect((await run('198.51.100.7:1')).statusCode).toBe(201);

    const message = async (viewer: string) => {
      const { token } = await issueSession();
      return call(
        postMessage,
        withSource(
          apiEvent({
            method: 'POST',
            path: '/api/v1/build-runs/run_x/messages',
            pathParameters: { run_id: 'run_x' },
            body: JSON.stringify({ text: 'hello' }),
            headers: { authorization: `Bearer ${token}`, ...viaCloudFront(viewer) },
          }),
        ),
      );
    };
    // Past the quota the run lookup answers (404: no such run); over it, 429.
    expect((await message('203.0.113.66:1')).statusCode).not.toBe(429);
    expect((await message('203.0.113.66:1')).statusCode).not.toBe(429);
    expect((await message('203.0.113.66:1')).statusCode).toBe(429);
    expect((await message('198.51.100.7:1')).statusCode).not.toBe(429);
  });

  it('the contact-code limit counts the viewer address, not the edge', async () => {
    setContactSpy.mockRejectedValue(new Error('stop'));
    const { token } = await issueSession();
    await call(
      setContact,
      withSource(
        apiEvent({
          method: 'POST',
          path: '/api/v1/build-runs/run_x/contact',
          pathParameters: { run_id: 'run_x' },
          body: JSON.stringify({ email: 'owner@example.com' }),
          headers: { authorization: `Bearer ${token}`, ...viaCloudFront('198.51.100.7:5000') },
        }),
      ),
    );
    expect(setContactSpy).toHaveBeenCalledOnce();
    expect(setContactSpy.mock.calls[0]![4]).toBe('198.51.100.7');
  });
});
