import type { FailRunDeps } from './deps.ts';
import { failRun } from './fail-run.ts';
import { type BuildState, BuildStateSchema } from './state.ts';

/** Execution outcomes in which the state machine never reached its own FailRun. */
export const UNFINISHED_STATUSES = ['ABORTED', 'TIMED_OUT'] as const;
export type UnfinishedStatus = (typeof UNFINISHED_STATUSES)[number];

/**
 * An execution that was stopped or hit its overall timeout ends without running FailRun, which
 * would leave its run in a live phase forever. This fails such a run with a customer-safe code
 * (`timeout` for a timed-out execution, `internal_error` otherwise) so the visitor sees the end
 * and the operator can `bus-build retry` it. FailRun is idempotent: a run that already failed,
 * or whose artifact was verified, is left as it is.
 */
export async function reconcileExecution(
  deps: FailRunDeps,
  execution: {
    status: UnfinishedStatus;
    input: unknown;
    error?: string | undefined;
    cause?: string | undefined;
  },
): Promise<BuildState | undefined> {
  const parsed = BuildStateSchema.safeParse(execution.input);
  if (!parsed.success) return undefined;
  const state: BuildState = {
    ...parsed.data,
    error: {
      Error: execution.status === 'TIMED_OUT' ? 'States.Timeout' : (execution.error ?? 'ExecutionAborted'),
      Cause: execution.cause ?? `the execution ended ${execution.status} before the run finished`,
    },
  };
  return failRun(deps, state);
}
