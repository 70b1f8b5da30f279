import { ConflictError, DomainError } from '../domain/errors.ts';
import { newEvent } from '../domain/events.ts';
import { transition } from '../domain/lifecycle.ts';
import type { Phase } from '../domain/phases.ts';
import type { EventPublisher, RunStore } from '../domain/ports.ts';
import type { BuildRun } from '../domain/run.ts';
import { loadRun } from './orchestrator/run-ops.ts';
import { recordEvents } from './record.ts';
import { type ExecutionStarter, startRunExecution } from './start-execution.ts';

export interface ApproveDeps {
  store: RunStore;
  publisher: EventPublisher;
  starter: ExecutionStarter;
  now: () => string;
}

export interface ApproveResult {
  /** True when this call started the build execution. */
  started: boolean;
  /** True when the run was already approved and its execution already existed (or ran). */
  alreadyStarted: boolean;
  run: BuildRun;
}

/** Phases a run reaches only after it was authorized and its execution started. */
const STARTED_PHASES: readonly Phase[] = [
  'repo_ready',
  'worker_running',
  'artifact_pending',
  'artifact_ready',
  'delivered',
];

/** Whether the run's payment was ever authorized (manually, by Stripe, or free). */
export function wasAuthorized(run: BuildRun): boolean {
  return ['manual_approved', 'authorized', 'captured'].includes(run.payment.status);
}

/**
 * Manual approval (operator CLI; the Stripe webhook uses the same path with its own method):
 * `quoted → authorized` (payment `manual_approved`), event `bus.build.run.authorized`, then the
 * build execution is started with the run id as its name.
 *
 * Idempotent and race-safe: of concurrent approvals exactly one transition wins (conditional
 * write); the losers and later duplicates do not transition again and, while the run is still
 * `authorized`, only re-attempt the start, which the execution name turns into a no-op.
 */
export async function approveRun(
  deps: ApproveDeps,
  runId: string,
  opts: { actor: string; method: 'manual' },
): Promise<ApproveResult> {
  let run = await loadRun(deps.store, runId);
  if (run.phase === 'quoted') {
    const next = transition(
      run,
      'authorized',
      { payment: { ...run.payment, status: 'manual_approved', method: opts.method } },
      deps.now(),
    );
    try {
      await deps.store.saveRun(next, { phase: run.phase, version: run.version });
      await recordEvents(deps, run.runId, [
        newEvent('bus.build.run.authorized', { method: opts.method, actor: opts.actor }),
      ]);
      run = next;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      run = await loadRun(deps.store, runId);
      if (run.phase === 'quoted') throw err;
    }
  }
  if (run.phase === 'authorized') {
    const { started, alreadyStarted } = await startRunExecution(deps.starter, run);
    return { started, alreadyStarted, run };
  }
  if (STARTED_PHASES.includes(run.phase) || (run.phase === 'failed' && wasAuthorized(run))) {
    return { started: false, alreadyStarted: true, run };
  }
  throw new DomainError(
    'not_approvable',
    run.phase === 'drafting'
      ? 'This build run has no quote to approve yet.'
      : 'This build run cannot be approved in its current state.',
    409,
  );
}
