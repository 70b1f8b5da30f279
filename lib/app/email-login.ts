import { emailKey, hasConfirmedContact, normaliseEmail } from '../domain/email.ts';
import { DomainError } from '../domain/errors.ts';
import {
  EMAIL_CODE_LIMIT,
  generateCode,
  hashCode,
  hashesEqual,
  IP_CODE_LIMIT,
  loginCodeKey,
  OTP_CODE_PATTERN,
  OTP_MAX_ATTEMPTS,
  OTP_TTL_SECONDS,
  otpRefusal,
  REQUESTER_CODE_LIMIT,
} from '../domain/otp.ts';
import type { LoginStore, Mailer, RateCounter, RunIndex, RunStore } from '../domain/ports.ts';
import { log } from '../log.ts';
import { enforceLimits, type Limit } from './quotas.ts';

export interface EmailLoginDeps {
  logins: LoginStore;
  runIndex: RunIndex;
  /** Reads the indexed runs: a code goes only to an address some run's owner confirmed. */
  runs: Pick<RunStore, 'getRun'>;
  mailer: Mailer;
  /** The HMAC pepper for stored codes (the session secret). */
  pepper: () => Promise<string>;
  now: () => string;
  /** Test hook; defaults to the CSPRNG. */
  generateCode?: () => string;
}

/** Who asks: the session the code is bound to (entered in the same session) and its source IP. */
export interface Requester {
  sessionId: string;
  sourceIp?: string;
}

const TOO_MANY_CODES = 'Too many codes were requested. Please wait a little and try again.';

/** The code limits: each one counted in turn; the first one over throws RateLimitedError. */
export function enforceCodeLimits(counter: RateCounter, nowMs: number, limits: Limit[]): Promise<void> {
  return enforceLimits(counter, nowMs, limits, TOO_MANY_CODES);
}

/** One answer for a wrong, expired, reused or burned code, so none can be told apart. */
export class InvalidCodeError extends DomainError {
  constructor() {
    super('invalid_code', 'That code is not valid. Check it, or request a new code.', 400);
  }
}

/**
 * Sends a one-time sign-in code. The caller always gets the same answer (no account enumeration):
 * a code is only mailed when the address is the CONFIRMED contact of at least one run, so the
 * endpoint cannot be used to mail arbitrary people. The code is bound to the requesting session
 * (stored per address and session) and must be entered there. Limits, none shared between
 * requesters so nobody can lock an owner out: per source IP (10 per hour), per session (5 per
 * hour) and per session and address (3 per 15 minutes), fixed windows.
 */
export async function requestEmailCode(
  deps: EmailLoginDeps,
  rawEmail: string,
  requester: Requester,
): Promise<{ sent: true }> {
  const email = normaliseEmail(rawEmail);
  const key = emailKey(email);
  const nowMs = Date.parse(deps.now());
  await enforceCodeLimits(deps.logins, nowMs, [
    ...(requester.sourceIp ? [{ key: `ip:${requester.sourceIp}`, ...IP_CODE_LIMIT }] : []),
    { key: `session:${requester.sessionId}`, ...REQUESTER_CODE_LIMIT },
    { key: `email:${key}:${requester.sessionId}`, ...EMAIL_CODE_LIMIT },
  ]);

  if (!(await hasConfirmedRun(deps, email, key))) {
    log.info('sign-in code not sent: no run with this confirmed contact');
    return { sent: true };
  }
  const code = (deps.generateCode ?? generateCode)();
  await deps.logins.putCode(loginCodeKey(key, requester.sessionId), {
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

/** Whether an indexed run has this address as its owner-confirmed contact (stale entries skipped). */
async function hasConfirmedRun(deps: EmailLoginDeps, email: string, key: string): Promise<boolean> {
  const ids = await deps.runIndex.listRunIds({ kind: 'email', emailKey: key }, 20);
  for (const id of ids) {
    const run = await deps.runs.getRun(id);
    if (run && run.owner.email === email && hasConfirmedContact(run)) return true;
  }
  return false;
}

/**
 * Checks a code of this requester (session). The attempt is counted first (atomically, at most
 * OTP_MAX_ATTEMPTS per code), then the code is compared in constant time, then marked used with a
 * conditional write, so a code works once even under concurrent requests. Another session's
 * guesses count against its own code only. Returns the verified, normalised address.
 */
export async function verifyEmailCode(
  deps: EmailLoginDeps,
  rawEmail: string,
  rawCode: string,
  requester: Pick<Requester, 'sessionId'> | undefined,
): Promise<{ email: string }> {
  const email = normaliseEmail(rawEmail);
  const code = rawCode.trim();
  if (!requester || !OTP_CODE_PATTERN.test(code)) throw new InvalidCodeError();
  const key = emailKey(email);
  const codeKey = loginCodeKey(key, requester.sessionId);
  const nowMs = Date.parse(deps.now());
  const record = await deps.logins.countAttempt(codeKey, OTP_MAX_ATTEMPTS);
  if (otpRefusal(record, nowMs) || !record) throw new InvalidCodeError();
  const hash = hashCode(await deps.pepper(), key, code);
  if (!hashesEqual(hash, record.codeHash)) throw new InvalidCodeError();
  if (!(await deps.logins.markUsed(codeKey, record.codeHash, nowMs))) throw new InvalidCodeError();
  return { email };
}
