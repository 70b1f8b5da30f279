import { DomainError } from '../domain/errors.ts';
import type { BuildRun } from '../domain/run.ts';
import { type ApproveDeps, moveToAuthorized, wasAuthorized } from './approve-run.ts';
import { loadRun } from './orchestrator/run-ops.ts';
import { startRunExecution } from './start-execution.ts';

export type RetryDeps = ApproveDeps;

export interface RetryResult {
  started: boolean;
  alreadyStarted: boolean;
  /** `{run_id}-retry-{n}`. */
  executionName: string;
  run: BuildRun;
}

/**
 * Operator retry of a failed run: `failed → authorized` (the failure is cleared; attempts, branch,
 * verification history and payment stay), `retries` is incremented and a NEW execution named
 * `{run_id}-retry-{n}` is started. The next execution continues the attempt numbering, with a full
 * set of repair attempts. Idempotent: repeating the call while the run is still `authorized` only
 * re-attempts the same start. Only a run that was authorized before can be retried.
 */
export async function retryRun(deps: RetryDeps, runId: string, actor: string): Promise<RetryResult> {
  let run = await loadRun(deps.store, runId);
  if (run.phase === 'failed') {
    if (!wasAuthorized(run) || !run.spec) {
      throw new DomainError('not_retryable', 'This build run was never approved; approve it instead.', 409);
    }
    run = await moveToAuthorized(
      deps,
      run,
      { failure: undefined, retries: (run.retries ?? 0) + 1, workerId: undefined },
      { method: run.payment.method ?? 'manual', actor },
    );
  }
  if (run.phase === 'authorized' && (run.retries ?? 0) > 0) {
    const result = await startRunExecution(deps.starter, run);
    return { ...result, run };
  }
  throw new DomainError('not_retryable', 'Only a failed build run can be retried.', 409);
}
