import { beforeEach, describe, expect, it } from 'vitest';
import {
  type EmailLoginDeps,
  InvalidCodeError,
  requestEmailCode,
  verifyEmailCode,
} from '../../lib/app/email-login.ts';
import { emailKey } from '../../lib/domain/email.ts';
import { RateLimitedError } from '../../lib/domain/errors.ts';
import { newBuildRun } from '../../lib/domain/lifecycle.ts';
import {
  generateCode,
  hashCode,
  hashesEqual,
  loginCodeKey,
  OTP_MAX_ATTEMPTS,
  otpRefusal,
  rateWindow,
} from '../../lib/domain/otp.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { MemoryLoginStore, MemoryMailer, manualClock } from './email-fakes.ts';

process.env.LOG_LEVEL = 'silent';

const PEPPER = 'pepper-pepper-pepper-pepper-pepper';
const EMAIL = 'ada@example.org';
const RUN = 'run_aaaaaaaaaaaaaaaaaaaaaaaaaa';
/** The session that asks for (and enters) the code, and a third party's. */
const OWNER_SESSION = 'ses_oooooooooooooooooooooooooo';
const OTHER_SESSION = 'ses_xxxxxxxxxxxxxxxxxxxxxxxxxx';

describe('one-time code rules (pure)', () => {
  it('generates 6-digit codes from the CSPRNG', () => {
    const codes = Array.from({ length: 2000 }, generateCode);
    for (const c of codes) expect(c).toMatch(/^\d{6}$/);
    expect(new Set(codes).size).toBeGreaterThan(1900);
    expect(codes.some((c) => c.startsWith('0'))).toBe(true);
  });

  it('hashes with the pepper, bound to the address; compares in constant time', () => {
    const h = hashCode(PEPPER, emailKey(EMAIL), '123456');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).not.toContain('123456');
    expect(hashesEqual(h, hashCode(PEPPER, emailKey(EMAIL), '123456'))).toBe(true);
    expect(hashesEqual(h, hashCode('other-pepper', emailKey(EMAIL), '123456'))).toBe(false);
    expect(hashesEqual(h, hashCode(PEPPER, emailKey('bob@example.org'), '123456'))).toBe(false);
    expect(hashesEqual(h, hashCode(PEPPER, emailKey(EMAIL), '123457'))).toBe(false);
    expect(hashesEqual(h, '')).toBe(false);
    expect(() => hashCode('', emailKey(EMAIL), '123456')).toThrow();
  });

  it('refuses missing, used, expired and over-attempted codes', () => {
    const ok = { codeHash: 'ab', validUntilMs: 1000, attempts: 1, used: false };
    expect(otpRefusal(ok, 999)).toBeUndefined();
    expect(otpRefusal(undefined, 0)).toBe('missing');
    expect(otpRefusal({ ...ok, used: true }, 0)).toBe('used');
    expect(otpRefusal(ok, 1000)).toBe('expired');
    expect(otpRefusal({ ...ok, attempts: OTP_MAX_ATTEMPTS }, 0)).toBeUndefined();
    expect(otpRefusal({ ...ok, attempts: OTP_MAX_ATTEMPTS + 1 }, 0)).toBe('burned');
  });

  it('uses fixed windows with a positive Retry-After', () => {
    expect(rateWindow(900_000 + 1000, 900)).toEqual({ start: 900_000, retryAfterSeconds: 899 });
    expect(rateWindow(1_799_999, 900).retryAfterSeconds).toBe(1);
  });
});

describe('email login use cases', () => {
  let logins: MemoryLoginStore;
  let mailer: MemoryMailer;
  let clock: ReturnType<typeof manualClock>;
  let deps: EmailLoginDeps;
  let ipCounter = 0;
  /** A fresh source IP per call, so only the per-address limit applies unless a test pins one. */
  const ip = () => `10.0.0.${++ipCounter}`;

  /** Runs by id: RUN has EMAIL as its owner-confirmed contact (others are added by tests). */
  let runs: Map<string, BuildRun>;
  const withContact = (email: string, confirmed: boolean, id = RUN): BuildRun => ({
    ...newBuildRun(
      { sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa', email, emailVerified: confirmed },
      clock.now(),
    ),
    runId: id,
  });

  beforeEach(async () => {
    logins = new MemoryLoginStore();
    mailer = new MemoryMailer();
    clock = manualClock();
    runs = new Map([[RUN, withContact(EMAIL, true)]]);
    deps = {
      logins,
      runIndex: logins,
      runs: { getRun: async (id) => runs.get(id) },
      mailer,
      pepper: async () => PEPPER,
      now: clock.now,
    };
    await logins.addRun({ kind: 'email', emailKey: emailKey(EMAIL) }, RUN, clock.now());
  });

  const request = (email = EMAIL, sourceIp = ip(), sessionId = OWNER_SESSION) =>
    requestEmailCode(deps, email, { sessionId, sourceIp });
  const verify = (code: string, email = EMAIL, sessionId = OWNER_SESSION) =>
    verifyEmailCode(deps, email, code, { sessionId });
  const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

  it('mails a code, stores only its peppered hash, and verifies it once', async () => {
    expect(await request(' ADA@example.org ')).toEqual({ sent: true });
    expect(mailer.sent).toHaveLength(1);
    expect(mailer.sent[0]!.to).toBe(EMAIL);
    const code = mailer.lastCode()!;
    expect(code).toMatch(/^\d{6}$/);
    const stored = logins.codes.get(loginCodeKey(emailKey(EMAIL), OWNER_SESSION))!;
    expect(JSON.stringify(stored)).not.toContain(code);
    expect(stored.codeHash).toBe(hashCode(PEPPER, emailKey(EMAIL), code));
    expect(stored.validUntilMs).toBe(Date.parse(clock.now()) + 10 * 60 * 1000);

    expect(await verify(code, 'Ada@Example.org')).toEqual({ email: EMAIL });
    await expect(verify(code)).rejects.toBeInstanceOf(InvalidCodeError);
  });

  it('refuses a wrong code with the same error as a reused or expired one', async () => {
    await request();
    const code = mailer.lastCode()!;
    const errors: unknown[] = [];
    await verify(wrong(code)).catch((e) => errors.push(e));
    await verify('12ab56').catch((e) => errors.push(e));
    await verify(code);
    await verify(code).catch((e) => errors.push(e));
    await request();
    clock.advance(10 * 60 * 1000);
    await verify(mailer.lastCode()!).catch((e) => errors.push(e));
    await verify('000000', 'nobody@example.org').catch((e) => errors.push(e));
    expect(errors).toHaveLength(5);
    for (const e of errors)
      expect(e).toMatchObject({ code: 'invalid_code', status: 400, message: (errors[0] as Error).message });
  });

  it('accepts a code until 10 minutes have passed, not after', async () => {
    await request();
    clock.advance(10 * 60 * 1000 - 1);
    expect(await verify(mailer.lastCode()!)).toEqual({ email: EMAIL });
    await request();
    clock.advance(10 * 60 * 1000);
    await expect(verify(mailer.lastCode()!)).rejects.toMatchObject({ code: 'invalid_code' });
  });

  it('burns the code after 5 wrong attempts: the right code no longer works', async () => {
    await request();
    const code = mailer.lastCode()!;
    for (let i = 0; i < OTP_MAX_ATTEMPTS; i++)
      await expect(verify(wrong(code))).rejects.toThrow(InvalidCodeError);
    await expect(verify(code)).rejects.toThrow(InvalidCodeError);
  });

  it('the right code still works after 4 wrong attempts', async () => {
    await request();
    const code = mailer.lastCode()!;
    for (let i = 0; i < OTP_MAX_ATTEMPTS - 1; i++) await expect(verify(wrong(code))).rejects.toThrow();
    expect(await verify(code)).toEqual({ email: EMAIL });
  });

  it('a new code replaces the previous one', async () => {
    await request();
    const first = mailer.lastCode()!;
    clock.advance(1000);
    await request();
    const second = mailer.lastCode()!;
    if (first !== second) await expect(verify(first)).rejects.toThrow(InvalidCodeError);
    expect(await verify(second)).toEqual({ email: EMAIL });
  });

  it('a code for one address does not log in another', async () => {
    runs.set(
      'run_bbbbbbbbbbbbbbbbbbbbbbbbbb',
      withContact('bob@example.org', true, 'run_bbbbbbbbbbbbbbbbbbbbbbbbbb'),
    );
    await logins.addRun(
      { kind: 'email', emailKey: emailKey('bob@example.org') },
      'run_bbbbbbbbbbbbbbbbbbbbbbbbbb',
      clock.now(),
    );
    await request();
    await expect(verify(mailer.lastCode()!, 'bob@example.org')).rejects.toThrow(InvalidCodeError);
  });

  it('answers the same for an address without runs, but mails nothing', async () => {
    expect(await request('stranger@example.org')).toEqual({ sent: true });
    expect(mailer.sent).toHaveLength(0);
    await expect(verify('123456', 'stranger@example.org')).rejects.toThrow(InvalidCodeError);
  });

  it('limits codes per session and address: 3 per 15 minutes, with Retry-After', async () => {
    for (let i = 0; i < 3; i++) await request();
    const err = await request().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ code: 'rate_limited', status: 429 });
    const retry = (err as RateLimitedError).retryAfterSeconds;
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(15 * 60);
    expect(mailer.sent).toHaveLength(3);
    // Another address is not affected; the same one is allowed again after the window.
    expect(await request('stranger@example.org')).toEqual({ sent: true });
    clock.advance(retry * 1000);
    expect(await request(EMAIL, ip(), OTHER_SESSION)).toEqual({ sent: true });
    expect(mailer.sent).toHaveLength(4);
  });

  it('limits codes per session: 5 per hour, whatever the address', async () => {
    for (let i = 0; i < 5; i++) await request(`user${i}@example.org`);
    await expect(request('user9@example.org')).rejects.toMatchObject({ code: 'rate_limited' });
    expect(await request('user9@example.org', ip(), OTHER_SESSION)).toEqual({ sent: true });
  });

  it('a third party cannot lock the owner out: its requests and wrong guesses touch only its own code', async () => {
    // The attacker uses up every per-session limit it has for the address and guesses wrong
    // until its own code burns.
    for (let i = 0; i < 3; i++) await request(EMAIL, '198.51.100.9', OTHER_SESSION);
    await expect(request(EMAIL, '198.51.100.9', OTHER_SESSION)).rejects.toMatchObject({
      code: 'rate_limited',
    });
    const attackersCode = mailer.lastCode()!;
    for (let i = 0; i < OTP_MAX_ATTEMPTS + 3; i++)
      await verify(wrong(attackersCode), EMAIL, OTHER_SESSION).catch(() => undefined);
    // The owner still gets a code, and it works; the attacker's mails cannot be used by the owner's
    // session and the owner's code cannot be used by the attacker's.
    expect(await request(EMAIL, '203.0.113.5', OWNER_SESSION)).toEqual({ sent: true });
    const ownersCode = mailer.lastCode()!;
    if (ownersCode !== attackersCode) {
      await expect(verify(attackersCode, EMAIL, OWNER_SESSION)).rejects.toThrow(InvalidCodeError);
    }
    await expect(verify(ownersCode, EMAIL, OTHER_SESSION)).rejects.toThrow(InvalidCodeError);
    expect(await verify(ownersCode, EMAIL, OWNER_SESSION)).toEqual({ email: EMAIL });
  });

  it('a burned code never blocks a new one', async () => {
    await request();
    const code = mailer.lastCode()!;
    for (let i = 0; i < OTP_MAX_ATTEMPTS; i++) await verify(wrong(code)).catch(() => undefined);
    await expect(verify(code)).rejects.toThrow(InvalidCodeError);
    await request();
    expect(await verify(mailer.lastCode()!)).toEqual({ email: EMAIL });
  });

  it('never mails a sign-in code to an address that is only an unconfirmed contact', async () => {
    const victim = 'victim@example.org';
    const planted = 'run_pppppppppppppppppppppppppp';
    runs.set(planted, withContact(victim, false, planted));
    // Even with an index entry (e.g. one written before contacts needed confirming).
    await logins.addRun({ kind: 'email', emailKey: emailKey(victim) }, planted, clock.now());
    expect(await request(victim, ip(), OTHER_SESSION)).toEqual({ sent: true });
    expect(mailer.sent).toEqual([]);
    // Once a run's owner confirmed the address, it gets codes.
    runs.set(planted, withContact(victim, true, planted));
    await request(victim, ip(), OTHER_SESSION);
    expect(mailer.sent.map((m) => m.to)).toEqual([victim]);
  });

  it('a code is bound to the session that asked for it; without a session it is invalid', async () => {
    await request();
    const code = mailer.lastCode()!;
    await expect(verifyEmailCode(deps, EMAIL, code, undefined)).rejects.toThrow(InvalidCodeError);
    await expect(verify(code, EMAIL, OTHER_SESSION)).rejects.toThrow(InvalidCodeError);
    expect(await verify(code)).toEqual({ email: EMAIL });
  });

  it('limits codes per source IP: 10 per hour, whatever the address', async () => {
    for (let i = 0; i < 10; i++)
      await request(`user${i}@example.org`, '192.0.2.7', `ses_${String(i).padStart(26, 'q')}`);
    await expect(request('user99@example.org', '192.0.2.7', OTHER_SESSION)).rejects.toMatchObject({
      code: 'rate_limited',
      status: 429,
    });
    expect(await request('user99@example.org', '192.0.2.8')).toEqual({ sent: true });
  });
});
