import type { OrchestratorDeps } from '../../lib/app/orchestrator/deps.ts';
import { type BuildState, BuildStateSchema } from '../../lib/app/orchestrator/state.ts';
import { ConflictError } from '../../lib/domain/errors.ts';
import { log } from '../../lib/log.ts';
import { orchestratorDeps } from './deps.ts';

/** The error name the state machine's `Retry` blocks retry (besides Lambda service errors). */
export class TransientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransientError';
  }
}

/** The task input is not a build state. Not retried: the execution goes to FailRun. */
export class InvalidStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidStateError';
  }
}

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/** Optimistic-concurrency conflicts, throttling, 5xx and network errors: worth a retry. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ConflictError) return true;
  const e = err as {
    name?: string;
    code?: string;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
  } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.$retryable) return true;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return TRANSIENT_NAMES.has(e.name ?? '') || TRANSIENT_CODES.has(e.code ?? '');
}

/**
 * Wraps a task use case as a Lambda handler: validate the state object, run, return the next
 * state. Transient failures are rethrown as `TransientError` (retried by the state machine; every
 * task is idempotent); anything else propagates to the state's `Catch` (→ FailRun).
 */
export function taskHandler(
  stateName: string,
  useCase: (deps: OrchestratorDeps, state: BuildState) => Promise<BuildState>,
): (event: unknown) => Promise<BuildState> {
  return async (event: unknown) => {
    const parsed = BuildStateSchema.safeParse(event);
    if (!parsed.success) {
      log.error('orchestrator task: invalid state', { state: stateName });
      throw new InvalidStateError(`${stateName}: the task input is not a build state`);
    }
    const state = parsed.data;
    try {
      const next = await useCase(orchestratorDeps(), state);
      log.info('orchestrator task done', {
        state: stateName,
        runId: state.runId,
        attempt: next.attempt,
        passed: next.passed,
        repairable: next.repairable,
      });
      return next;
    } catch (err) {
      if (isTransient(err)) {
        log.warn('orchestrator task: transient failure', { state: stateName, runId: state.runId, err });
        throw new TransientError(
          `${stateName}: ${(err as Error).name ?? 'error'}: ${(err as Error).message}`,
        );
      }
      log.error('orchestrator task failed', { state: stateName, runId: state.runId, err });
      throw err;
    }
  };
}
