import { NotFoundError } from '../../domain/errors.ts';
import type { NewBuildEvent } from '../../domain/events.ts';
import type { RunStore } from '../../domain/ports.ts';
import type { BuildRun } from '../../domain/run.ts';
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
 * finds the step done never records its events twice.
 */
export async function commit(
  deps: TaskDeps,
  prev: BuildRun,
  next: BuildRun,
  events: NewBuildEvent[] = [],
): Promise<BuildRun> {
  await deps.store.saveRun(next, { phase: prev.phase, version: prev.version });
  if (events.length > 0) await recordEvents(deps, next.runId, events);
  return next;
}
