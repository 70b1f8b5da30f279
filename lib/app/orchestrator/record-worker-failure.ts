import { keys } from '../../aws/keys.ts';
import { update } from '../../domain/lifecycle.ts';
import type { BuildRun, VerificationResult } from '../../domain/run.ts';
import type { FailureCode } from '../../domain/status.ts';
import type { RecordWorkerFailureDeps } from './deps.ts';
import { commit, loadTaskRun, TaskStateError } from './run-ops.ts';
import type { BuildState } from './state.ts';
import {
  classifyWorkerFailure,
  readWorkerResult,
  type WorkerFailure,
  type WorkerResult,
} from './worker-result.ts';

/** The check name a failed worker attempt is recorded under in the run's `verification` list. */
export const WORKER_CHECK = 'worker.result';

export function workerFailureRecord(attempt: number, failure: WorkerFailure, at: string): VerificationResult {
  return {
    attempt,
    passed: false,
    checks: [{ name: WORKER_CHECK, passed: false, detail: failure.code }],
    internalReason: failure.reason,
    at,
  };
}

/** The repair-loop state for a failed worker attempt. */
export function workerFailureState(state: BuildState, failure: WorkerFailure): BuildState {
  return {
    runId: state.runId,
    attempt: state.attempt,
    maxAttempts: state.maxAttempts,
    passed: false,
    repairable: failure.repairable,
    lastFailure: failure.reason,
    failureCode: failure.code,
  };
}

/** Reconstructs a recorded worker failure (for idempotent re-runs). */
export function recordedWorkerFailure(v: VerificationResult): WorkerFailure | undefined {
  const check = v.checks.find((c) => c.name === WORKER_CHECK);
  if (!check) return undefined;
  const code = (check.detail ?? 'worker_failed') as WorkerFailure['code'] & FailureCode;
  const repairable = code !== 'no_matching_recipe' && code !== 'internal_error';
  return { code, repairable, reason: v.internalReason ?? 'worker failed' };
}

/**
 * Records a failed worker attempt on the run (internal reason in `verification`, the worker's
 * result object in `evidence`) without a phase change: the run stays `worker_running` until
 * AssignWorker starts the repair or FailRun ends it. Idempotent per attempt.
 */
export async function saveWorkerFailure(
  deps: RecordWorkerFailureDeps,
  run: BuildRun,
  attempt: number,
  failure: WorkerFailure,
  result: WorkerResult | undefined,
): Promise<void> {
  if (run.phase !== 'worker_running' || run.attempts !== attempt) return;
  if (run.verification.some((v) => v.attempt === attempt)) return;
  const at = deps.now();
  const evidence = result
    ? [...run.evidence, { kind: 'worker_result', key: keys.workerResult(run.runId, attempt), at }]
    : run.evidence;
  const next = update(
    run,
    { verification: [...run.verification, workerFailureRecord(attempt, failure, at)], evidence },
    at,
  );
  await commit(deps, run, next);
}

/** RecordWorkerFailure: the RunWorker task failed (non-zero exit, crash, timeout). */
export async function recordWorkerFailure(
  deps: RecordWorkerFailureDeps,
  state: BuildState,
): Promise<BuildState> {
  if (state.attempt < 1) throw new TaskStateError('RecordWorkerFailure needs an attempt');
  const run = await loadTaskRun(deps, state.runId);
  const result = await readWorkerResult(deps.artifacts, run.runId, state.attempt);
  const failure = classifyWorkerFailure(result, state.workerError ?? { Error: 'WorkerFailed' });
  await saveWorkerFailure(deps, run, state.attempt, failure, result);
  return workerFailureState(state, failure);
}
