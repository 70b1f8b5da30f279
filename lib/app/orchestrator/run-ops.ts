import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../../domain/errors.ts';
import type { NewBuildEvent } from '../../domain/events.ts';
import type { RunStore } from '../../domain/ports.ts';
import type { BuildRun } from '../../domain/run.ts';
import { log } from '../../log.ts';
import { recordEvents } from '../record.ts';
import type { TaskDeps } from './deps.ts';

/** A task found the run in a state it cannot continue from (the state machine then fails the run). */
export class TaskStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskStateError';
  }
}

export async function loadRun(store: RunStore, runId: string): Promise<BuildRun> {
  const run = await store.getRun(runId);
  if (!run) throw new NotFoundError();
  return run;
}

/**
 * Persists `next` with a condition on `prev`'s phase and version (ConflictError when someone else
 * wrote first), then appends and publishes the events. Saving first means a retried task that
 * finds the step done never records its events twice; the events are saved with the run
 * (`pendingEvents`, under a fresh commit id), so a task that dies between the two writes loses
 * none of them: the next task's `loadTaskRun` appends what the log lacks.
 */
export async function commit(
  deps: TaskDeps,
  prev: BuildRun,
  next: BuildRun,
  events: NewBuildEvent[] = [],
): Promise<BuildRun> {
  const saved: BuildRun = { ...next, pendingEvents: undefined };
  // The store stamps events with the wall clock, so the commit does too (not the task's clock).
  if (events.length > 0) saved.pendingEvents = { commit: randomUUID(), at: new Date().toISOString(), events };
  await deps.store.saveRun(saved, { phase: prev.phase, version: prev.version });
  if (saved.pendingEvents)
    await recordEvents(deps, saved.runId, events, { commit: saved.pendingEvents.commit });
  return saved;
}

const CLOCK_SLACK_MS = 5 * 60_000;

/**
 * Loads the run for an orchestrator task and first completes the previous task's commit: events it
 * saved with the run but did not get into the log (the task died in between) are appended now, in
 * order, without repeating those that made it. Tasks of one execution run one at a time, so no two
 * callers complete the same commit at once.
 */
export async function loadTaskRun(deps: TaskDeps, runId: string): Promise<BuildRun> {
  const run = await loadRun(deps.store, runId);
  const pending = run.pendingEvents;
  if (pending && pending.events.length > 0) {
    // Look back a little further than the commit's own stamp: other writers' clocks may lag.
    const since = new Date(Date.parse(pending.at) - CLOCK_SLACK_MS).toISOString();
    const recorded = await deps.store.countCommitEvents(run.runId, pending.commit, since);
    const missing = (pending.events as NewBuildEvent[]).slice(recorded);
    if (missing.length > 0) {
      log.warn('completing an interrupted commit', {
        runId,
        commit: pending.commit,
        missing: missing.length,
      });
      await recordEvents(deps, run.runId, missing, { commit: pending.commit });
    }
  }
  return run;
}
