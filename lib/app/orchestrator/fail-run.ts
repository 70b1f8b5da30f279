import { NotFoundError } from '../../domain/errors.ts';
import { type NewBuildEvent, newEvent } from '../../domain/events.ts';
import { transition } from '../../domain/lifecycle.ts';
import type { Phase } from '../../domain/phases.ts';
import type { FailureCode } from '../../domain/status.ts';
import { currentVersion } from '../../domain/versions.ts';
import { log } from '../../log.ts';
import type { FailRunDeps } from './deps.ts';
import { commit, loadTaskRun } from './run-ops.ts';
import { type BuildState, clip, type TaskError } from './state.ts';

/** Phases FailRun leaves alone: already failed, or a verified artifact exists. */
const SETTLED: readonly Phase[] = ['failed', 'artifact_ready', 'delivered'];

/**
 * Task errors that are the infrastructure's, not the run's: a store / S3 / Step Functions error
 * the task's `Retry` gave up on (`TransientError`, see functions/orchestrator/task.ts) or a
 * Lambda service failure.
 */
const INFRASTRUCTURE_ERRORS = new Set([
  'TransientError',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
]);

/** `errorType: errorMessage` of a Lambda error cause (JSON), else the raw cause. Internal only. */
function describeTaskError(error: TaskError): string {
  if (!error.Cause) return error.Error;
  try {
    const cause = JSON.parse(error.Cause) as { errorType?: string; errorMessage?: string };
    if (cause.errorMessage !== undefined) return `${cause.errorType ?? error.Error}: ${cause.errorMessage}`;
  } catch {
    // not JSON
  }
  return `${error.Error}: ${error.Cause}`;
}

/**
 * The customer-safe code and the internal reason FailRun records. A task error (`$.error`, set by
 * a `Catch`) wins: it is the newest thing that happened; otherwise the repair loop's own code.
 */
export function failureOf(state: BuildState): { code: FailureCode; internalReason: string } {
  if (state.error) {
    return {
      code:
        state.error.Error === 'States.Timeout'
          ? 'timeout'
          : INFRASTRUCTURE_ERRORS.has(state.error.Error)
            ? 'infrastructure'
            : 'internal_error',
      internalReason: clip(describeTaskError(state.error)),
    };
  }
  return {
    code: state.failureCode ?? 'internal_error',
    internalReason: clip(state.lastFailure ?? 'the build run failed without a recorded reason'),
  };
}

/**
 * FailRun: moves a live run to `failed` with `{ code, internalReason, at }` and records
 * `bus.build.run.failed`. The public side only ever shows the fixed sentence for the code.
 * Idempotent: a run that is already failed, verified or delivered is left as is.
 */
export async function failRun(deps: FailRunDeps, state: BuildState): Promise<BuildState> {
  let run: Awaited<ReturnType<typeof loadTaskRun>>;
  try {
    run = await loadTaskRun(deps, state.runId);
  } catch (err) {
    if (err instanceof NotFoundError) {
      log.error('FailRun: run not found', { runId: state.runId });
      return state;
    }
    throw err;
  }
  if (SETTLED.includes(run.phase)) {
    if (run.phase === 'failed') await deps.settlement?.settle(run); // a retried FailRun finishes settlement
    return state;
  }
  const { code, internalReason } = failureOf(state);
  const at = deps.now();
  const next = transition(run, 'failed', { failure: { code, internalReason, at } }, at);
  const events: NewBuildEvent[] = [newEvent('bus.build.run.failed', { code, internalReason })];
  const current = currentVersion(run);
  if (run.revision && current) {
    events.push(
      newEvent('bus.build.revision.failed', { version: run.revision.number, baseVersion: current.number }),
    );
  }
  await commit(deps, run, next, events);
  await deps.settlement?.settle(next); // release the card authorization of a failed run
  return { ...state, failureCode: code };
}
