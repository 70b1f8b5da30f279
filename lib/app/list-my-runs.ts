import { emailKey } from '../domain/email.ts';
import { isOwnedBy } from '../domain/lifecycle.ts';
import type { RunIndex, RunStore } from '../domain/ports.ts';
import type { BuildRun } from '../domain/run.ts';
import type { Caller } from './access.ts';

export const MAX_LISTED_RUNS = 50;

/**
 * The caller's runs, newest first: the runs created in this session plus, for a session signed in
 * by email, the runs whose contact address is that email. Every run is re-checked with the same
 * ownership rule as `loadOwnedRun`, so a stale index entry (e.g. a changed contact) shows nothing.
 */
export async function listMyRuns(
  deps: { store: RunStore; runIndex: RunIndex },
  caller: Caller,
  limit = MAX_LISTED_RUNS,
): Promise<BuildRun[]> {
  const ids = new Set(
    await deps.runIndex.listRunIds({ kind: 'session', sessionId: caller.sessionId }, limit),
  );
  if (caller.email)
    for (const id of await deps.runIndex.listRunIds(
      { kind: 'email', emailKey: emailKey(caller.email) },
      limit,
    ))
      ids.add(id);
  const runs = await Promise.all([...ids].map((id) => deps.store.getRun(id)));
  return runs
    .filter((r): r is BuildRun => r !== undefined && isOwnedBy(r, caller.sessionId, caller.email))
    .sort((a, b) =>
      a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.runId.localeCompare(a.runId),
    )
    .slice(0, limit);
}
