import { emailKey } from '../domain/email.ts';
import { newEvent } from '../domain/events.ts';
import { newBuildRun } from '../domain/lifecycle.ts';
import type { RunIndex } from '../domain/ports.ts';
import type { BuildRun } from '../domain/run.ts';
import type { Caller } from './access.ts';
import type { AppDeps } from './deps.ts';
import { recordEvents } from './record.ts';

/**
 * Creates a run for the caller's session. A session signed in by email gets that (verified)
 * address as the run's contact. Index entries are written first: an entry whose run was never
 * stored is skipped when listing, while a stored run is always listed.
 */
export async function createRun(deps: AppDeps, caller: Caller, runIndex: RunIndex): Promise<BuildRun> {
  const owner = caller.email
    ? { sessionId: caller.sessionId, email: caller.email, emailVerified: true }
    : { sessionId: caller.sessionId, emailVerified: false };
  const run = newBuildRun(owner, deps.now());
  await runIndex.addRun({ kind: 'session', sessionId: caller.sessionId }, run.runId, run.createdAt);
  if (caller.email)
    await runIndex.addRun({ kind: 'email', emailKey: emailKey(caller.email) }, run.runId, run.createdAt);
  await deps.store.createRun(run);
  await recordEvents(deps, run.runId, [newEvent('bus.build.run.requested', {})]);
  return run;
}
