import { emailKey, normaliseEmail } from '../domain/email.ts';
import { DomainError } from '../domain/errors.ts';
import { update } from '../domain/lifecycle.ts';
import {
  CONTACT_CODE_LIMIT,
  CONTACT_IP_CODE_LIMIT,
  contactCodeBinding,
  contactCodeKey,
  generateCode,
  hashCode,
  hashesEqual,
  OTP_CODE_PATTERN,
  OTP_MAX_ATTEMPTS,
  OTP_TTL_SECONDS,
  otpRefusal,
} from '../domain/otp.ts';
import type { LoginStore, Mailer, RunIndex, RunStore } from '../domain/ports.ts';
import type { BuildRun } from '../domain/run.ts';
import { log } from '../log.ts';
import { type Caller, loadOwnedRun } from './access.ts';
import { enforceCodeLimits, InvalidCodeError } from './email-login.ts';

export interface ContactDeps {
  store: RunStore;
  runIndex: RunIndex;
  logins: LoginStore;
  mailer: Mailer;
  /** The HMAC pepper for stored codes (the session secret). */
  pepper: () => Promise<string>;
  now: () => string;
  /** Test hook; defaults to the CSPRNG. */
  generateCode?: () => string;
}

/** Phases in which the contact address may be set, changed or confirmed (before approval). */
const CONTACT_PHASES = ['drafting', 'quoted'] as const;

function assertContactPhase(run: BuildRun): void {
  if (!(CONTACT_PHASES as readonly string[]).includes(run.phase))
    throw new DomainError(
      'contact_locked',
      'The contact address can no longer be changed for this build run.',
      409,
    );
}

/**
 * Sets the run's contact address (owner only, before approval). It counts only once its owner
 * confirmed it: set while signed in with that very address, it is confirmed at once; otherwise
 * the address gets a one-time confirmation code (bound to this run and address, 10 minutes, 5
 * attempts) which the owner enters with `confirmContact`. Setting the same unconfirmed address
 * again sends a new code. Only a confirmed contact is indexed under `EMAIL#{sha256}`, so only it
 * can receive sign-in codes and join an email login's list. Limits on confirmation codes: 5 per
 * session per 15 minutes, 20 per source IP per hour.
 */
export async function setContact(
  deps: ContactDeps,
  caller: Caller,
  runId: string,
  rawEmail: string,
  sourceIp?: string,
): Promise<BuildRun> {
  const run = await loadOwnedRun(deps.store, runId, caller);
  assertContactPhase(run);
  const email = normaliseEmail(rawEmail);
  const previous = run.owner.email;
  if (previous === email && run.owner.emailVerified) return run;
  const signedInWithIt = caller.email !== undefined && normaliseEmail(caller.email) === email;
  const nowMs = Date.parse(deps.now());
  if (!signedInWithIt)
    await enforceCodeLimits(deps.logins, nowMs, [
      { key: `contact-session:${caller.sessionId}`, ...CONTACT_CODE_LIMIT },
      ...(sourceIp ? [{ key: `contact-ip:${sourceIp}`, ...CONTACT_IP_CODE_LIMIT }] : []),
    ]);

  const next =
    previous === email && run.owner.emailVerified === signedInWithIt
      ? run
      : update(run, { owner: { ...run.owner, email, emailVerified: signedInWithIt } }, deps.now());
  if (next !== run) await deps.store.saveRun(next, { phase: run.phase, version: run.version });
  if (previous && previous !== email)
    await deps.runIndex.removeRun({ kind: 'email', emailKey: emailKey(previous) }, run.runId);
  if (signedInWithIt) {
    await deps.runIndex.addRun({ kind: 'email', emailKey: emailKey(email) }, run.runId, run.createdAt);
    return next;
  }
  const code = (deps.generateCode ?? generateCode)();
  await deps.logins.putCode(contactCodeKey(run.runId), {
    codeHash: hashCode(await deps.pepper(), contactCodeBinding(run.runId, emailKey(email)), code),
    validUntilMs: nowMs + OTP_TTL_SECONDS * 1000,
  });
  await deps.mailer.send({
    to: email,
    subject: `Confirm your email for BusDK Builder: ${code}`,
    text: [
      `Your confirmation code is ${code}.`,
      '',
      `Enter it in the chat where you gave this address. It is valid for ${OTP_TTL_SECONDS / 60} minutes.`,
      'Once confirmed, we can reach you about your build and you can sign in with this address.',
      '',
      'If you did not give this address, ignore this message: nothing is linked to it.',
    ].join('\n'),
  });
  log.info('contact confirmation code sent', { runId: run.runId });
  return next;
}

/**
 * The owner enters the confirmation code mailed to the run's contact address: the contact counts
 * from now on (`emailVerified`) and the run joins that address's email login. A wrong, expired,
 * used or burned code is 400 `invalid_code`; only the run's owner can try (others get 404).
 */
export async function confirmContact(
  deps: ContactDeps,
  caller: Caller,
  runId: string,
  rawCode: string,
): Promise<BuildRun> {
  const run = await loadOwnedRun(deps.store, runId, caller);
  const email = run.owner.email;
  if (email && run.owner.emailVerified) return run;
  assertContactPhase(run);
  const code = rawCode.trim();
  if (!email || !OTP_CODE_PATTERN.test(code)) throw new InvalidCodeError();
  const nowMs = Date.parse(deps.now());
  const key = contactCodeKey(run.runId);
  const record = await deps.logins.countAttempt(key, OTP_MAX_ATTEMPTS);
  if (otpRefusal(record, nowMs) || !record) throw new InvalidCodeError();
  const hash = hashCode(await deps.pepper(), contactCodeBinding(run.runId, emailKey(email)), code);
  if (!hashesEqual(hash, record.codeHash)) throw new InvalidCodeError();
  if (!(await deps.logins.markUsed(key, record.codeHash, nowMs))) throw new InvalidCodeError();
  const next = update(run, { owner: { ...run.owner, emailVerified: true } }, deps.now());
  await deps.store.saveRun(next, { phase: run.phase, version: run.version });
  await deps.runIndex.addRun({ kind: 'email', emailKey: emailKey(email) }, run.runId, run.createdAt);
  log.info('contact confirmed', { runId: run.runId });
  return next;
}
