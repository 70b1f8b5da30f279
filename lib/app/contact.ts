import { emailKey, normaliseEmail } from '../domain/email.ts';
import { DomainError } from '../domain/errors.ts';
import { update } from '../domain/lifecycle.ts';
import type { RunIndex, RunStore } from '../domain/ports.ts';
import type { BuildRun } from '../domain/run.ts';
import { type Caller, loadOwnedRun } from './access.ts';

export interface ContactDeps {
  store: RunStore;
  runIndex: RunIndex;
  now: () => string;
}

/** Phases in which the contact address may be set or changed (before approval). */
const CONTACT_PHASES = ['drafting', 'quoted'] as const;

/**
 * Sets the run's contact address (owner only, before approval). The address is stored on the run
 * (verified only when the caller's session was signed in with that very address) and indexed under
 * `EMAIL#{sha256}` so an email login can find the run. Changing it drops the old index entry.
 */
export async function setContact(
  deps: ContactDeps,
  caller: Caller,
  runId: string,
  rawEmail: string,
): Promise<BuildRun> {
  const run = await loadOwnedRun(deps.store, runId, caller);
  if (!(CONTACT_PHASES as readonly string[]).includes(run.phase))
    throw new DomainError(
      'contact_locked',
      'The contact address can no longer be changed for this build run.',
      409,
    );
  const email = normaliseEmail(rawEmail);
  const verified = caller.email !== undefined && normaliseEmail(caller.email) === email;
  const previous = run.owner.email;
  const emailVerified = previous === email ? run.owner.emailVerified || verified : verified;
  const next =
    previous === email && emailVerified === run.owner.emailVerified
      ? run
      : update(run, { owner: { ...run.owner, email, emailVerified } }, deps.now());
  if (next !== run) await deps.store.saveRun(next, { phase: run.phase, version: run.version });
  await deps.runIndex.addRun({ kind: 'email', emailKey: emailKey(email) }, run.runId, run.createdAt);
  if (previous && previous !== email)
    await deps.runIndex.removeRun({ kind: 'email', emailKey: emailKey(previous) }, run.runId);
  return next;
}
