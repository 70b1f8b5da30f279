import { beforeEach, describe, expect, it } from 'vitest';
import { type FulfillmentDeps, fulfillStripeEvent, sessionFacts } from '../../lib/app/stripe-fulfillment.ts';
import type { PaymentGateway } from '../../lib/domain/payment.ts';
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

const completed = (runId: string, over: Record<string, unknown> = {}) => ({
  id: 'evt_1',
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
    await expect(fulfillStripeEvent(crashing, completed(run.runId))).rejects.toThrow('sfn unavailable');
    expect((await store.getRun(run.runId))?.phase).toBe('authorized');
    expect(await fulfillStripeEvent(deps, completed(run.runId))).toBe('authorized');
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
