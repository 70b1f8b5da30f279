import { DomainError } from '../domain/errors.ts';
import { isRunId } from '../domain/ids.ts';
import { update } from '../domain/lifecycle.ts';
import {
  type CheckoutSessionFacts,
  decideCompleted,
  type PaymentGateway,
  releaseIdempotencyKey,
  reopenedPayment,
  reopensCheckout,
  STRIPE_EVENT_TTL_SECONDS,
  stripeEventKey,
} from '../domain/payment.ts';
import type { RunStore } from '../domain/ports.ts';
import { log } from '../log.ts';
import { type ApproveDeps, authorizeRun } from './approve-run.ts';

export interface FulfillmentDeps extends ApproveDeps {
  store: RunStore;
  /** Needed to release authorizations that must not be used; absent → logged for operators. */
  gateway?: PaymentGateway;
}

/** The verified Stripe event, reduced to what fulfilment reads. */
export interface StripeEventLike {
  id: string;
  type: string;
  data: { object: unknown };
}

export type FulfillmentOutcome = 'authorized' | 'already_authorized' | 'released' | 'reopened' | 'ignored';

const SESSION_EVENTS = new Set([
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
]);

/** Reads the fields fulfilment needs from a checkout session object (expanded or not). */
export function sessionFacts(obj: unknown): CheckoutSessionFacts {
  const o = (obj ?? {}) as Record<string, unknown>;
  const metadata = (o.metadata ?? {}) as Record<string, unknown>;
  const pi = o.payment_intent;
  const piId = typeof pi === 'string' ? pi : (pi as { id?: unknown } | null)?.id;
  const qv = Number(metadata.quote_version);
  const runId =
    (typeof metadata.run_id === 'string' && metadata.run_id) ||
    (typeof o.client_reference_id === 'string' && o.client_reference_id) ||
    undefined;
  return {
    sessionId: String(o.id ?? ''),
    runId,
    quoteVersion: Number.isInteger(qv) ? qv : undefined,
    paymentIntentId: typeof piId === 'string' ? piId : undefined,
    amountTotal: typeof o.amount_total === 'number' ? o.amount_total : null,
    currency: typeof o.currency === 'string' ? o.currency : null,
  };
}

/**
 * Applies one verified Stripe event. Every branch is idempotent on its own (state-guarded
 * conditional writes, the execution name, Stripe idempotency keys), so duplicate, late and
 * out-of-order deliveries are harmless and a crash at any point is repaired by Stripe's retry.
 * Only after the work succeeded is the event id recorded as processed (7 days); a delivery that
 * finds it already recorded is logged as a duplicate.
 */
export async function fulfillStripeEvent(
  deps: FulfillmentDeps,
  event: StripeEventLike,
): Promise<FulfillmentOutcome> {
  const outcome = SESSION_EVENTS.has(event.type) ? await applySessionEvent(deps, event) : 'ignored';
  const first = await deps.store.claimIdempotencyKey(stripeEventKey(event.id), STRIPE_EVENT_TTL_SECONDS, {
    type: event.type,
    outcome,
  });
  log.info('stripe event processed', { eventId: event.id, type: event.type, outcome, duplicate: !first });
  return outcome;
}

async function applySessionEvent(deps: FulfillmentDeps, event: StripeEventLike): Promise<FulfillmentOutcome> {
  const facts = sessionFacts(event.data.object);
  if (event.type === 'checkout.session.expired' || event.type === 'checkout.session.async_payment_failed') {
    return reopen(deps, facts);
  }
  const run = facts.runId && isRunId(facts.runId) ? await deps.store.getRun(facts.runId) : undefined;

  const paid = (event.data.object as { payment_status?: string }).payment_status;
  // Completed with a payment intent and manual capture = authorized (payment_status stays
  // `unpaid` until capture). A completed session of an async method still awaiting payment has no
  // usable authorization yet; its async_payment_succeeded follows.
  if (event.type === 'checkout.session.completed' && paid === 'unpaid' && !facts.paymentIntentId) {
    return 'ignored';
  }
  const decision = decideCompleted(run, facts);
  if (decision.action === 'noop') return run && facts.paymentIntentId ? 'already_authorized' : 'ignored';
  if (decision.action === 'release') return release(deps, facts, decision.reason);

  const pi = facts.paymentIntentId as string;
  let result: Awaited<ReturnType<typeof authorizeRun>>;
  try {
    result = await authorizeRun(deps, facts.runId as string, {
      method: 'stripe',
      actor: 'stripe',
      paymentPatch: {
        status: 'authorized',
        method: 'stripe',
        paymentIntentId: pi,
        checkoutSessionId: facts.sessionId,
        quoteVersion: facts.quoteVersion,
      },
      // Re-checked on the run as it is right before the transition (a concurrent re-quote wins).
      guard: (current) => {
        const again = decideCompleted(current, facts);
        if (again.action === 'release') throw new StalePaymentError(again.reason);
      },
    });
  } catch (err) {
    if (err instanceof StalePaymentError) return release(deps, facts, err.message);
    if (err instanceof DomainError && err.code === 'not_approvable') return release(deps, facts, err.message);
    throw err;
  }
  if (result.run.payment.paymentIntentId !== pi) {
    // Someone else (an operator, another session) authorized the run first: this card hold is not needed.
    return release(deps, facts, 'run was authorized by another payment');
  }
  return result.started ? 'authorized' : 'already_authorized';
}

class StalePaymentError extends Error {}

async function release(deps: FulfillmentDeps, facts: CheckoutSessionFacts, reason: string) {
  if (!facts.paymentIntentId) return 'ignored' as const;
  log.warn('stripe authorization released', {
    runId: facts.runId,
    sessionId: facts.sessionId,
    paymentIntentId: facts.paymentIntentId,
    reason,
  });
  if (!deps.gateway) {
    log.error('cannot release a stripe authorization: STRIPE_SECRET_KEY not configured', {
      paymentIntentId: facts.paymentIntentId,
    });
    return 'ignored' as const;
  }
  await deps.gateway.cancel(facts.paymentIntentId, releaseIdempotencyKey(facts.paymentIntentId));
  return 'released' as const;
}

/** An expired / failed session returns the run to a payable state if it is still waiting on it. */
async function reopen(deps: FulfillmentDeps, facts: CheckoutSessionFacts): Promise<FulfillmentOutcome> {
  for (let i = 0; i < 5; i++) {
    const run = facts.runId && isRunId(facts.runId) ? await deps.store.getRun(facts.runId) : undefined;
    if (!run || !reopensCheckout(run, facts.sessionId)) return 'ignored';
    const next = update(run, { payment: reopenedPayment(run) }, deps.now());
    try {
      await deps.store.saveRun(next, { phase: run.phase, version: run.version });
      return 'reopened';
    } catch (err) {
      if (!(err instanceof DomainError) || err.code !== 'conflict') throw err;
    }
  }
  throw new Error('could not reopen the checkout after repeated conflicts');
}
