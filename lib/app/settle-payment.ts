import { ConflictError } from '../domain/errors.ts';
import { update } from '../domain/lifecycle.ts';
import {
  cancelIdempotencyKey,
  captureIdempotencyKey,
  type PaymentGateway,
  settlementAction,
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

export type SettleOutcome = 'captured' | 'cancelled' | 'none' | 'error';

const MAX_CONFLICT_RETRIES = 5;

/**
 * Settles a Stripe authorization once the run has an outcome: capture at `artifact_ready` /
 * `delivered` (idempotency key `capture-<run>`), cancel at `failed` (`cancel-<run>`), then records
 * payment `captured` / `cancelled`. Runs any number of times: a recorded settlement is never
 * repeated, a repeated Stripe call inside the key's window is answered from Stripe's idempotency
 * cache, and an intent already in the target state counts as done. A failed capture never undoes
 * `artifact_ready`: the payment stays `authorized` with an internal note, and it is logged.
 */
export async function settlePayment(deps: SettleDeps, run: BuildRun): Promise<SettleOutcome> {
  // Decide on the stored run, not the caller's copy: a settlement already recorded is never repeated.
  let current = (await deps.store.getRun(run.runId)) ?? run;
  const action = settlementAction(current);
  if (action === 'none') return 'none';
  const pi = current.payment.paymentIntentId as string;
  let note: string | undefined;
  try {
    if (action === 'capture') await deps.gateway.capture(pi, captureIdempotencyKey(current.runId));
    else await deps.gateway.cancel(pi, cancelIdempotencyKey(current.runId));
  } catch (err) {
    note = `${action} failed at ${deps.now()}: ${(err as Error).message ?? String(err)}`.slice(0, 1000);
    log.error('payment settlement failed', { runId: current.runId, action, paymentIntentId: pi, err });
  }
  for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
    if (settlementAction(current) !== action)
      return note ? 'error' : action === 'capture' ? 'captured' : 'cancelled';
    const payment: BuildRun['payment'] = note
      ? { ...current.payment, note }
      : { ...current.payment, status: action === 'capture' ? 'captured' : 'cancelled', note: undefined };
    const next = update(current, { payment }, deps.now());
    try {
      await deps.store.saveRun(next, { phase: current.phase, version: current.version });
      return note ? 'error' : action === 'capture' ? 'captured' : 'cancelled';
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      const reloaded = await deps.store.getRun(current.runId);
      if (!reloaded) return 'none';
      current = reloaded;
    }
  }
  throw new ConflictError('could not record the payment settlement');
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
