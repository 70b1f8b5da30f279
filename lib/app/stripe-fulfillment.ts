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
  /** How long a delivery waits for another delivery's live lease on the same event (default 8 s). */
  inProgressWaitMs?: number;
}

/**
 * How long a processor holds an event. Far above the webhook function's timeout (< 30 s), so a
 * live processor never loses its lease; a crashed one blocks the event for at most this long.
 */
export const STRIPE_EVENT_LEASE_SECONDS = 5 * 60;
/**
 * Processing normally takes well under a second; the wait covers near-simultaneous copies of one
 * event and stays far below the function's 29 s timeout.
 */
const DEFAULT_IN_PROGRESS_WAIT_MS = 8000;

/** Another delivery of the same event is being processed right now: 409, Stripe retries later. */
export class EventInProgressError extends DomainError {
  constructor() {
    super('event_in_progress', 'This event is already being processed; please retry later.', 409);
  }
}

/** The verified Stripe event, reduced to what fulfilment reads. */
export interface StripeEventLike {
  id: string;
  type: string;
  data: { object: unknown };
}

export type FulfillmentOutcome =
  | 'authorized'
  | 'already_authorized'
  | 'released'
  | 'reopened'
  /** The payment of an earlier version of the run (a late event after a change): acknowledged, nothing touched. */
  | 'stale'
  | 'ignored'
  /** The event id was already processed: acknowledged, nothing done. */
  | 'duplicate';

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
 * Applies one verified Stripe event, at most once per event id and without ever losing one:
 *
 * 1. The event id is claimed BEFORE any work as a `processing` lease (5 minutes).
 * 2. The work runs; on success the record becomes `done` (kept 7 days; Stripe retries for up to 3).
 * 3. If the work throws, the lease is released and the error propagates (500): Stripe's retry
 *    claims it afresh and processes.
 *
 * A delivery that finds `done` is acknowledged as `duplicate` without processing. One that finds
 * an expired lease (its holder crashed or timed out) takes it over and processes.
 *
 * One that finds a live lease waits briefly for it (near-simultaneous copies of one event are
 * common) and otherwise answers 409 so that Stripe retries later — it does NOT process
 * concurrently. Processing again would be safe (see below), but buys nothing and costs duplicate
 * Stripe calls and execution starts; the 409 loses nothing, because the holder either finishes
 * (the retry sees `done`), fails (it releases the lease; the retry processes) or crashes (the lease
 * expires after 5 minutes, well inside Stripe's retry window, and the retry takes over).
 *
 * The lease and the run cannot be written atomically (no transactions), so every branch is still
 * idempotent on its own (state-guarded conditional writes, the execution name, Stripe idempotency
 * keys): a takeover after a crash mid-way, or a crash between the work and `done`, repeats only
 * harmless steps. Late and out-of-order deliveries are harmless for the same reason.
 */
export async function fulfillStripeEvent(
  deps: FulfillmentDeps,
  event: StripeEventLike,
): Promise<FulfillmentOutcome> {
  const key = stripeEventKey(event.id);
  const lease = await claimEvent(deps, key, event.type);
  if (lease.state === 'done') {
    log.info('stripe event duplicate', { eventId: event.id, type: event.type, first: lease.data.outcome });
    return 'duplicate';
  }
  if (lease.takeover) log.warn('stripe event lease taken over', { eventId: event.id, type: event.type });
  let outcome: FulfillmentOutcome;
  try {
    outcome = SESSION_EVENTS.has(event.type) ? await applySessionEvent(deps, event) : 'ignored';
    await deps.store.completeIdempotencyLease(key, {
      ttlSeconds: STRIPE_EVENT_TTL_SECONDS,
      data: { type: event.type, outcome },
    });
  } catch (err) {
    await deps.store.releaseIdempotencyLease(key, lease.token).catch((releaseErr: unknown) =>
      // The lease then simply expires and a later retry takes it over.
      log.error('could not release a stripe event lease', { eventId: event.id, err: releaseErr }),
    );
    throw err;
  }
  log.info('stripe event processed', { eventId: event.id, type: event.type, outcome });
  return outcome;
}

/** Claims the event's lease, waiting up to `inProgressWaitMs` for another holder's live lease. */
async function claimEvent(deps: FulfillmentDeps, key: string, type: string) {
  const deadline = Date.now() + (deps.inProgressWaitMs ?? DEFAULT_IN_PROGRESS_WAIT_MS);
  for (let i = 0; ; i++) {
    const lease = await deps.store.claimIdempotencyLease(key, {
      leaseSeconds: STRIPE_EVENT_LEASE_SECONDS,
      ttlSeconds: STRIPE_EVENT_TTL_SECONDS,
      data: { type },
    });
    if (lease.state !== 'in_progress') return lease;
    const left = deadline - Date.now();
    if (left <= 0) throw new EventInProgressError();
    const backoff = Math.min(500, 50 * 2 ** i) * (0.5 + Math.random()); // 25 ms … 750 ms, jittered
    await new Promise((r) => setTimeout(r, Math.min(left, backoff)));
  }
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
  if (decision.action === 'stale') return stale(facts, decision.reason);

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
        authorizedAt: deps.now(),
      },
      // Re-checked on the run as it is right before the transition (a concurrent re-quote wins).
      guard: (current) => {
        const again = decideCompleted(current, facts);
        if (again.action === 'release') throw new StalePaymentError(again.reason);
        if (again.action === 'stale') throw new EarlierVersionPaymentError(again.reason);
      },
    });
  } catch (err) {
    if (err instanceof EarlierVersionPaymentError) return stale(facts, err.message);
    if (err instanceof StalePaymentError) return release(deps, facts, err.message);
    if (err instanceof DomainError && err.code === 'not_approvable') return release(deps, facts, err.message);
    throw err;
  }
  if (result.run.payment.paymentIntentId !== pi) {
    // Someone else (an operator, another session) authorized the run first: this card hold is not needed.
    return release(deps, facts, 'run was authorized by another payment');
  }
  // `authorized` only for the delivery that moved the run. Others (another event id of the same
  // session, a retry after a crash) only re-send the start, which the execution name makes a no-op;
  // `started` cannot tell them apart (Step Functions answers a repeated start of a RUNNING
  // execution with success).
  return result.authorizedNow ? 'authorized' : 'already_authorized';
}

class StalePaymentError extends Error {}
class EarlierVersionPaymentError extends Error {}

/** An event of an earlier version's payment: logged and acknowledged; that payment is settled with its version. */
function stale(facts: CheckoutSessionFacts, reason: string) {
  log.info('stripe event of an earlier version acknowledged as stale', {
    runId: facts.runId,
    sessionId: facts.sessionId,
    paymentIntentId: facts.paymentIntentId,
    reason,
  });
  return 'stale' as const;
}

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
