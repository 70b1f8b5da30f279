import { emailKey, normaliseEmail } from '../domain/email.ts';
import { DomainError } from '../domain/errors.ts';
import {
  EMAIL_CODE_LIMIT,
  generateCode,
  hashCode,
  hashesEqual,
  IP_CODE_LIMIT,
  OTP_CODE_PATTERN,
  OTP_MAX_ATTEMPTS,
  OTP_TTL_SECONDS,
  otpRefusal,
} from '../domain/otp.ts';
import type { LoginStore, Mailer, RunIndex } from '../domain/ports.ts';
import { log } from '../log.ts';

export interface EmailLoginDeps {
  logins: LoginStore;
  runIndex: RunIndex;
  mailer: Mailer;
  /** The HMAC pepper for stored codes (the session secret). */
  pepper: () => Promise<string>;
  now: () => string;
  /** Test hook; defaults to the CSPRNG. */
  generateCode?: () => string;
}

export class RateLimitedError extends DomainError {
  override readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('rate_limited', 'Too many sign-in codes were requested. Please wait a little and try again.', 429);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** One answer for a wrong, expired, reused or burned code, so none can be told apart. */
export class InvalidCodeError extends DomainError {
  constructor() {
    super('invalid_code', 'That code is not valid. Check it, or request a new code.', 400);
  }
}

/**
 * Sends a one-time sign-in code. The caller always gets the same answer (no account enumeration):
 * a code is only mailed when the address is the contact of at least one run, so the endpoint
 * cannot be used to mail arbitrary people. Rate limits apply to every request alike: per source
 * IP (10 per hour) and per address (3 per 15 minutes), fixed windows.
 */
export async function requestEmailCode(
  deps: EmailLoginDeps,
  rawEmail: string,
  sourceIp: string | undefined,
): Promise<{ sent: true }> {
  const email = normaliseEmail(rawEmail);
  const key = emailKey(email);
  const nowMs = Date.parse(deps.now());
  if (sourceIp) {
    const ip = await deps.logins.hit(
      `ip:${sourceIp}`,
      IP_CODE_LIMIT.limit,
      IP_CODE_LIMIT.windowSeconds,
      nowMs,
    );
    if (!ip.allowed) throw new RateLimitedError(ip.retryAfterSeconds);
  }
  const byEmail = await deps.logins.hit(
    `email:${key}`,
    EMAIL_CODE_LIMIT.limit,
    EMAIL_CODE_LIMIT.windowSeconds,
    nowMs,
  );
  if (!byEmail.allowed) throw new RateLimitedError(byEmail.retryAfterSeconds);

  const runs = await deps.runIndex.listRunIds({ kind: 'email', emailKey: key }, 1);
  if (runs.length === 0) {
    log.info('sign-in code not sent: no runs for the address');
    return { sent: true };
  }
  const code = (deps.generateCode ?? generateCode)();
  await deps.logins.putCode(key, {
    codeHash: hashCode(await deps.pepper(), key, code),
    validUntilMs: nowMs + OTP_TTL_SECONDS * 1000,
  });
  await deps.mailer.send({
    to: email,
    subject: `Your BusDK Builder sign-in code: ${code}`,
    text: [
      `Your sign-in code is ${code}.`,
      '',
      `It is valid for ${OTP_TTL_SECONDS / 60} minutes and can be used once.`,
      'Enter it where you asked for it to see your build runs.',
      '',
      'If you did not ask for this code, you can ignore this message.',
    ].join('\n'),
  });
  log.info('sign-in code sent');
  return { sent: true };
}

/**
 * Checks a code. The attempt is counted first (atomically, at most OTP_MAX_ATTEMPTS per code),
 * then the code is compared in constant time, then marked used with a conditional write, so a
 * code works once even under concurrent requests. Returns the verified, normalised address.
 */
export async function verifyEmailCode(
  deps: EmailLoginDeps,
  rawEmail: string,
  rawCode: string,
): Promise<{ email: string }> {
  const email = normaliseEmail(rawEmail);
  const code = rawCode.trim();
  if (!OTP_CODE_PATTERN.test(code)) throw new InvalidCodeError();
  const key = emailKey(email);
  const nowMs = Date.parse(deps.now());
  const record = await deps.logins.countAttempt(key, OTP_MAX_ATTEMPTS);
  if (otpRefusal(record, nowMs) || !record) throw new InvalidCodeError();
  const hash = hashCode(await deps.pepper(), key, code);
  if (!hashesEqual(hash, record.codeHash)) throw new InvalidCodeError();
  if (!(await deps.logins.markUsed(key, record.codeHash, nowMs))) throw new InvalidCodeError();
  return { email };
}
