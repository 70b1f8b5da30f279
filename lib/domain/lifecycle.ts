import { newRunId, newTaskRef } from './ids.ts';
import {
  assertTransition,
  IllegalTransitionError,
  isRevisionEntry,
  type Phase,
  TERMINAL_PHASES,
} from './phases.ts';
import type { BuildRun, Owner } from './run.ts';
import { currentVersion } from './versions.ts';

export function newBuildRun(owner: Owner, now: string, runId: string = newRunId()): BuildRun {
  return {
    runId,
    owner,
    phase: 'drafting',
    taskRef: newTaskRef(),
    attempts: 0,
    artifacts: [],
    payment: { status: 'none' },
    intake: { questionsAsked: 0, requestText: '' },
    verification: [],
    evidence: [],
    createdAt: now,
    updatedAt: now,
    version: 0,
  };
}

export type RunPatch = Partial<Omit<BuildRun, 'runId' | 'owner' | 'phase' | 'version' | 'createdAt'>> & {
  owner?: Owner;
};

/**
 * The only way a run changes phase: validates the transition and returns the next run with the
 * version bumped. The store persists it with a condition on the previous phase and version.
 */
export function transition(run: BuildRun, to: Phase, patch: RunPatch, now: string): BuildRun {
  assertTransition(run.phase, to);
  // `→ quoted` after delivery or a failure is either a change request (it needs a delivered
  // version and names the revision it opens) or an operator retry of a failed card-paid run that
  // goes back to its quote for a new checkout (it counts a retry).
  const retry = run.phase === 'failed' && (patch.retries ?? 0) > (run.retries ?? 0);
  const change = Boolean(currentVersion(run) && (patch.revision ?? run.revision));
  if (isRevisionEntry(run.phase, to) && !retry && !change) throw new IllegalTransitionError(run.phase, to);
  return {
    ...run,
    ...patch,
    phase: to,
    updatedAt: now,
    endedAt: TERMINAL_PHASES.includes(to) ? now : undefined,
    version: run.version + 1,
  };
}

/** A change that keeps the phase (e.g. a re-quote or a recorded approval request). */
export function update(run: BuildRun, patch: RunPatch, now: string): BuildRun {
  return { ...run, ...patch, updatedAt: now, version: run.version + 1 };
}

/**
 * A run belongs to the session that created it, and to any session signed in by email (one-time
 * code) with the run's contact address — but only when the run's owner confirmed that address
 * (`emailVerified`: a confirmation code, or set while signed in with it). `verifiedEmail` proves
 * control of the address; the confirmation proves the run's owner chose it.
 */
export function isOwnedBy(run: BuildRun, sessionId: string | undefined, verifiedEmail?: string): boolean {
  if (sessionId && run.owner.sessionId === sessionId) return true;
  // An email sign-in owns only runs whose contact its owner confirmed: a run planted with someone
  // else's address as its (unconfirmed) contact never reaches that person's list.
  if (
    verifiedEmail &&
    run.owner.emailVerified &&
    run.owner.email !== undefined &&
    run.owner.email === verifiedEmail
  )
    return true;
  return false;
}
