import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmailLoginDeps, requestEmailCode, verifyEmailCode } from '../../lib/app/email-login.ts';
import { DynamoLoginStore } from '../../lib/aws/login-store.ts';
import { emailKey } from '../../lib/domain/email.ts';
import { newBuildRun } from '../../lib/domain/lifecycle.ts';
import { loginCodeKey } from '../../lib/domain/otp.ts';
import { startDynalite } from '../support/dynalite.ts';
import { MemoryMailer, manualClock } from '../unit/email-fakes.ts';
import { ApiClient, type ApiResponse, allKeys, startTestStack, type TestStack } from './harness.ts';

/**
 * Issue 4 §2 acceptance over real HTTP against the real local stack: lead capture at the quote,
 * email one-time-code login from another browser, resume, single-use codes, rate limits, and no
 * email address in any public view.
 */

interface PublicRun {
  run_id: string;
  phase: string;
  contact_email_set: boolean;
  contact_email_confirmed: boolean;
  messages?: unknown[];
}
interface ErrorBody {
  error: { code: string; message: string };
}

const EMAIL = 'ada.lovelace@example.org';

function expectError(res: ApiResponse, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
}

describe('email capture and one-time-code login (local stack over HTTP)', () => {
  let stack: TestStack;
  let alice: ApiClient;
  let bob: ApiClient;
  let aliceRun: string;
  let bobRun: string;
  let code: string;

  const outbox = () => join(stack.dataDir, 'outbox');
  /** Sign-in mails only (operator notifications share the outbox folder). */
  const outboxFiles = () =>
    existsSync(outbox())
      ? readdirSync(outbox())
          .filter((f) => f.startsWith('mail-'))
          .sort()
      : [];
  const readMail = (file: string) =>
    JSON.parse(readFileSync(join(outbox(), file), 'utf8')) as { to: string; subject: string; text: string };

  beforeAll(async () => {
    stack = await startTestStack();
    alice = new ApiClient(stack.url);
    bob = new ApiClient(stack.url);
  }, 90_000);

  afterAll(async () => {
    await stack?.dispose();
  });

  it('session A chats to a quote; the quote asks for an email', async () => {
    const created = await alice.post<{ run: PublicRun }>('/api/v1/build-runs', {});
    expect(created.status, created.text).toBe(201);
    aliceRun = created.body.run.run_id;
    expect(created.body.run.contact_email_set).toBe(false);
    let reply = '';
    for (const text of ['I need a tip calculator', 'a web app please', 'a web app please']) {
      const res = await alice.post<{ run: PublicRun; reply: { text: string } }>(
        `/api/v1/build-runs/${aliceRun}/messages`,
        { text },
      );
      expect(res.status, res.text).toBe(200);
      reply = res.body.reply.text;
      if (res.body.run.phase === 'quoted') break;
    }
    expect(reply).toMatch(/email/i);
  });

  it('validates the contact email and allows it only to the owner', async () => {
    expectError(
      await alice.post(`/api/v1/build-runs/${aliceRun}/contact`, { email: 'not-an-email' }),
      400,
      'invalid_request',
    );
    expectError(await alice.post(`/api/v1/build-runs/${aliceRun}/contact`, {}), 400, 'invalid_request');
    const created = await bob.post<{ run: PublicRun }>('/api/v1/build-runs', {});
    expect(created.status).toBe(201);
    bobRun = created.body.run.run_id;
    expectError(
      await bob.post(`/api/v1/build-runs/${aliceRun}/contact`, { email: 'eve@example.org' }),
      404,
      'not_found',
    );
    expectError(
      await new ApiClient(stack.url).post(`/api/v1/build-runs/${aliceRun}/contact`, { email: EMAIL }),
      401,
      'unauthenticated',
    );
  });

  it('session A sets the contact email; the public run shows only contact_email_set', async () => {
    const before = outboxFiles().length;
    const res = await alice.post<{ run: PublicRun }>(`/api/v1/build-runs/${aliceRun}/contact`, {
      email: '  Ada.Lovelace@Example.ORG ',
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.run).toMatchObject({ contact_email_set: true, contact_email_confirmed: false });
    expect(res.text.toLowerCase()).not.toContain('lovelace');
    const got = await alice.get<{ run: PublicRun }>(`/api/v1/build-runs/${aliceRun}`);
    expect(got.body.run.contact_email_set).toBe(true);
    expect(got.text.toLowerCase()).not.toContain('lovelace');
    // The address got a confirmation code, not a sign-in code.
    expect(outboxFiles().length).toBe(before + 1);
    expect(readMail(outboxFiles().at(-1)!)).toMatchObject({
      to: EMAIL,
      subject: expect.stringMatching(/^Confirm/),
    });
  });

  it('an unconfirmed contact gets no sign-in code', async () => {
    const before = outboxFiles().length;
    const res = await bob.post<{ sent: boolean }>('/api/v1/sessions/email-code', { email: EMAIL });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toEqual({ sent: true });
    expect(outboxFiles().length).toBe(before);
  });

  it('only the owner confirms the contact, with the code mailed to it', async () => {
    const mail = outboxFiles()
      .map(readMail)
      .filter((m) => m.subject.startsWith('Confirm'))
      .at(-1)!;
    const confirmCode = mail.text.match(/\b(\d{6})\b/)![1]!;
    expectError(
      await bob.post(`/api/v1/build-runs/${aliceRun}/contact/confirm`, { code: confirmCode }),
      404,
      'not_found',
    );
    const wrong = String((Number(confirmCode) + 1) % 1_000_000).padStart(6, '0');
    expectError(
      await alice.post(`/api/v1/build-runs/${aliceRun}/contact/confirm`, { code: wrong }),
      400,
      'invalid_code',
    );
    const ok = await alice.post<{ run: PublicRun }>(`/api/v1/build-runs/${aliceRun}/contact/confirm`, {
      code: confirmCode,
    });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.run).toMatchObject({ contact_email_set: true, contact_email_confirmed: true });
  });

  it("lists each session's own runs, newest first, without messages", async () => {
    const mine = await alice.get<{ runs: PublicRun[] }>('/api/v1/build-runs');
    expect(mine.status, mine.text).toBe(200);
    expect(mine.body.runs.map((r) => r.run_id)).toEqual([aliceRun]);
    expect(mine.body.runs[0]!.messages).toBeUndefined();
    const theirs = await bob.get<{ runs: PublicRun[] }>('/api/v1/build-runs');
    expect(theirs.body.runs.map((r) => r.run_id)).toEqual([bobRun]);
    expectError(await new ApiClient(stack.url).get('/api/v1/build-runs'), 401, 'unauthenticated');
    expectError(await bob.get(`/api/v1/build-runs/${aliceRun}`), 404, 'not_found');
  });

  it('session B requests a code: 202, the code only in the outbox and the console', async () => {
    const before = outboxFiles().length;
    const res = await bob.post<{ sent: boolean }>('/api/v1/sessions/email-code', {
      email: 'ADA.lovelace@example.org',
    });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toEqual({ sent: true });
    const files = outboxFiles();
    expect(files.length).toBe(before + 1);
    const mail = readMail(files.at(-1)!);
    expect(mail.to).toBe(EMAIL);
    code = mail.text.match(/\b(\d{6})\b/)![1]!;
    expect(mail.subject).toContain(code);
    expect(res.text).not.toContain(code);
    expect(res.setCookies).toEqual([]); // bob had a session: the code is bound to it
    await expect.poll(() => stack.output()).toContain(`[outbox] mail to ${EMAIL}: ${mail.subject}`);
  });

  it('an address without runs gets the same answer and no mail', async () => {
    const before = outboxFiles().length;
    const res = await new ApiClient(stack.url).post('/api/v1/sessions/email-code', {
      email: 'nobody@example.org',
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ sent: true, session_token: expect.any(String) });
    expect(outboxFiles().length).toBe(before);
  });

  it('the code works only in the session that asked for it', async () => {
    expectError(
      await new ApiClient(stack.url).post('/api/v1/sessions/verify', { email: EMAIL, code }),
      400,
      'invalid_code',
    );
  });

  it('a wrong code is refused with invalid_code', async () => {
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expectError(
      await bob.post('/api/v1/sessions/verify', { email: EMAIL, code: wrong }),
      400,
      'invalid_code',
    );
    expectError(
      await bob.post('/api/v1/sessions/verify', { email: EMAIL, code: 'abc' }),
      400,
      'invalid_code',
    );
    expectError(await bob.get(`/api/v1/build-runs/${aliceRun}`), 404, 'not_found');
  });

  it('the right code logs B in: a new session carrying the email resumes A’s run', async () => {
    const oldCookie = bob.cookies.get('bus_session');
    const res = await bob.post<{ session_token: string }>('/api/v1/sessions/verify', { email: EMAIL, code });
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body)).toEqual(['session_token']);
    expect(res.text.toLowerCase()).not.toContain('lovelace');
    expect(res.setCookies.some((c) => c.startsWith(`bus_session=${res.body.session_token}`))).toBe(true);
    expect(bob.cookies.get('bus_session')).not.toBe(oldCookie);

    const list = await bob.get<{ runs: PublicRun[] }>('/api/v1/build-runs');
    expect(list.status, list.text).toBe(200);
    // A's run through the verified email, and B's own run (B keeps its session id).
    expect(list.body.runs.map((r) => r.run_id).sort()).toEqual([aliceRun, bobRun].sort());
    expect(list.text.toLowerCase()).not.toContain('lovelace');
    for (const k of allKeys(list.body)) expect(k).not.toMatch(/email$|session_?id/i);

    const got = await bob.get<{ run: PublicRun }>(`/api/v1/build-runs/${aliceRun}`);
    expect(got.status, got.text).toBe(200);
    expect(got.body.run.phase).toBe('quoted');
    expect(got.body.run.messages?.length).toBeGreaterThan(0);

    // The token works as a bearer too (another browser without cookies).
    const viaBearer = new ApiClient(stack.url, { bearer: res.body.session_token, useCookies: false });
    expect((await viaBearer.get(`/api/v1/build-runs/${aliceRun}`)).status).toBe(200);
  });

  it('a used code is refused', async () => {
    expectError(await bob.post('/api/v1/sessions/verify', { email: EMAIL, code }), 400, 'invalid_code');
    expectError(
      await new ApiClient(stack.url).post('/api/v1/sessions/verify', { email: EMAIL, code }),
      400,
      'invalid_code',
    );
  });

  it('rate-limits codes per session and address: the 4th in 15 minutes is 429 with Retry-After', async () => {
    // Bob asked twice for this address already (before and after the contact was confirmed).
    expect((await bob.post('/api/v1/sessions/email-code', { email: EMAIL })).status).toBe(202);
    const limited = await bob.post<ErrorBody>('/api/v1/sessions/email-code', { email: EMAIL });
    expectError(limited, 429, 'rate_limited');
    const retry = Number(limited.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(900);
  });

  it('bob’s limit is not the owner’s: a new session of the owner still gets a working code', async () => {
    const owner = new ApiClient(stack.url);
    const before = outboxFiles().length;
    const res = await owner.post<{ sent: boolean; session_token?: string }>('/api/v1/sessions/email-code', {
      email: EMAIL,
    });
    expect(res.status, res.text).toBe(202);
    // No session yet: one is issued, and the code is bound to it.
    expect(res.body.session_token).toEqual(expect.any(String));
    expect(owner.cookies.get('bus_session')).toBe(res.body.session_token);
    expect(outboxFiles().length).toBe(before + 1);
    const ownerCode = readMail(outboxFiles().at(-1)!).text.match(/\b(\d{6})\b/)![1]!;
    const ok = await owner.post('/api/v1/sessions/verify', { email: EMAIL, code: ownerCode });
    expect(ok.status, ok.text).toBe(200);
    expect((await owner.get(`/api/v1/build-runs/${aliceRun}`)).status).toBe(200);
  });

  it('no public event or response of the whole conversation contains the address', async () => {
    const events = await alice.get(`/api/v1/build-runs/${aliceRun}/events?after=0`);
    expect(events.status).toBe(200);
    for (const c of [alice, bob])
      for (const r of c.responses) expect(r.text.toLowerCase(), r.text).not.toContain('lovelace');
  });

  it('documents the new routes in the OpenAPI document', async () => {
    const spec = await alice.get<{ paths: Record<string, Record<string, unknown>> }>('/api/v1/openapi.json');
    expect(spec.body.paths['/api/v1/build-runs']).toHaveProperty('get');
    expect(spec.body.paths['/api/v1/build-runs/{run_id}/contact']).toHaveProperty('post');
    expect(spec.body.paths['/api/v1/build-runs/{run_id}/contact/confirm']).toHaveProperty('post');
    expect(spec.body.paths['/api/v1/sessions/email-code']).toHaveProperty('post');
    expect(spec.body.paths['/api/v1/sessions/verify']).toHaveProperty('post');
  });
});

describe('DynamoLoginStore against dynalite (conditional writes)', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let store: DynamoLoginStore;
  let mailer: MemoryMailer;
  let clock: ReturnType<typeof manualClock>;
  let deps: EmailLoginDeps;
  const addr = (n: number) => `user${n}@example.org`;
  let n = 0;

  beforeAll(async () => {
    db = await startDynalite();
    store = new DynamoLoginStore(db.doc, db.tableName);
  });
  afterAll(async () => db?.stop());

  const SESSION = { sessionId: 'ses_dddddddddddddddddddddddddd' };

  async function freshAddress(): Promise<string> {
    const email = addr(++n);
    const runId = `run_${'a'.repeat(26)}`;
    await store.addRun({ kind: 'email', emailKey: emailKey(email) }, runId, '2026-11-24T10:00:00Z');
    // The run whose owner confirmed this address as its contact.
    const run = {
      ...newBuildRun({ sessionId: SESSION.sessionId, email, emailVerified: true }, clock0),
      runId,
    };
    mailer = new MemoryMailer();
    clock = manualClock();
    deps = {
      logins: store,
      runIndex: store,
      runs: { getRun: async (id) => (id === runId ? run : undefined) },
      mailer,
      pepper: async () => 'pepper',
      now: clock.now,
    };
    await requestEmailCode(deps, email, SESSION);
    return email;
  }
  const clock0 = '2026-11-24T10:00:00.000Z';
  const wrongOf = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

  it('a code works once, even when submitted concurrently', async () => {
    const email = await freshAddress();
    const code = mailer.lastCode()!;
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => verifyEmailCode(deps, email, code, SESSION)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'invalid_code' });
  });

  it('counts at most 5 attempts even under concurrent guessing; then the right code is burned', async () => {
    const email = await freshAddress();
    const code = mailer.lastCode()!;
    await Promise.allSettled(
      Array.from({ length: 12 }, () => verifyEmailCode(deps, email, wrongOf(code), SESSION)),
    );
    const item = await db.doc.send(
      new GetCommand({
        TableName: db.tableName,
        Key: { pk: `OTP#${loginCodeKey(emailKey(email), SESSION.sessionId)}`, sk: 'OTP' },
      }),
    );
    expect(item.Item?.attempts).toBe(5);
    expect(JSON.stringify(item.Item)).not.toContain(code);
    expect(item.Item?.expiresAt).toEqual(expect.any(Number));
    await expect(verifyEmailCode(deps, email, code, SESSION)).rejects.toMatchObject({ code: 'invalid_code' });
  });

  it('refuses an expired code', async () => {
    const email = await freshAddress();
    clock.advance(10 * 60 * 1000);
    await expect(verifyEmailCode(deps, email, mailer.lastCode()!, SESSION)).rejects.toMatchObject({
      code: 'invalid_code',
    });
  });

  it('rate-limit counters allow exactly the limit under concurrency, per window', async () => {
    const now = Date.parse('2026-11-24T10:00:00Z');
    const hits = await Promise.all(Array.from({ length: 10 }, () => store.hit('test:key', 3, 900, now)));
    expect(hits.filter((h) => h.allowed)).toHaveLength(3);
    expect((await store.hit('test:key', 3, 900, now + 900_000)).allowed).toBe(true);
  });

  it('lists index entries newest first and forgets removed ones', async () => {
    const owner = { kind: 'session' as const, sessionId: 'ses_cccccccccccccccccccccccccc' };
    await store.addRun(owner, 'run_one', '2026-11-24T10:00:00Z');
    await store.addRun(owner, 'run_two', '2026-11-24T11:00:00Z');
    await store.addRun(owner, 'run_three', '2026-11-24T09:00:00Z');
    expect(await store.listRunIds(owner, 10)).toEqual(['run_two', 'run_one', 'run_three']);
    await store.removeRun(owner, 'run_one');
    expect(await store.listRunIds(owner, 1)).toEqual(['run_two']);
  });
});
