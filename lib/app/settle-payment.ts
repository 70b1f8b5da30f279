import { ConflictError } from '../domain/errors.ts';
import { update } from '../domain/lifecycle.ts';
import {
  cancelIdempotencyKey,
  captureIdempotencyKey,
  holdExpired,
  type PaymentGateway,
  settlementAction,
  settlementDue,
  settleRetryDelayMs,
} from '../domain/payment.ts';
import type { RunStore } from '../domain/ports.ts';
import type { BuildRun } from '../domain/run.ts';
import { log } from '../log.ts';

/** The orchestrator's optional settlement port (Publish and FailRun call it after their transition). */
export interface PaymentSettlement {
  /** Never throws: a settlement problem is logged and noted on the run for the operators. */
  settle(run: BuildRun): Promise<void>;
}

export interface SettleDeps {
  store: RunStore;
  gateway: PaymentGateway;
  now: () => string;
}

export type SettleOutcome = 'captured' | 'cancelled' | 'none' | 'error' | 'expired';

const MAX_CONFLICT_RETRIES = 5;

/**
 * Settles a Stripe authorization once the run has an outcome: capture at `artifact_ready` /
 * `delivered`, cancel at `failed` (idempotency keys name the run and the payment intent), then
 * records payment `captured` / `cancelled`. Runs any number of times: a recorded settlement is
 * never repeated, a repeated Stripe call inside the key's window is answered from Stripe's
 * idempotency cache, and an intent already in the target state counts as done.
 *
 * A failed call never undoes `artifact_ready`: the payment stays `authorized` with an internal
 * note, the failure count and the time of the next try (`nextSettleAt`, exponential backoff), which
 * the settle reconcile (`settleDueRuns`) honours. A capture that fails once the card hold has
 * expired ends the retries: payment `expired`, for the operators (`bus-build runs` lists it).
 */
export async function settlePayment(deps: SettleDeps, run: BuildRun): Promise<SettleOutcome> {
  // Decide on the stored run, not the caller's copy: a settlement already recorded is never repeated.
  let current = (await deps.store.getRun(run.runId)) ?? run;
  const action = settlementAction(current);
  if (action === 'none') return 'none';
  const pi = current.payment.paymentIntentId as string;
  let note: string | undefined;
  try {
    if (action === 'capture') await deps.gateway.capture(pi, captureIdempotencyKey(current.runId, pi));
    else await deps.gateway.cancel(pi, cancelIdempotencyKey(current.runId, pi));
  } catch (err) {
    note = `${action} failed at ${deps.now()}: ${(err as Error).message ?? String(err)}`.slice(0, 1000);
    log.error('payment settlement failed', { runId: current.runId, action, paymentIntentId: pi, err });
  }
  for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
    if (settlementAction(current) !== action)
      return note ? 'error' : action === 'capture' ? 'captured' : 'cancelled';
    const at = deps.now();
    let payment: BuildRun['payment'];
    let outcome: SettleOutcome;
    if (!note) {
      const { settleAttempts: _a, nextSettleAt: _n, ...rest } = current.payment;
      payment = { ...rest, status: action === 'capture' ? 'captured' : 'cancelled', note: undefined };
      outcome = action === 'capture' ? 'captured' : 'cancelled';
    } else if (action === 'capture' && holdExpired(current, at)) {
      const { nextSettleAt: _n, ...rest } = current.payment;
      payment = { ...rest, status: 'expired', note, settleAttempts: (rest.settleAttempts ?? 0) + 1 };
      outcome = 'expired';
    } else {
      const failed = (current.payment.settleAttempts ?? 0) + 1;
      const nextSettleAt = new Date(Date.parse(at) + settleRetryDelayMs(failed)).toISOString();
      payment = { ...current.payment, note, settleAttempts: failed, nextSettleAt };
      outcome = 'error';
    }
    const next = update(current, { payment }, at);
    try {
      await deps.store.saveRun(next, { phase: current.phase, version: current.version });
      return outcome;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      const reloaded = await deps.store.getRun(current.runId);
      if (!reloaded) return 'none';
      current = reloaded;
    }
  }
  throw new ConflictError('could not record the payment settlement');
}

/** Phases in which a card authorization can be waiting for its settlement. */
const OUTCOME_PHASES = ['artifact_ready', 'delivered', 'failed'] as const;

/**
 * The settle reconcile: every run with an outcome whose card authorization is still open and whose
 * backoff has passed is settled again (capture retried after a Stripe outage, until it succeeds or
 * the hold expires). Runs on a schedule (AWS: an EventBridge rule, every `SETTLE_INTERVAL_MINUTES`;
 * locally: a timer of the local stack). Returns the outcome per run tried.
 */
export async function settleDueRuns(
  deps: SettleDeps,
  opts: { limitPerPhase?: number } = {},
): Promise<Record<string, SettleOutcome>> {
  const outcomes: Record<string, SettleOutcome> = {};
  const now = deps.now();
  for (const phase of OUTCOME_PHASES) {
    let cursor: string | undefined;
    let seen = 0;
    do {
      const page = await deps.store.listRunsByPhase(phase, { limit: 100, ...(cursor ? { cursor } : {}) });
      for (const run of page.runs) {
        if (!settlementDue(run, now)) continue;
        outcomes[run.runId] = await settlePayment(deps, run).catch((err: unknown) => {
          log.error('settle reconcile: could not settle a run', { runId: run.runId, err });
          return 'error' as const;
        });
      }
      seen += page.runs.length;
      cursor = page.cursor;
    } while (cursor && seen < (opts.limitPerPhase ?? 10_000));
  }
  const tried = Object.keys(outcomes).length;
  if (tried > 0) log.info('settle reconcile', { tried, outcomes });
  return outcomes;
}

/** The settlement port over a gateway; swallows and logs every error (see PaymentSettlement). */
export function paymentSettlement(deps: SettleDeps): PaymentSettlement {
  return {
    settle: async (run) => {
      try {
        await settlePayment(deps, run);
      } catch (err) {
        log.error('payment settlement could not be recorded', { runId: run.runId, err });
      }
    },
  };
}
