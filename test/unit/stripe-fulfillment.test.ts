import { beforeEach, describe, expect, it } from 'vitest';
import {
  EventInProgressError,
  type FulfillmentDeps,
  fulfillStripeEvent,
  STRIPE_EVENT_LEASE_SECONDS,
  sessionFacts,
} from '../../lib/app/stripe-fulfillment.ts';
import { type PaymentGateway, stripeEventKey } from '../../lib/domain/payment.ts';
import { clock, FakeStarter, MemoryPublisher, MemoryRunStore, quotedRun } from './orchestrator-fakes.ts';

process.env.LOG_LEVEL = 'silent';

class FakeGateway implements PaymentGateway {
  cancels: [string, string][] = [];
  async createCheckoutSession(): Promise<{ id: string; url: string }> {
    throw new Error('not used');
  }
  async getCheckoutSession(id: string) {
    return { id, status: 'open', url: null };
  }
  async capture(): Promise<'captured'> {
    return 'captured';
  }
  async cancel(pi: string, key: string): Promise<'cancelled'> {
    this.cancels.push([pi, key]);
    return 'cancelled';
  }
}

let store: MemoryRunStore;
let starter: FakeStarter;
let gateway: FakeGateway;
let deps: FulfillmentDeps;

beforeEach(() => {
  store = new MemoryRunStore();
  starter = new FakeStarter();
  gateway = new FakeGateway();
  deps = { store, publisher: new MemoryPublisher(), starter, gateway, now: clock() };
});

let evtSeq = 0;
/** A completed-session event; each call is a new event id unless `id` is given (a redelivery). */
const completed = (runId: string, over: Record<string, unknown> = {}, id = `evt_${++evtSeq}`) => ({
  id,
  type: 'checkout.session.completed',
  data: {
    object: {
      id: 'cs_1',
      object: 'checkout.session',
      payment_status: 'unpaid',
      payment_intent: 'pi_1',
      amount_total: 4900,
      currency: 'eur',
      client_reference_id: runId,
      metadata: { run_id: runId, quote_version: '1' },
      ...over,
    },
  },
});

describe('fulfillStripeEvent', () => {
  it('reads run, quote version and intent from the session (metadata first, then client_reference_id)', () => {
    expect(sessionFacts(completed('run_x').data.object)).toMatchObject({
      sessionId: 'cs_1',
      runId: 'run_x',
      quoteVersion: 1,
      paymentIntentId: 'pi_1',
    });
    expect(
      sessionFacts({ id: 'cs', client_reference_id: 'run_y', payment_intent: { id: 'pi_9' } }),
    ).toMatchObject({
      runId: 'run_y',
      paymentIntentId: 'pi_9',
    });
  });

  it('a crash after the authorization is repaired by the retried delivery: one transition, one execution', async () => {
    const run = quotedRun();
    await store.createRun(run);
    const crashing: FulfillmentDeps = {
      ...deps,
      starter: {
        start: async () => {
          throw new Error('sfn unavailable');
        },
      },
    };
    const event = completed(run.runId);
    await expect(fulfillStripeEvent(crashing, event)).rejects.toThrow('sfn unavailable');
    expect((await store.getRun(run.runId))?.phase).toBe('authorized');
    // The failed attempt released its lease: Stripe's retry of the same event processes it.
    expect(store.leases.has(stripeEventKey(event.id))).toBe(false);
    // The retry starts the build; the run had been authorized by the first attempt, so it says so.
    expect(await fulfillStripeEvent(deps, event)).toBe('already_authorized');
    expect(store.leases.get(stripeEventKey(event.id))).toMatchObject({
      status: 'done',
      data: { type: 'checkout.session.completed', outcome: 'already_authorized' },
    });
    // A redelivery of the same event is not processed at all; another event for the session is
    // processed and stopped by the state guards.
    expect(await fulfillStripeEvent(deps, event)).toBe('duplicate');
    expect(starter.calls).toBe(1);
    expect(await fulfillStripeEvent(deps, completed(run.runId))).toBe('already_authorized');
    expect(starter.names).toEqual([run.runId]);
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized']);
    expect(gateway.cancels).toEqual([]);
  });

  it('releases the card hold when the run was approved manually first', async () => {
    const run = quotedRun();
    await store.createRun(run);
    const { approveRun } = await import('../../lib/app/approve-run.ts');
    await approveRun(deps, run.runId, { actor: 'op', method: 'manual' });
    expect(await fulfillStripeEvent(deps, completed(run.runId))).toBe('released');
    expect(gateway.cancels).toEqual([['pi_1', 'release-pi_1']]);
    expect((await store.getRun(run.runId))?.payment.status).toBe('manual_approved');
  });

  it('a re-quote that lands between the check and the transition wins: the payment is released', async () => {
    const run = quotedRun();
    await store.createRun(run);
    let once = false;
    store.beforeSave = async () => {
      if (once) return;
      once = true;
      const cur = store.runs.get(run.runId);
      if (cur?.quote)
        store.runs.set(run.runId, { ...cur, quote: { ...cur.quote, version: 2 }, version: cur.version + 1 });
    };
    // The first attempt loses the conditional write (ConflictError → 500, Stripe retries) …
    await expect(fulfillStripeEvent(deps, completed(run.runId))).rejects.toThrow();
    // … and the retry sees the new quote version and releases the authorization.
    expect(await fulfillStripeEvent(deps, completed(run.runId))).toBe('released');
    expect((await store.getRun(run.runId))?.phase).toBe('quoted');
    expect(starter.calls).toBe(0);
  });

  it('ignores sessions of unknown runs and without a payment intent', async () => {
    expect(await fulfillStripeEvent(deps, completed('run_aaaaaaaaaaaaaaaaaaaaaaaaaa'))).toBe('ignored');
    expect(await fulfillStripeEvent(deps, completed('not-a-run'))).toBe('ignored');
    const run = quotedRun();
    await store.createRun(run);
    expect(await fulfillStripeEvent(deps, completed(run.runId, { payment_intent: null }))).toBe('ignored');
    expect(gateway.cancels).toEqual([]);
    expect((await store.getRun(run.runId))?.phase).toBe('quoted');
  });
});

describe('fulfillStripeEvent: revisions', () => {
  /** Stripe refuses to cancel an intent that was captured. */
  class StrictGateway extends FakeGateway {
    captured = new Set<string>();
    override async cancel(pi: string, key: string): Promise<'cancelled'> {
      if (this.captured.has(pi)) throw new Error(`This PaymentIntent (${pi}) has a status of succeeded.`);
      return super.cancel(pi, key);
    }
  }

  /** Version 1 paid with pi_1 (captured), then a change re-quoted the run as version 2 (quote version 2). */
  async function revisionQuoted() {
    const base = quotedRun();
    const run = {
      ...base,
      quote: { ...(base.quote as NonNullable<typeof base.quote>), version: 2, amountCents: 1900 },
      revision: { number: 2, baseVersion: 1, retriesAtStart: 0, requestedAt: base.createdAt },
      versions: [
        {
          number: 1,
          spec: base.spec as NonNullable<typeof base.spec>,
          quoteVersion: 1,
          amountCents: 4900,
          currency: 'eur',
          attempt: 1,
          artifacts: [],
          verifiedAt: base.createdAt,
          payment: { status: 'captured', method: 'stripe', paymentIntentId: 'pi_1', quoteVersion: 1 },
        },
      ],
    };
    await store.createRun(run);
    const strict = new StrictGateway();
    strict.captured.add('pi_1');
    return { run, strict, d: { ...deps, gateway: strict, inProgressWaitMs: 10_000 } };
  }
  const v2Event = (runId: string, id?: string) =>
    completed(
      runId,
      {
        id: 'cs_2',
        payment_intent: 'pi_2',
        amount_total: 1900,
        metadata: { run_id: runId, quote_version: '2' },
      },
      id,
    );

  it('a late event of version 1’s session is acknowledged as stale: no cancel, no change, no start', async () => {
    const { run, strict, d } = await revisionQuoted();
    const before = await store.getRun(run.runId);
    expect(await fulfillStripeEvent(d, completed(run.runId))).toBe('stale');
    expect(
      await fulfillStripeEvent(d, {
        ...completed(run.runId),
        type: 'checkout.session.async_payment_succeeded',
      }),
    ).toBe('stale');
    expect(await store.getRun(run.runId)).toEqual(before);
    expect(strict.cancels).toEqual([]);
    expect(starter.calls).toBe(0);
    // After version 2 is authorized, too.
    expect(await fulfillStripeEvent(d, v2Event(run.runId))).toBe('authorized');
    expect(await fulfillStripeEvent(d, completed(run.runId))).toBe('stale');
    const after = await store.getRun(run.runId);
    expect(after?.payment).toMatchObject({ status: 'authorized', paymentIntentId: 'pi_2' });
    expect(after?.versions?.[0]?.payment).toEqual(before?.versions?.[0]?.payment);
    expect(strict.cancels).toEqual([]);
    expect(starter.names).toEqual([`${run.runId}-v2`]);
  });

  it('the revision’s event, twice in a row and as two concurrent copies, starts exactly one `-v2` execution', async () => {
    const { run, strict, d } = await revisionQuoted();
    const event = v2Event(run.runId);
    const copies = await Promise.all([fulfillStripeEvent(d, event), fulfillStripeEvent(d, event)]);
    expect(copies.sort()).toEqual(['authorized', 'duplicate']);
    expect(await fulfillStripeEvent(d, event)).toBe('duplicate');
    // Two concurrent copies of another event id of the same session: the state guards hold.
    const other = v2Event(run.runId);
    const more = await Promise.all([fulfillStripeEvent(d, other), fulfillStripeEvent(d, other)]);
    expect(more.sort()).toEqual(['already_authorized', 'duplicate']);
    expect(starter.names).toEqual([`${run.runId}-v2`]);
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized']);
    expect(strict.cancels).toEqual([]);
  });
});

describe('fulfillStripeEvent: the event lease', () => {
  const key = (id: string) => stripeEventKey(id);
  const future = () => Date.now() + 3600_000;

  it('claims the event as `processing` before any work and marks it `done` afterwards', async () => {
    const run = await quotedStored();
    const event = completed(run.runId);
    const seen: unknown[] = [];
    const watching: FulfillmentDeps = {
      ...deps,
      starter: {
        start: async (name, input) => {
          const lease = store.leases.get(key(event.id));
          seen.push(lease?.status);
          expect((lease?.leaseUntilMs ?? 0) - Date.now()).toBeGreaterThan(
            (STRIPE_EVENT_LEASE_SECONDS - 5) * 1000,
          );
          return starter.start(name, input);
        },
      },
    };
    expect(await fulfillStripeEvent(watching, event)).toBe('authorized');
    expect(seen).toEqual(['processing']);
    expect(store.leases.get(key(event.id))?.status).toBe('done');
  });

  it('a `done` record is acknowledged as a duplicate without any processing', async () => {
    const run = await quotedStored();
    const event = completed(run.runId);
    store.leases.set(key(event.id), {
      status: 'done',
      expiresAtMs: future(),
      data: { outcome: 'authorized' },
    });
    expect(await fulfillStripeEvent(deps, event)).toBe('duplicate');
    expect((await store.getRun(run.runId))?.phase).toBe('quoted');
    expect(store.saves).toBe(0);
    expect(starter.calls).toBe(0);
  });

  it('an expired `processing` lease (the first processor crashed) is taken over and processed', async () => {
    const run = await quotedStored();
    const event = completed(run.runId);
    store.leases.set(key(event.id), {
      status: 'processing',
      expiresAtMs: future(),
      leaseUntilMs: Date.now() - 1,
      token: 'crashed',
      data: {},
    });
    expect(await fulfillStripeEvent(deps, event)).toBe('authorized');
    expect(starter.names).toEqual([run.runId]);
    expect(store.leases.get(key(event.id))?.status).toBe('done');
    // The crashed holder cannot release what is no longer its lease.
    expect(await store.releaseIdempotencyLease(key(event.id), 'crashed')).toBe(false);
    expect(store.leases.get(key(event.id))?.status).toBe('done');
  });

  it('a live lease held by another delivery → 409 event_in_progress after a short wait, nothing processed', async () => {
    const run = await quotedStored();
    const event = completed(run.runId);
    const held = await store.claimIdempotencyLease(key(event.id), { leaseSeconds: 300, ttlSeconds: 3600 });
    expect(held.state).toBe('claimed');
    const started = Date.now();
    const err = await fulfillStripeEvent({ ...deps, inProgressWaitMs: 60 }, event).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventInProgressError);
    expect(err).toMatchObject({ status: 409, code: 'event_in_progress' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect((await store.getRun(run.runId))?.phase).toBe('quoted');
    expect(starter.calls).toBe(0);
    expect(store.leases.get(key(event.id))?.status).toBe('processing');
  });

  it('waiting on a live lease: the holder finishing → duplicate; the holder failing → this delivery processes', async () => {
    const run = await quotedStored();
    const a = completed(run.runId);
    await store.claimIdempotencyLease(key(a.id), { leaseSeconds: 300, ttlSeconds: 3600 });
    setTimeout(() => void store.completeIdempotencyLease(key(a.id), { ttlSeconds: 3600 }), 40);
    expect(await fulfillStripeEvent({ ...deps, inProgressWaitMs: 2000 }, a)).toBe('duplicate');
    expect(starter.calls).toBe(0);

    const b = completed(run.runId);
    const held = await store.claimIdempotencyLease(key(b.id), { leaseSeconds: 300, ttlSeconds: 3600 });
    const token = held.state === 'claimed' ? held.token : '';
    setTimeout(() => void store.releaseIdempotencyLease(key(b.id), token), 40);
    expect(await fulfillStripeEvent({ ...deps, inProgressWaitMs: 2000 }, b)).toBe('authorized');
    expect(starter.names).toEqual([run.runId]);
  });

  it('processing that throws releases the lease, so the retry processes', async () => {
    const run = await quotedStored();
    const event = completed(run.runId);
    store.beforeSave = () => {
      throw new Error('dynamodb unavailable');
    };
    await expect(fulfillStripeEvent(deps, event)).rejects.toThrow('dynamodb unavailable');
    expect(store.leases.has(key(event.id))).toBe(false);
    store.beforeSave = undefined;
    // No wait allowed: a lease left behind would answer 409 here.
    expect(await fulfillStripeEvent({ ...deps, inProgressWaitMs: 0 }, event)).toBe('authorized');
    expect(starter.names).toEqual([run.runId]);
  });

  it('unknown events are recorded and acknowledged once', async () => {
    const event = { id: 'evt_unknown', type: 'customer.created', data: { object: { id: 'cus_1' } } };
    expect(await fulfillStripeEvent(deps, event)).toBe('ignored');
    expect(await fulfillStripeEvent(deps, event)).toBe('duplicate');
  });
});

describe('fulfillStripeEvent: session events', () => {
  const pending = (run: { runId: string }) => {
    const r = store.runs.get(run.runId);
    if (r) {
      r.payment = {
        ...r.payment,
        status: 'checkout_pending',
        method: 'stripe',
        checkoutSessionId: 'cs_1',
        quoteVersion: 1,
      };
      r.version += 1;
    }
  };
  const ev = (runId: string, type: string, over: Record<string, unknown> = {}) => ({
    ...completed(runId, over),
    type,
  });

  it('completed while an async payment is still unpaid (no intent) waits; async_payment_succeeded authorizes once', async () => {
    const run = await quotedStored();
    pending(run);
    expect(await fulfillStripeEvent(deps, completed(run.runId, { payment_intent: null }))).toBe('ignored');
    expect((await store.getRun(run.runId))?.payment.status).toBe('checkout_pending');
    const succeeded = ev(run.runId, 'checkout.session.async_payment_succeeded', { payment_status: 'paid' });
    expect(await fulfillStripeEvent(deps, succeeded)).toBe('authorized');
    expect(await fulfillStripeEvent(deps, succeeded)).toBe('duplicate');
    const stored = await store.getRun(run.runId);
    expect(stored?.phase).toBe('authorized');
    expect(stored?.payment).toMatchObject({ status: 'authorized', paymentIntentId: 'pi_1' });
    expect(starter.names).toEqual([run.runId]);
  });

  it('async_payment_failed returns the run to a payable state; a late one after authorization is ignored', async () => {
    const run = await quotedStored();
    pending(run);
    expect(
      await fulfillStripeEvent(
        deps,
        ev(run.runId, 'checkout.session.async_payment_failed', { payment_intent: null }),
      ),
    ).toBe('reopened');
    expect((await store.getRun(run.runId))?.payment).toMatchObject({ status: 'none', checkoutAttempt: 1 });

    const other = await quotedStored();
    expect(await fulfillStripeEvent(deps, completed(other.runId))).toBe('authorized');
    const version = (await store.getRun(other.runId))?.version;
    expect(await fulfillStripeEvent(deps, ev(other.runId, 'checkout.session.async_payment_failed'))).toBe(
      'ignored',
    );
    expect((await store.getRun(other.runId))?.version).toBe(version);
  });
});

async function quotedStored() {
  const run = quotedRun();
  await store.createRun(run);
  return run;
}
