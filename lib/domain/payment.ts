import { DomainError } from './errors.ts';
import type { BuildRun } from './run.ts';
import type { RunVersion } from './versions.ts';

/**
 * Payment rules (pure): which methods a run can use, when a checkout may start, what a Stripe
 * checkout session event means for a run, and how a finished run's authorization is settled.
 * "You pay only for a working artifact": a card is authorized at checkout (manual capture) and
 * charged only when the run reaches `artifact_ready`; a failed run's authorization is released.
 */

export const PAYMENT_PROMISE = 'You pay only for a working artifact.';

export type PaymentMethod = 'stripe' | 'manual';

/** The methods offered to a visitor: card payment only when Stripe is configured. */
export function availablePaymentMethods(stripeEnabled: boolean): PaymentMethod[] {
  return stripeEnabled ? ['stripe', 'manual'] : ['manual'];
}

/** Payment states in which the run's payment is already settled or authorized. */
const AUTHORIZED = ['authorized', 'captured', 'manual_approved'] as const;

export function isPaymentAuthorized(run: Pick<BuildRun, 'payment'>): boolean {
  return (AUTHORIZED as readonly string[]).includes(run.payment.status);
}

/**
 * A checkout (card or approval request) is possible only for a `quoted` run with a quote.
 * Throws the 409 the API returns otherwise.
 */
export function assertPayable(
  run: BuildRun,
): asserts run is BuildRun & { quote: NonNullable<BuildRun['quote']> } {
  if (run.phase === 'drafting' || (run.phase === 'quoted' && !run.quote)) {
    throw new DomainError(
      'not_quoted',
      'This build run has no price yet; describe what you need first.',
      409,
    );
  }
  if (run.phase !== 'quoted' || isPaymentAuthorized(run)) {
    throw new DomainError('already_authorized', 'This build run is already approved or finished.', 409);
  }
}

export const paymentsUnavailable = () =>
  new DomainError('payments_unavailable', 'Card payment is not available; request approval instead.', 409);

export const contactRequired = () =>
  new DomainError(
    'contact_required',
    'Please give us an email address for the receipt and delivery before paying by card.',
    409,
  );

/** Stripe idempotency key of the checkout session for the run's current quote and attempt. */
export function checkoutIdempotencyKey(
  run: Pick<BuildRun, 'runId' | 'payment'>,
  quoteVersion: number,
): string {
  return `checkout-${run.runId}-q${quoteVersion}-a${run.payment.checkoutAttempt ?? 0}`;
}

/**
 * Stripe idempotency keys of the capture / cancel of one authorization. They name the payment
 * intent too: a rebuilt run (a new checkout) has a new intent, and Stripe refuses a key reused
 * with other parameters.
 */
export const captureIdempotencyKey = (runId: string, paymentIntentId: string) =>
  `capture-${runId}-${paymentIntentId}`;
export const cancelIdempotencyKey = (runId: string, paymentIntentId: string) =>
  `cancel-${runId}-${paymentIntentId}`;
/** Cancelling an authorization that is not (or no longer) wanted for the run, e.g. a stale quote. */
export const releaseIdempotencyKey = (paymentIntentId: string) => `release-${paymentIntentId}`;

/** Idempotency key of a processed Stripe event (`RunStore.claimIdempotencyKey`). */
export const stripeEventKey = (eventId: string) => `stripe-event:${eventId}`;
export const STRIPE_EVENT_TTL_SECONDS = 7 * 24 * 3600;

/** What the webhook learned from a checkout session object. */
export interface CheckoutSessionFacts {
  sessionId: string;
  runId?: string;
  quoteVersion?: number;
  paymentIntentId?: string;
  amountTotal?: number | null;
  currency?: string | null;
}

export type CompletedDecision =
  /** Authorize the run with this payment intent (or, if it already is, re-attempt the start). */
  | { action: 'authorize' }
  /** The run is already authorized with this very payment intent: nothing to do. */
  | { action: 'noop'; reason: string }
  /** Release the authorization: it does not (or no longer) match a payable run. */
  | { action: 'release'; reason: string }
  /**
   * The payment of an earlier (delivered) version: its money is settled with that version, so the
   * event is acknowledged and nothing — neither the run nor that payment — is touched.
   */
  | { action: 'stale'; version: number; reason: string };

/** The earlier version whose recorded payment is this payment intent, if any. */
export function versionPaidBy(
  run: { versions?: RunVersion[] },
  paymentIntentId: string,
): RunVersion | undefined {
  return (run.versions ?? []).find((v) => v.payment?.paymentIntentId === paymentIntentId);
}

/**
 * Decision for a completed (authorized) checkout session. Stale quote versions, amounts that do
 * not match the current quote, and runs that were meanwhile authorized another way or ended all
 * release the card authorization instead of authorizing the run — except the payment of an
 * earlier version of the run (`stale`), which is left exactly as it is.
 */
export function decideCompleted(run: BuildRun | undefined, s: CheckoutSessionFacts): CompletedDecision {
  if (!s.paymentIntentId) return { action: 'noop', reason: 'no payment intent on the session' };
  // Not one of ours (another integration or environment on the same Stripe account): hands off.
  if (!run) return { action: 'noop', reason: 'unknown run' };
  // Before anything that could release it: a late event of version N's checkout after a change
  // re-quoted the run (which resets `run.payment`) must never cancel version N's (captured) money.
  const paidVersion = versionPaidBy(run, s.paymentIntentId);
  if (paidVersion) {
    return {
      action: 'stale',
      version: paidVersion.number,
      reason: `the payment of version ${paidVersion.number} (${paidVersion.payment?.status ?? '?'})`,
    };
  }
  if (run.payment.retiredPaymentIntents?.includes(s.paymentIntentId)) {
    return { action: 'release', reason: 'an earlier, released authorization of this run' };
  }
  if (run.payment.paymentIntentId === s.paymentIntentId) {
    return run.phase === 'authorized'
      ? { action: 'authorize' } // crash recovery: the start may not have happened yet
      : { action: 'noop', reason: 'already authorized with this payment' };
  }
  if (run.phase !== 'quoted' || isPaymentAuthorized(run)) {
    return { action: 'release', reason: `run is ${run.phase} (${run.payment.status})` };
  }
  if (!run.quote || s.quoteVersion !== run.quote.version) {
    return {
      action: 'release',
      reason: `stale quote version ${s.quoteVersion ?? '?'} (current ${run.quote?.version ?? 'none'})`,
    };
  }
  if (
    (s.amountTotal != null && s.amountTotal !== run.quote.amountCents) ||
    (s.currency != null && s.currency.toLowerCase() !== run.quote.currency)
  ) {
    return { action: 'release', reason: 'amount or currency differs from the current quote' };
  }
  return { action: 'authorize' };
}

/** Whether an expired / failed session returns the run to a payable state (payment `none`). */
export function reopensCheckout(run: BuildRun | undefined, sessionId: string): boolean {
  return Boolean(
    run &&
      run.phase === 'quoted' &&
      run.payment.status === 'checkout_pending' &&
      run.payment.checkoutSessionId === sessionId,
  );
}

/** The payment patch after a checkout session ended without payment. */
export function reopenedPayment(run: BuildRun): BuildRun['payment'] {
  return {
    status: 'none',
    quoteVersion: run.payment.quoteVersion,
    checkoutAttempt: (run.payment.checkoutAttempt ?? 0) + 1,
  };
}

export type SettlementAction = 'capture' | 'cancel' | 'none';

/**
 * Settlement of a Stripe authorization once the run has an outcome: capture when a verified
 * artifact exists (`artifact_ready` / `delivered`), cancel when the run `failed`. Anything else
 * (other methods, no intent, already settled, run still live) is left alone.
 */
export function settlementAction(run: BuildRun): SettlementAction {
  if (run.payment.method !== 'stripe' || !run.payment.paymentIntentId) return 'none';
  if (run.payment.status !== 'authorized') return 'none';
  if (run.phase === 'artifact_ready' || run.phase === 'delivered') return 'capture';
  if (run.phase === 'failed') return 'cancel';
  return 'none';
}

/** Stripe holds an uncaptured card authorization for 7 days; capture retries stop there. */
export const CARD_HOLD_MS = 7 * 24 * 3600 * 1000;
/** Backoff of settlement retries: 1 min, 2, 4 … at most 1 h between two tries. */
export const SETTLE_RETRY_BASE_MS = 60_000;
export const SETTLE_RETRY_MAX_MS = 3600_000;

export function settleRetryDelayMs(failedAttempts: number): number {
  return Math.min(SETTLE_RETRY_MAX_MS, SETTLE_RETRY_BASE_MS * 2 ** Math.max(0, failedAttempts - 1));
}

/** Whether the card hold has expired (no `authorizedAt`: older runs, counted from `updatedAt`). */
export function holdExpired(run: Pick<BuildRun, 'payment' | 'updatedAt'>, nowIso: string): boolean {
  const since = Date.parse(run.payment.authorizedAt ?? run.updatedAt);
  return Number.isFinite(since) && Date.parse(nowIso) - since >= CARD_HOLD_MS;
}

/**
 * Unsettled: the run has an outcome but its card authorization is still open (capture or cancel
 * pending or failing), or a hold expired before it could be captured — the current one, or an
 * earlier delivered version's (kept in `versions[].payment` once a change reset `run.payment`).
 * `bus-build runs` marks these; `bus-build settle` and the settle reconcile work on the open ones.
 */
export function isUnsettled(run: BuildRun): boolean {
  return (
    settlementAction(run) !== 'none' ||
    run.payment.status === 'expired' ||
    (run.versions ?? []).some((v) => v.payment?.status === 'expired')
  );
}

/** Whether the settle reconcile should try this run now (its backoff has passed). */
export function settlementDue(run: BuildRun, nowIso: string): boolean {
  if (settlementAction(run) === 'none') return false;
  return !run.payment.nextSettleAt || run.payment.nextSettleAt <= nowIso;
}

/** How an operator retry of a failed run deals with its payment. */
export type RetryPayment =
  /** Authorized before and nothing to settle (manual approval, free): rebuild on the same footing. */
  | { kind: 'reuse' }
  /** A card run whose authorization was released: back to `quoted`, the visitor pays again. */
  | { kind: 'checkout'; payment: BuildRun['payment'] }
  /** A card run rebuilt without a new charge, by an operator's recorded decision. */
  | { kind: 'override'; payment: BuildRun['payment'] };

/**
 * The payment side of `bus-build retry` for a `failed` run. A card-paid run is never charged
 * twice: its first authorization was cancelled (a failed run is never captured), so the rebuild
 * needs a new one — a new checkout for the visitor — or an operator's recorded `--no-charge`
 * override. A card authorization still open must be settled first (`bus-build settle`).
 */
export function retryPayment(
  run: BuildRun,
  opts: { override?: { actor: string; reason: string; at: string } },
): RetryPayment {
  const p = run.payment;
  if (p.method === 'stripe') {
    if (p.status === 'authorized') {
      throw new DomainError(
        'settle_first',
        'Its card authorization is still open: release it first with bus-build settle, then retry.',
        409,
      );
    }
    if (p.status !== 'cancelled' && p.status !== 'expired') {
      throw new DomainError(
        'not_retryable',
        'This card payment cannot be rebuilt in its current state.',
        409,
      );
    }
    const retired = [...(p.retiredPaymentIntents ?? []), ...(p.paymentIntentId ? [p.paymentIntentId] : [])];
    if (opts.override) {
      return {
        kind: 'override',
        payment: {
          status: 'manual_approved',
          method: 'manual',
          quoteVersion: p.quoteVersion,
          retiredPaymentIntents: retired,
          override: opts.override,
        },
      };
    }
    return {
      kind: 'checkout',
      payment: {
        status: 'none',
        quoteVersion: p.quoteVersion,
        checkoutAttempt: (p.checkoutAttempt ?? 0) + 1,
        retiredPaymentIntents: retired,
      },
    };
  }
  if (!['manual_approved', 'authorized', 'captured'].includes(p.status)) {
    throw new DomainError('not_retryable', 'This build run was never approved; approve it instead.', 409);
  }
  if (opts.override) {
    return { kind: 'override', payment: { ...p, override: opts.override } };
  }
  return { kind: 'reuse' };
}

/** Input of a Stripe Checkout Session for one quote of one run. */
export interface CheckoutSessionRequest {
  runId: string;
  quoteVersion: number;
  amountCents: number;
  currency: string;
  productName: string;
  customerEmail: string;
  successUrl: string;
  cancelUrl: string;
  idempotencyKey: string;
}

/** The payment provider (Stripe; `lib/aws/stripe-gateway.ts`). */
export interface PaymentGateway {
  createCheckoutSession(req: CheckoutSessionRequest): Promise<{ id: string; url: string }>;
  getCheckoutSession(id: string): Promise<{ id: string; status: string; url: string | null }>;
  /** Captures an authorized payment intent. Idempotent per key. */
  capture(paymentIntentId: string, idempotencyKey: string): Promise<'captured' | 'already'>;
  /** Cancels (releases) an authorization. Idempotent per key; an already cancelled intent is fine. */
  cancel(paymentIntentId: string, idempotencyKey: string): Promise<'cancelled' | 'already'>;
}

/** An approval request for the operators (SNS on AWS, an outbox file locally). */
export interface ApprovalRequest {
  runId: string;
  title: string;
  amountDisplay: string;
  quoteVersion: number;
  contactEmail?: string;
  at: string;
}

export interface OperatorNotifier {
  approvalRequested(req: ApprovalRequest): Promise<void>;
}
