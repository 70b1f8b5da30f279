import { describe, expect, it } from 'vitest';
import type { DomainError } from '../../lib/domain/errors.ts';
import { transition, update } from '../../lib/domain/lifecycle.ts';
import {
  assertPayable,
  availablePaymentMethods,
  checkoutIdempotencyKey,
  decideCompleted,
  reopenedPayment,
  reopensCheckout,
  settlementAction,
} from '../../lib/domain/payment.ts';
import { toPublicRun } from '../../lib/domain/projection.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { quotedRun, T0 } from './orchestrator-fakes.ts';

const facts = (over: Partial<Parameters<typeof decideCompleted>[1]> = {}) => ({
  sessionId: 'cs_1',
  runId: 'x',
  quoteVersion: 1,
  paymentIntentId: 'pi_1',
  amountTotal: 4900,
  currency: 'eur',
  ...over,
});

const stripeAuthorized = (run: BuildRun = quotedRun()) =>
  transition(
    run,
    'authorized',
    { payment: { status: 'authorized', method: 'stripe', paymentIntentId: 'pi_1', quoteVersion: 1 } },
    T0,
  );

describe('payment methods and payability', () => {
  it('offers card payment only when Stripe is configured', () => {
    expect(availablePaymentMethods(false)).toEqual(['manual']);
    expect(availablePaymentMethods(true)).toEqual(['stripe', 'manual']);
  });

  it('accepts only quoted, not yet authorized runs, with clear codes', () => {
    expect(() => assertPayable(quotedRun())).not.toThrow();
    const codeOf = (r: BuildRun) => {
      try {
        assertPayable(r);
      } catch (e) {
        return (e as DomainError).code;
      }
      return 'ok';
    };
    const drafting = { ...quotedRun(), phase: 'drafting' as const, quote: undefined };
    expect(codeOf(drafting)).toBe('not_quoted');
    expect(codeOf(stripeAuthorized())).toBe('already_authorized');
  });

  it('keys checkout sessions by run, quote version and attempt', () => {
    const run = quotedRun();
    expect(checkoutIdempotencyKey(run, 1)).toBe(`checkout-${run.runId}-q1-a0`);
    const reopened = {
      ...run,
      payment: reopenedPayment({ ...run, payment: { status: 'checkout_pending' } }),
    };
    expect(checkoutIdempotencyKey(reopened, 2)).toBe(`checkout-${run.runId}-q2-a1`);
  });

  it('the public quote promises payment only for a working artifact', () => {
    expect(toPublicRun(quotedRun()).quote?.payment_terms).toBe('You pay only for a working artifact.');
    expect(toPublicRun(quotedRun(), undefined, { paymentMethods: ['manual'] }).payment_methods).toEqual([
      'manual',
    ]);
  });
});

describe('decideCompleted', () => {
  it('authorizes a quoted run whose quote version and amount match', () => {
    const run = quotedRun();
    expect(decideCompleted(run, facts({ runId: run.runId }))).toEqual({ action: 'authorize' });
  });

  it('releases a stale quote version, a wrong amount or currency', () => {
    const run = quotedRun();
    expect(decideCompleted(run, facts({ quoteVersion: 0 })).action).toBe('release');
    expect(decideCompleted(run, facts({ amountTotal: 100 })).action).toBe('release');
    expect(decideCompleted(run, facts({ currency: 'usd' })).action).toBe('release');
    const requoted = update(
      run,
      { quote: { ...(run.quote as NonNullable<BuildRun['quote']>), version: 2 } },
      T0,
    );
    expect(decideCompleted(requoted, facts()).action).toBe('release');
  });

  it('is a no-op for the same intent, a re-start for an authorized run, and releases others', () => {
    const authorized = stripeAuthorized();
    expect(decideCompleted(authorized, facts())).toEqual({ action: 'authorize' });
    const running = transition(authorized, 'repo_ready', {}, T0);
    expect(decideCompleted(running, facts()).action).toBe('noop');
    expect(decideCompleted(running, facts({ paymentIntentId: 'pi_2' })).action).toBe('release');
    const manual = transition(
      quotedRun(),
      'authorized',
      { payment: { status: 'manual_approved', method: 'manual' } },
      T0,
    );
    expect(decideCompleted(manual, facts()).action).toBe('release');
    expect(decideCompleted(undefined, facts()).action).toBe('noop');
    expect(decideCompleted(quotedRun(), facts({ paymentIntentId: undefined })).action).toBe('noop');
  });
});

describe('reopen and settlement', () => {
  it('reopens only the pending session of a quoted run', () => {
    const run = update(
      quotedRun(),
      { payment: { status: 'checkout_pending', method: 'stripe', checkoutSessionId: 'cs_1' } },
      T0,
    );
    expect(reopensCheckout(run, 'cs_1')).toBe(true);
    expect(reopensCheckout(run, 'cs_2')).toBe(false);
    expect(reopensCheckout(stripeAuthorized(), 'cs_1')).toBe(false);
    expect(reopenedPayment(run)).toMatchObject({ status: 'none', checkoutAttempt: 1 });
  });

  it('captures verified runs, cancels failed ones, and leaves the rest alone', () => {
    const a = stripeAuthorized();
    expect(settlementAction(a)).toBe('none');
    const r = transition(a, 'repo_ready', {}, T0);
    const w = transition(r, 'worker_running', {}, T0);
    const p = transition(w, 'artifact_pending', {}, T0);
    const ready = transition(p, 'artifact_ready', {}, T0);
    expect(settlementAction(ready)).toBe('capture');
    expect(settlementAction(transition(ready, 'delivered', {}, T0))).toBe('capture');
    const failed = transition(
      w,
      'failed',
      { failure: { code: 'internal_error', internalReason: 'x', at: T0 } },
      T0,
    );
    expect(settlementAction(failed)).toBe('cancel');
    expect(settlementAction({ ...failed, payment: { ...failed.payment, status: 'cancelled' } })).toBe('none');
    expect(settlementAction({ ...ready, payment: { status: 'manual_approved', method: 'manual' } })).toBe(
      'none',
    );
  });
});
