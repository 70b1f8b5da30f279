import { beforeEach, describe, expect, it } from 'vitest';
import {
  type EmailLoginDeps,
  InvalidCodeError,
  RateLimitedError,
  requestEmailCode,
  verifyEmailCode,
} from '../../lib/app/email-login.ts';
import { emailKey } from '../../lib/domain/email.ts';
import {
  generateCode,
  hashCode,
  hashesEqual,
  OTP_MAX_ATTEMPTS,
  otpRefusal,
  rateWindow,
} from '../../lib/domain/otp.ts';
import { MemoryLoginStore, MemoryMailer, manualClock } from './email-fakes.ts';

process.env.LOG_LEVEL = 'silent';

const PEPPER = 'pepper-pepper-pepper-pepper-pepper';
const EMAIL = 'ada@example.org';
const RUN = 'run_aaaaaaaaaaaaaaaaaaaaaaaaaa';

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

  beforeEach(async () => {
    logins = new MemoryLoginStore();
    mailer = new MemoryMailer();
    clock = manualClock();
    deps = { logins, runIndex: logins, mailer, pepper: async () => PEPPER, now: clock.now };
    await logins.addRun({ kind: 'email', emailKey: emailKey(EMAIL) }, RUN, clock.now());
  });

  const request = (email = EMAIL, sourceIp = ip()) => requestEmailCode(deps, email, sourceIp);
  const verify = (code: string, email = EMAIL) => verifyEmailCode(deps, email, code);
  const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

  it('mails a code, stores only its peppered hash, and verifies it once', async () => {
    expect(await request(' ADA@example.org ')).toEqual({ sent: true });
    expect(mailer.sent).toHaveLength(1);
    expect(mailer.sent[0]!.to).toBe(EMAIL);
    const code = mailer.lastCode()!;
    expect(code).toMatch(/^\d{6}$/);
    const stored = logins.codes.get(emailKey(EMAIL))!;
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
    await logins.addRun({ kind: 'email', emailKey: emailKey('bob@example.org') }, RUN, clock.now());
    await request();
    await expect(verify(mailer.lastCode()!, 'bob@example.org')).rejects.toThrow(InvalidCodeError);
  });

  it('answers the same for an address without runs, but mails nothing', async () => {
    expect(await request('stranger@example.org')).toEqual({ sent: true });
    expect(mailer.sent).toHaveLength(0);
    await expect(verify('123456', 'stranger@example.org')).rejects.toThrow(InvalidCodeError);
  });

  it('limits codes per address: 3 per 15 minutes, with Retry-After', async () => {
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
    expect(await request()).toEqual({ sent: true });
    expect(mailer.sent).toHaveLength(4);
  });

  it('limits codes per source IP: 10 per hour, whatever the address', async () => {
    for (let i = 0; i < 10; i++) await request(`user${i}@example.org`, '192.0.2.7');
    await expect(request('user99@example.org', '192.0.2.7')).rejects.toMatchObject({
      code: 'rate_limited',
      status: 429,
    });
    expect(await request('user99@example.org', '192.0.2.8')).toEqual({ sent: true });
  });
});
