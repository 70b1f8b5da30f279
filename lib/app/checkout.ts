import { ContactUnconfirmedError } from '../domain/email.ts';
import { ConflictError } from '../domain/errors.ts';
import { newEvent } from '../domain/events.ts';
import { update } from '../domain/lifecycle.ts';
import {
  assertPayable,
  checkoutIdempotencyKey,
  contactRequired,
  type OperatorNotifier,
  type PaymentGateway,
  type PaymentMethod,
  paymentsUnavailable,
} from '../domain/payment.ts';
import type { EventPublisher, RunStore } from '../domain/ports.ts';
import { formatAmount } from '../domain/pricing.ts';
import type { BuildRun } from '../domain/run.ts';
import { log } from '../log.ts';
import { type Caller, loadOwnedRun } from './access.ts';
import { recordEvents } from './record.ts';

export interface CheckoutDeps {
  store: RunStore;
  publisher: EventPublisher;
  /** Undefined when Stripe is not configured: only manual approval requests are possible. */
  gateway?: PaymentGateway;
  notifier: OperatorNotifier;
  now: () => string;
}

export interface CheckoutResult {
  run: BuildRun;
  /** The Stripe Checkout page (card payments only). */
  checkoutUrl: string | null;
}

/** Where Stripe sends the visitor back: the chat with the run open. */
export function returnUrls(portalBase: string, runId: string): { successUrl: string; cancelUrl: string } {
  const base = portalBase.replace(/\/+$/, '');
  const q = (outcome: string) => `${base}/?run_id=${encodeURIComponent(runId)}&checkout=${outcome}`;
  return { successUrl: q('success'), cancelUrl: q('cancelled') };
}

/**
 * `POST …/checkout`: the owner of a `quoted` run pays by card (Stripe Checkout, authorized now,
 * captured only once the artifact is verified) or asks for manual approval.
 */
export async function startCheckout(
  deps: CheckoutDeps,
  caller: Caller,
  runId: string,
  opts: { method: PaymentMethod; portalBase: string },
): Promise<CheckoutResult> {
  const run = await loadOwnedRun(deps.store, runId, caller);
  assertPayable(run);
  return opts.method === 'stripe'
    ? stripeCheckout(deps, run, opts.portalBase)
    : requestManualApproval(deps, run);
}

async function stripeCheckout(
  deps: CheckoutDeps,
  run: BuildRun & { quote: NonNullable<BuildRun['quote']> },
  portalBase: string,
): Promise<CheckoutResult> {
  if (!deps.gateway) throw paymentsUnavailable();
  const email = run.owner.email;
  if (!email) throw contactRequired();
  if (!run.owner.emailVerified) throw new ContactUnconfirmedError();
  const gateway = deps.gateway;
  const quoteVersion = run.quote.version;

  // A pending session for this very quote is reused while it is open; an expired one (its webhook
  // may not have arrived yet) moves the attempt counter on so the next session gets a fresh key.
  let base = run;
  if (
    run.payment.status === 'checkout_pending' &&
    run.payment.checkoutSessionId &&
    run.payment.quoteVersion === quoteVersion
  ) {
    const existing = await gateway.getCheckoutSession(run.payment.checkoutSessionId);
    if (existing.status === 'open' && existing.url) return { run, checkoutUrl: existing.url };
    if (existing.status === 'complete') {
      throw new ConflictError('This checkout was already completed; the build will start shortly.');
    }
    base = { ...run, payment: { ...run.payment, checkoutAttempt: (run.payment.checkoutAttempt ?? 0) + 1 } };
  }

  const session = await gateway.createCheckoutSession({
    runId: run.runId,
    quoteVersion,
    amountCents: run.quote.amountCents,
    currency: run.quote.currency,
    productName: run.spec?.title ?? 'Custom tool',
    customerEmail: email,
    ...returnUrls(portalBase, run.runId),
    idempotencyKey: checkoutIdempotencyKey(base, quoteVersion),
  });
  const next = update(
    run,
    {
      payment: {
        ...base.payment,
        status: 'checkout_pending',
        method: 'stripe',
        checkoutSessionId: session.id,
        quoteVersion,
        paymentIntentId: undefined,
      },
    },
    deps.now(),
  );
  try {
    await deps.store.saveRun(next, { phase: run.phase, version: run.version });
    return { run: next, checkoutUrl: session.url };
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    // A concurrent click with the same idempotency key got the same session: that is fine.
    const cur = await deps.store.getRun(run.runId);
    if (cur?.payment.checkoutSessionId === session.id) return { run: cur, checkoutUrl: session.url };
    throw err;
  }
}

/**
 * Records an approval request (payment `manual_requested`, progress `approval_requested`) and
 * notifies the operators. Idempotent: a repeated request for the same quote changes nothing.
 */
async function requestManualApproval(
  deps: CheckoutDeps,
  run: BuildRun & { quote: NonNullable<BuildRun['quote']> },
): Promise<CheckoutResult> {
  const quoteVersion = run.quote.version;
  if (run.payment.status === 'manual_requested' && run.payment.quoteVersion === quoteVersion) {
    return { run, checkoutUrl: null };
  }
  const at = deps.now();
  const next = update(
    run,
    { payment: { ...run.payment, status: 'manual_requested', method: 'manual', quoteVersion } },
    at,
  );
  try {
    await deps.store.saveRun(next, { phase: run.phase, version: run.version });
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    const cur = await deps.store.getRun(run.runId);
    if (cur?.payment.status === 'manual_requested' && cur.payment.quoteVersion === quoteVersion) {
      return { run: cur, checkoutUrl: null };
    }
    throw err;
  }
  await recordEvents(deps, run.runId, [
    newEvent('bus.build.progress.updated', { stage: 'approval_requested' }),
  ]);
  try {
    await deps.notifier.approvalRequested({
      runId: run.runId,
      title: run.spec?.title ?? 'Custom tool',
      amountDisplay: formatAmount(run.quote.amountCents, run.quote.currency),
      quoteVersion,
      contactEmail: run.owner.email,
      at,
    });
  } catch (err) {
    // The request is recorded on the run (bus-build runs --phase quoted lists it): not lost.
    log.error('operator notification failed', { runId: run.runId, err });
  }
  return { run: next, checkoutUrl: null };
}
