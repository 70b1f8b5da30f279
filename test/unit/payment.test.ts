import { describe, expect, it } from 'vitest';
import type { DomainError } from '../../lib/domain/errors.ts';
import { transition, update } from '../../lib/domain/lifecycle.ts';
import {
  assertPayable,
  availablePaymentMethods,
  CARD_HOLD_MS,
  cancelIdempotencyKey,
  captureIdempotencyKey,
  checkoutIdempotencyKey,
  decideCompleted,
  holdExpired,
  isUnsettled,
  reopenedPayment,
  reopensCheckout,
  retryPayment,
  settlementAction,
  settlementDue,
  settleRetryDelayMs,
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

describe('decideCompleted: payments of earlier versions', () => {
  /** A run whose version 1 was paid with `pi_1` and captured, re-quoted as version 2 (payment reset). */
  const revisionQuoted = (phase: 'quoted' | 'authorized' | 'delivered' = 'quoted'): BuildRun => {
    const base = quotedRun();
    const v1 = {
      number: 1,
      spec: base.spec as NonNullable<BuildRun['spec']>,
      quoteVersion: 1,
      amountCents: 4900,
      currency: 'eur',
      attempt: 1,
      artifacts: [],
      verifiedAt: T0,
      payment: { status: 'captured', method: 'stripe', paymentIntentId: 'pi_1', quoteVersion: 1 },
    };
    const requoted = update(
      base,
      {
        quote: { ...(base.quote as NonNullable<BuildRun['quote']>), version: 2, amountCents: 1900 },
        versions: [v1],
        revision: { number: 2, baseVersion: 1, retriesAtStart: 0, requestedAt: T0 },
        payment: { status: 'none' },
      },
      T0,
    );
    if (phase === 'quoted') return requoted;
    const authorized = transition(
      requoted,
      'authorized',
      { payment: { status: 'authorized', method: 'stripe', paymentIntentId: 'pi_2', quoteVersion: 2 } },
      T0,
    );
    return phase === 'authorized' ? authorized : { ...authorized, phase: 'delivered' };
  };

  it('an event of version 1’s payment is stale in every later phase — never released, never authorizing', () => {
    for (const phase of ['quoted', 'authorized', 'delivered'] as const) {
      expect(decideCompleted(revisionQuoted(phase), facts())).toEqual({
        action: 'stale',
        version: 1,
        reason: 'the payment of version 1 (captured)',
      });
    }
    // The revision's own payment is decided as before.
    const v2 = facts({ paymentIntentId: 'pi_2', quoteVersion: 2, amountTotal: 1900 });
    expect(decideCompleted(revisionQuoted('quoted'), v2)).toEqual({ action: 'authorize' });
    expect(decideCompleted(revisionQuoted('authorized'), v2)).toEqual({ action: 'authorize' });
    expect(decideCompleted(revisionQuoted('delivered'), v2).action).toBe('noop');
    // Any other intent for the stale quote is still released.
    expect(decideCompleted(revisionQuoted('quoted'), facts({ paymentIntentId: 'pi_x' })).action).toBe(
      'release',
    );
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

describe('money states (README "Money states"): the transitions not covered above', () => {
  const failedWith = (payment: BuildRun['payment']) => {
    const w = transition(transition(stripeAuthorized(), 'repo_ready', {}, T0), 'worker_running', {}, T0);
    return transition(
      w,
      'failed',
      { payment, failure: { code: 'worker_failed', internalReason: 'x', at: T0 } },
      T0,
    );
  };
  const readyWith = (payment: BuildRun['payment']) => {
    let r = transition(stripeAuthorized(), 'repo_ready', {}, T0);
    r = transition(transition(r, 'worker_running', {}, T0), 'artifact_pending', {}, T0);
    return transition(r, 'artifact_ready', { payment }, T0);
  };
  const card = { method: 'stripe' as const, paymentIntentId: 'pi_1', quoteVersion: 1 };

  it('an open authorization with an outcome is unsettled; settled, expired and manual runs are not retried', () => {
    expect(isUnsettled(readyWith({ ...card, status: 'authorized' }))).toBe(true);
    expect(isUnsettled(failedWith({ ...card, status: 'authorized' }))).toBe(true);
    expect(isUnsettled(readyWith({ ...card, status: 'captured' }))).toBe(false);
    expect(isUnsettled(failedWith({ ...card, status: 'cancelled' }))).toBe(false);
    const expired = readyWith({ ...card, status: 'expired' });
    expect(isUnsettled(expired)).toBe(true); // listed for the operators…
    expect(settlementAction(expired)).toBe('none'); // …but never retried automatically
    expect(isUnsettled(readyWith({ status: 'manual_approved', method: 'manual' }))).toBe(false);
    expect(isUnsettled(stripeAuthorized())).toBe(false); // still building: no outcome yet
    // A change resets run.payment; an earlier version whose hold expired stays listed.
    const changed = {
      ...readyWith({ status: 'none' }),
      versions: [{ number: 1, payment: { ...card, status: 'expired' } }],
    } as unknown as BuildRun;
    expect(isUnsettled(changed)).toBe(true);
    expect(settlementAction(changed)).toBe('none');
  });

  it('settlement retries back off exponentially (1 min … 1 h) and wait for nextSettleAt', () => {
    expect([1, 2, 3, 7, 8, 30].map(settleRetryDelayMs)).toEqual([
      60_000, 120_000, 240_000, 3_600_000, 3_600_000, 3_600_000,
    ]);
    const waiting = readyWith({ ...card, status: 'authorized', nextSettleAt: '2026-11-24T10:05:00.000Z' });
    expect(settlementDue(waiting, '2026-11-24T10:04:59.000Z')).toBe(false);
    expect(settlementDue(waiting, '2026-11-24T10:05:00.000Z')).toBe(true);
    expect(settlementDue(readyWith({ ...card, status: 'captured' }), '2030-01-01T00:00:00.000Z')).toBe(false);
  });

  it('the card hold expires 7 days after the authorization', () => {
    const run = readyWith({ ...card, status: 'authorized', authorizedAt: T0 });
    const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();
    expect(holdExpired(run, at(CARD_HOLD_MS - 1))).toBe(false);
    expect(holdExpired(run, at(CARD_HOLD_MS))).toBe(true);
  });

  it('retry: manual runs are reused; card runs need a new checkout or a recorded override; an open hold first settles', () => {
    const manual = failedWith({ status: 'manual_approved', method: 'manual' });
    expect(retryPayment(manual, {})).toEqual({ kind: 'reuse' });
    const released = failedWith({ ...card, status: 'cancelled', checkoutAttempt: 0 });
    expect(retryPayment(released, {})).toEqual({
      kind: 'checkout',
      payment: { status: 'none', quoteVersion: 1, checkoutAttempt: 1, retiredPaymentIntents: ['pi_1'] },
    });
    const override = { actor: 'cli:op', reason: 'goodwill', at: T0 };
    expect(retryPayment(released, { override })).toEqual({
      kind: 'override',
      payment: {
        status: 'manual_approved',
        method: 'manual',
        quoteVersion: 1,
        retiredPaymentIntents: ['pi_1'],
        override,
      },
    });
    expect(() => retryPayment(failedWith({ ...card, status: 'authorized' }), {})).toThrow(
      expect.objectContaining({ code: 'settle_first' }),
    );
    expect(() => retryPayment(failedWith({ status: 'none' }), {})).toThrow(
      expect.objectContaining({ code: 'not_retryable' }),
    );
  });

  it('an earlier, released payment intent never authorizes the run again', () => {
    const reopened = {
      ...quotedRun(),
      payment: { status: 'none' as const, retiredPaymentIntents: ['pi_1'] },
    };
    expect(decideCompleted(reopened, facts({ runId: reopened.runId }))).toMatchObject({ action: 'release' });
    expect(decideCompleted(reopened, facts({ runId: reopened.runId, paymentIntentId: 'pi_2' }))).toEqual({
      action: 'authorize',
    });
  });

  it('a failed run can go back to its quote (retry with a new checkout)', () => {
    const failed = failedWith({ ...card, status: 'cancelled' });
    expect(transition(failed, 'quoted', { retries: (failed.retries ?? 0) + 1 }, T0).phase).toBe('quoted');
    // Not a retry and no delivered version to change: refused.
    expect(() => transition(failed, 'quoted', {}, T0)).toThrow(/cannot move from failed to quoted/);
  });

  it('idempotency keys of capture and cancel name the payment intent (a rebuilt run has a new one)', () => {
    expect(captureIdempotencyKey('run_a', 'pi_1')).not.toBe(captureIdempotencyKey('run_a', 'pi_2'));
    expect(cancelIdempotencyKey('run_a', 'pi_1')).toBe('cancel-run_a-pi_1');
  });
});
