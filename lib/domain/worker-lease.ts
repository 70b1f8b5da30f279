import type { BuildRun } from './run.ts';

/**
 * The lease of one worker attempt (a fencing token): the run id, the attempt number and the
 * worker id AssignWorker recorded for it. Attempt numbers only grow (they continue across
 * operator retries) and every attempt gets a fresh worker id, so a lease is current only while
 * the run is still `worker_running` with exactly that attempt and worker. Any later attempt, a
 * failed or finished run, or a retry makes every older lease stale.
 */
export interface WorkerLease {
  runId: string;
  attempt: number;
  workerId: string;
}

/** Why `lease` is not (or no longer) current for `run`; undefined while it is. */
export function staleLeaseReason(
  run: Pick<BuildRun, 'runId' | 'phase' | 'attempts' | 'workerId'> | undefined,
  lease: WorkerLease,
): string | undefined {
  if (!run || run.runId !== lease.runId) return 'the run does not exist';
  if (run.attempts !== lease.attempt) return `the run is at attempt ${run.attempts}, not ${lease.attempt}`;
  if (run.workerId !== lease.workerId) return 'another worker holds this attempt';
  if (run.phase !== 'worker_running') return `the run is ${run.phase}`;
  return undefined;
}
