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

/** How infrastructure failures are retried (env `MAX_INFRA_RETRIES`, `INFRA_RETRY_BASE_SECONDS`). */
export interface InfraRetryPolicy {
  /** Infrastructure retries per execution; past them the run fails as `infrastructure`. */
  max: number;
  /** Backoff before retry n: `baseSeconds * 2^(n-1)`, at most one hour. */
  baseSeconds: number;
}
export const DEFAULT_INFRA_RETRY: InfraRetryPolicy = { max: 3, baseSeconds: 30 };

/**
 * The repair-loop state for a failed worker attempt. An infrastructure failure is retried with
 * backoff (`retryInfrastructure`) while retries are left, and it does not use up a repair
 * attempt: `maxAttempts` grows by one, and the reason given to the next worker stays the last
 * failure of the artifact itself (the coder cannot fix a failed clone).
 */
export function workerFailureState(
  state: BuildState,
  failure: WorkerFailure,
  policy: InfraRetryPolicy = DEFAULT_INFRA_RETRY,
): BuildState {
  const base = {
    runId: state.runId,
    attempt: state.attempt,
    maxAttempts: state.maxAttempts,
    passed: false,
    failureCode: failure.code,
    ...(state.infraRetries !== undefined && { infraRetries: state.infraRetries }),
  };
  if (failure.code === 'infrastructure') {
    const used = state.infraRetries ?? 0;
    const retry = used < policy.max && state.attempt < 99;
    return {
      ...base,
      repairable: false,
      ...(state.lastFailure !== undefined && { lastFailure: state.lastFailure }),
      ...(retry && {
        retryInfrastructure: true,
        infraRetries: used + 1,
        maxAttempts: Math.min(99, state.maxAttempts + 1),
        retryDelaySeconds: Math.min(3600, policy.baseSeconds * 2 ** used),
      }),
      ...(!retry && { lastFailure: failure.reason }),
    };
  }
  return { ...base, repairable: failure.repairable, lastFailure: failure.reason };
}

/** Reconstructs a recorded worker failure (for idempotent re-runs). */
export function recordedWorkerFailure(v: VerificationResult): WorkerFailure | undefined {
  const check = v.checks.find((c) => c.name === WORKER_CHECK);
  if (!check) return undefined;
  const code = (check.detail ?? 'worker_failed') as WorkerFailure['code'] & FailureCode;
  const repairable = code !== 'no_matching_recipe' && code !== 'internal_error' && code !== 'infrastructure';
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
  const result = await readWorkerResult(deps.artifacts, run.runId, state.attempt, run.workerId);
  const failure = classifyWorkerFailure(result, state.workerError ?? { Error: 'WorkerFailed' });
  await saveWorkerFailure(deps, run, state.attempt, failure, result);
  return workerFailureState(state, failure, deps.infraRetry);
}
