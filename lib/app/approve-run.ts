import { ContactRequiredError } from '../domain/email.ts';
import { ConflictError, DomainError } from '../domain/errors.ts';
import { newEvent } from '../domain/events.ts';
import { type RunPatch, transition } from '../domain/lifecycle.ts';
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
 * `run.phase → authorized` with the patch, then `bus.build.run.authorized`. Of concurrent callers
 * exactly one transitions (conditional write); a loser gets the reloaded run, or the conflict when
 * the run is somehow still in its old phase. Shared by approval, the Stripe webhook and retry.
 */
export async function moveToAuthorized(
  deps: Pick<ApproveDeps, 'store' | 'publisher' | 'now'>,
  run: BuildRun,
  patch: RunPatch,
  authorized: { method: 'manual' | 'stripe' | 'free'; actor: string },
): Promise<BuildRun> {
  const next = transition(run, 'authorized', patch, deps.now());
  try {
    await deps.store.saveRun(next, { phase: run.phase, version: run.version });
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    const current = await loadRun(deps.store, run.runId);
    if (current.phase === run.phase) throw err;
    return current;
  }
  const quoteVersion = next.payment.quoteVersion;
  await recordEvents(deps, run.runId, [
    newEvent('bus.build.run.authorized', { ...authorized, ...(quoteVersion ? { quoteVersion } : {}) }),
  ]);
  return next;
}

/**
 * Manual approval (operator CLI): `quoted → authorized` (payment `manual_approved`), event
 * `bus.build.run.authorized`, then the build execution is started with the run id as its name.
 * A run with a pending approval request (`manual_requested`) or a pending checkout is approvable.
 */
export async function approveRun(
  deps: ApproveDeps,
  runId: string,
  opts: { actor: string; method: 'manual' },
): Promise<ApproveResult> {
  return authorizeRun(deps, runId, {
    method: opts.method,
    actor: opts.actor,
    paymentPatch: { status: 'manual_approved', method: opts.method },
    // An authorized run always has a contact address (checkout collects one up front).
    guard: (run) => {
      if (!run.owner.email) throw new ContactRequiredError();
    },
  });
}

/**
 * Authorization shared by manual approval and the Stripe webhook: `quoted → authorized` with the
 * payment patch, event `bus.build.run.authorized`, then the start of the execution named after
 * the run.
 *
 * Idempotent and race-safe: of concurrent authorizations exactly one transition wins (conditional
 * write); the losers and later duplicates do not transition again and, while the run is still
 * `authorized`, only re-attempt the start, which the execution name turns into a no-op.
 * `guard` runs against the run right before the transition (a retry re-runs it on the reloaded
 * run); a throw there aborts without any change.
 */
export async function authorizeRun(
  deps: ApproveDeps,
  runId: string,
  opts: {
    method: 'manual' | 'stripe';
    actor: string;
    paymentPatch: Partial<BuildRun['payment']>;
    guard?: (run: BuildRun) => void;
  },
): Promise<ApproveResult> {
  let run = await loadRun(deps.store, runId);
  if (run.phase === 'quoted') {
    opts.guard?.(run);
    run = await moveToAuthorized(
      deps,
      run,
      // The authorization names the quote version it approves: the spec and its acceptance checks
      // saved with that version are what gets built (a message after this point changes nothing).
      {
        payment: {
          ...run.payment,
          ...(run.quote ? { quoteVersion: run.quote.version } : {}),
          ...opts.paymentPatch,
        },
      },
      { method: opts.method, actor: opts.actor },
    );
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
