import { NotFoundError } from '../domain/errors.ts';
import { isRunId } from '../domain/ids.ts';
import { isOwnedBy } from '../domain/lifecycle.ts';
import type { RunStore } from '../domain/ports.ts';
import type { BuildRun } from '../domain/run.ts';

export interface Caller {
  sessionId: string;
  email?: string;
}

/**
 * Loads a run for its owner. A malformed id, a missing run and another visitor's run all give the
 * same 404, so nothing reveals whether a run exists.
 */
export async function loadOwnedRun(store: RunStore, runId: string, caller: Caller): Promise<BuildRun> {
  if (!isRunId(runId)) throw new NotFoundError();
  const run = await store.getRun(runId);
  if (!run || !isOwnedBy(run, caller.sessionId, caller.email)) throw new NotFoundError();
  return run;
}
