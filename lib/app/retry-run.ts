import { ConflictError, DomainError } from '../domain/errors.ts';
import { transition } from '../domain/lifecycle.ts';
import { retryPayment } from '../domain/payment.ts';
import type { BuildRun } from '../domain/run.ts';
import type { Revision } from '../domain/versions.ts';
import { type ApproveDeps, moveToAuthorized } from './approve-run.ts';
import { loadRun } from './orchestrator/run-ops.ts';
import { executionName, startRunExecution } from './start-execution.ts';

export type RetryDeps = ApproveDeps;

export interface RetryResult {
  started: boolean;
  alreadyStarted: boolean;
  /** `{run_id}-retry-{n}` (started now, or once the visitor has paid again). */
  executionName: string;
  /** The run went back to `quoted`: the visitor pays again (a new checkout), then it builds. */
  checkoutRequired: boolean;
  run: BuildRun;
}

export interface RetryOptions {
  /** `--no-charge <reason>`: rebuild a card-paid run without a new payment; recorded on the run. */
  noCharge?: string;
}

/**
 * Operator retry of a failed run, `retries` + 1, a NEW execution named `{run_id}-retry-{n}` that
 * continues the attempt numbering with a full set of repair attempts (attempts, branch,
 * verification history stay). The payment decides the way back (`retryPayment`):
 *
 * - approved manually (or free): `failed → authorized` and the execution starts now;
 * - paid by card: the failed run's authorization was released, so it goes `failed → quoted` with
 *   a fresh checkout (the visitor pays again; the webhook authorizes it and starts the retry
 *   execution), or with `noCharge` `failed → authorized` as an operator override, recorded on the
 *   payment and in the authorized event. Either way the run is charged at most once.
 *
 * A failed change (version N+1 of a delivered run) keeps its version number and base; its rebuild
 * starts again from version N's verified commit, like the change's first build did. Version N
 * stays delivered throughout.
 *
 * Idempotent: repeating it while the run is `authorized` re-attempts the same start; while it
 * waits for the visitor's payment it reports that again.
 */
export async function retryRun(
  deps: RetryDeps,
  runId: string,
  actor: string,
  opts: RetryOptions = {},
): Promise<RetryResult> {
  let run = await loadRun(deps.store, runId);
  if (run.phase === 'failed') {
    if (!run.spec) {
      throw new DomainError('not_retryable', 'This build run was never approved; approve it instead.', 409);
    }
    const at = deps.now();
    const plan = retryPayment(run, {
      ...(opts.noCharge !== undefined && { override: { actor, reason: opts.noCharge.slice(0, 500), at } }),
    });
    const reopened = {
      failure: undefined,
      retries: (run.retries ?? 0) + 1,
      workerId: undefined,
      // A failed change is rebuilt from its base version's verified commit: PrepareBranch marks the
      // retry's first attempt as the one that restores it (the failed attempts stay in the history).
      ...(run.revision && { revision: withoutFirstAttempt(run.revision) }),
    };
    if (plan.kind === 'checkout') {
      const next = transition(run, 'quoted', { ...reopened, payment: plan.payment }, at);
      try {
        await deps.store.saveRun(next, { phase: run.phase, version: run.version });
        run = next;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        run = await loadRun(deps.store, runId);
      }
    } else {
      run = await moveToAuthorized(
        deps,
        run,
        { ...reopened, ...(plan.kind === 'override' && { payment: plan.payment }) },
        { method: plan.kind === 'override' ? 'manual' : (run.payment.method ?? 'manual'), actor },
      );
    }
  }
  if (run.phase === 'quoted' && (run.retries ?? 0) > 0) {
    return {
      started: false,
      alreadyStarted: false,
      checkoutRequired: true,
      executionName: executionName(run),
      run,
    };
  }
  if (run.phase === 'authorized' && (run.retries ?? 0) > 0) {
    const result = await startRunExecution(deps.starter, run);
    return { ...result, checkoutRequired: false, run };
  }
  throw new DomainError('not_retryable', 'Only a failed build run can be retried.', 409);
}

function withoutFirstAttempt(revision: Revision): Revision {
  const { firstAttempt: _firstAttempt, ...rest } = revision;
  return rest;
}
