import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { StoredOtp } from './ports.ts';

/**
 * One-time sign-in codes: pure rules, no storage. A code is 6 decimal digits from the CSPRNG,
 * valid for 10 minutes, usable once, and burned after 5 attempts. Only a peppered HMAC of it is
 * ever stored; the pepper is the session secret, so a leaked table does not reveal codes.
 */
export const OTP_DIGITS = 6;
export const OTP_TTL_SECONDS = 10 * 60;
export const OTP_MAX_ATTEMPTS = 5;

/**
 * Limits on sending codes. None is shared by everyone who names an address, so nobody can use up
 * an owner's quota: a requester (one session) may ask for 3 sign-in codes per address per 15
 * minutes and 5 in all per hour, a source IP for 10 per hour. Each requester's code is its own
 * (stored per address AND session), so another requester's wrong guesses never burn it.
 */
export const EMAIL_CODE_LIMIT = { limit: 3, windowSeconds: 15 * 60 } as const;
export const REQUESTER_CODE_LIMIT = { limit: 5, windowSeconds: 60 * 60 } as const;
export const IP_CODE_LIMIT = { limit: 10, windowSeconds: 60 * 60 } as const;
/** Contact confirmation codes: per session 5 per 15 minutes, per source IP 20 per hour. */
export const CONTACT_CODE_LIMIT = { limit: 5, windowSeconds: 15 * 60 } as const;
export const CONTACT_IP_CODE_LIMIT = { limit: 20, windowSeconds: 60 * 60 } as const;

/** Where a requester's sign-in code for an address is stored (`OTP#{key}`). */
export const loginCodeKey = (emailKey: string, sessionId: string) => `login:${emailKey}:${sessionId}`;
/** Where a run's contact confirmation code is stored; its hash binds run and address. */
export const contactCodeKey = (runId: string) => `contact:${runId}`;
export const contactCodeBinding = (runId: string, emailKey: string) => `${runId}:${emailKey}`;

export const OTP_CODE_PATTERN = /^\d{6}$/;

export function generateCode(): string {
  return String(randomInt(0, 10 ** OTP_DIGITS)).padStart(OTP_DIGITS, '0');
}

/**
 * HMAC-SHA256(pepper, binding ":" code), hex. The binding is the address key (sign-in codes) or
 * run and address key (contact confirmation), so a code works only for what it was sent for.
 */
export function hashCode(pepper: string, binding: string, code: string): string {
  if (!pepper) throw new Error('an OTP pepper is required');
  return createHmac('sha256', pepper).update(`${binding}:${code}`).digest('hex');
}

/** Constant-time comparison of two hex hashes. */
export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export type OtpRefusal = 'missing' | 'expired' | 'used' | 'burned' | 'mismatch';

/**
 * Why a counted attempt cannot succeed, or undefined when the code may be compared. `attempts`
 * is the count after this attempt was added: attempts are counted before the comparison, so even
 * concurrent guesses can never compare more than OTP_MAX_ATTEMPTS times.
 */
export function otpRefusal(record: StoredOtp | undefined, nowMs: number): OtpRefusal | undefined {
  if (!record) return 'missing';
  if (record.used) return 'used';
  if (nowMs >= record.validUntilMs) return 'expired';
  if (record.attempts > OTP_MAX_ATTEMPTS) return 'burned';
  return undefined;
}

/** Start of the fixed rate-limit window containing `nowMs`, and seconds until it ends. */
export function rateWindow(
  nowMs: number,
  windowSeconds: number,
): { start: number; retryAfterSeconds: number } {
  const windowMs = windowSeconds * 1000;
  const start = Math.floor(nowMs / windowMs) * windowMs;
  return { start, retryAfterSeconds: Math.max(1, Math.ceil((start + windowMs - nowMs) / 1000)) };
}
