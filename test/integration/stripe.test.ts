import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { approveRun } from '../../lib/app/approve-run.ts';
import { failRun } from '../../lib/app/orchestrator/fail-run.ts';
import { paymentSettlement, settlePayment } from '../../lib/app/settle-payment.ts';
import { STRIPE_EVENT_LEASE_SECONDS } from '../../lib/app/stripe-fulfillment.ts';
import { NoopPublisher } from '../../lib/aws/event-publisher.ts';
import { DynamoRunStore } from '../../lib/aws/run-store.ts';
import { StripeGateway } from '../../lib/aws/stripe-gateway.ts';
import { newBuildRun, transition } from '../../lib/domain/lifecycle.ts';
import { STRIPE_EVENT_TTL_SECONDS, stripeEventKey } from '../../lib/domain/payment.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { apiEvent, bodyOf, context, type Result } from '../support/api-event.ts';
import { startDynalite } from '../support/dynalite.ts';
import { type LocalStripeServer, startStripeServer } from '../support/stripe-server.ts';
import { clock, FakeStarter, quotedRun, T0 } from '../unit/orchestrator-fakes.ts';

const WEBHOOK_SECRET = 'whsec_local_test_secret_0123456789';
process.env.SESSION_SECRET = 'stripe-test-secret-stripe-test-secret';
process.env.LOG_LEVEL = 'silent';
process.env.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET;
process.env.STRIPE_SECRET_KEY = 'sk_test_local';
process.env.PORTAL_URL = 'http://portal.test';

const { setAppDeps } = await import('../../functions/shared/deps.ts');
const { setPaymentGateway } = await import('../../functions/shared/payments.ts');
const { issueSession } = await import('../../functions/shared/session.ts');
const { handler: checkout } = await import('../../functions/api/checkout.ts');
const { handler: webhook, setWebhookDeps } = await import('../../functions/webhooks/stripe.ts');

let db: Awaited<ReturnType<typeof startDynalite>>;
let stripeServer: LocalStripeServer;
let store: DynamoRunStore;
let gateway: StripeGateway;
let starter: FakeStarter;
let outbox: string;
const publisher = new NoopPublisher();
const now = () => new Date().toISOString();

beforeAll(async () => {
  db = await startDynalite();
  stripeServer = await startStripeServer();
  store = new DynamoRunStore(db.doc, db.tableName);
  gateway = new StripeGateway('sk_test_local', stripeServer.url);
  outbox = await mkdtemp(path.join(tmpdir(), 'outbox-'));
  process.env.OUTBOX_DIR = outbox;
  setAppDeps({ store, publisher, now } as never);
});

afterAll(async () => {
  setAppDeps(undefined);
  setPaymentGateway(undefined);
  setWebhookDeps(undefined);
  await stripeServer?.stop();
  await db?.stop();
  await rm(outbox, { recursive: true, force: true });
});

beforeEach(() => {
  starter = new FakeStarter();
  setPaymentGateway(gateway);
  setWebhookDeps({ store, publisher, starter, now, gateway });
});

const call = async (h: unknown, e: unknown) =>
  (await (h as (e: unknown, c: unknown) => Promise<unknown>)(e, context)) as Result;

/** A quoted run owned by a fresh session, with a contact email unless told otherwise. */
async function ownedQuotedRun(email: string | null = 'visitor@example.com') {
  const { session, token } = await issueSession();
  const base = quotedRun();
  const run: BuildRun = {
    ...base,
    runId: newBuildRun({ sessionId: session.sessionId, emailVerified: false }, T0).runId,
    owner: { sessionId: session.sessionId, emailVerified: false, ...(email ? { email } : {}) },
  };
  await store.createRun(run);
  return { run, token };
}

const checkoutCall = (runId: string, token: string, method: string, headers: Record<string, string> = {}) =>
  call(
    checkout,
    apiEvent({
      method: 'POST',
      path: `/api/v1/build-runs/${runId}/checkout`,
      pathParameters: { run_id: runId },
      headers: { authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ method }),
    }),
  );

function signedDelivery(event: Record<string, unknown>, opts: { secret?: string; base64?: boolean } = {}) {
  const payload = JSON.stringify(event);
  const signature = Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: opts.secret ?? WEBHOOK_SECRET,
  });
  const e = apiEvent({
    method: 'POST',
    path: '/api/v1/webhooks/stripe',
    headers: { 'stripe-signature': signature, 'content-type': 'application/json; charset=utf-8' },
    body: opts.base64 ? Buffer.from(payload).toString('base64') : payload,
  });
  if (opts.base64) e.isBase64Encoded = true;
  return e;
}

let evtSeq = 0;
const stripeEvent = (type: string, object: unknown) => ({
  id: `evt_test_${++evtSeq}_${Date.now()}`,
  object: 'event',
  type,
  api_version: '2025-01-01',
  created: Math.floor(Date.now() / 1000),
  data: { object },
});

/** A run with a Stripe checkout session created through the API and completed by the "customer". */
async function paidRun() {
  const { run, token } = await ownedQuotedRun();
  const res = await checkoutCall(run.runId, token, 'stripe');
  expect(res.statusCode).toBe(200);
  const sessionId = (await store.getRun(run.runId))?.payment.checkoutSessionId as string;
  const session = stripeServer.completeSession(sessionId);
  return { run, token, session };
}

describe('POST /api/v1/build-runs/{run_id}/checkout', () => {
  it('creates a manual-capture Checkout Session through the real stripe library', async () => {
    const { run, token } = await ownedQuotedRun();
    const res = await checkoutCall(run.runId, token, 'stripe');
    expect(res.statusCode).toBe(200);
    const body = bodyOf(res);
    const created = stripeServer.calls('POST', '/v1/checkout/sessions').at(-1);
    expect(created).toBeDefined();
    expect(created?.idempotencyKey).toBe(`checkout-${run.runId}-q1-a0`);
    expect(created?.headers.authorization).toBe('Bearer sk_test_local');
    expect(created?.body).toMatchObject({
      mode: 'payment',
      line_items: [
        {
          quantity: '1',
          price_data: { currency: 'eur', unit_amount: '4900', product_data: { name: 'Tip calculator' } },
        },
      ],
      payment_intent_data: { capture_method: 'manual', metadata: { run_id: run.runId, quote_version: '1' } },
      metadata: { run_id: run.runId, quote_version: '1' },
      client_reference_id: run.runId,
      customer_email: 'visitor@example.com',
      success_url: `http://portal.test/?run_id=${run.runId}&checkout=success`,
      cancel_url: `http://portal.test/?run_id=${run.runId}&checkout=cancelled`,
    });
    const sessionId = [...stripeServer.sessions.values()].at(-1)?.id as string;
    expect(body.checkout_url).toBe(`${stripeServer.url}/pay/${sessionId}`);
    expect(body.run).toMatchObject({
      payment_status: 'checkout_pending',
      payment_methods: ['stripe', 'manual'],
    });
    const stored = await store.getRun(run.runId);
    expect(stored?.payment).toMatchObject({
      status: 'checkout_pending',
      method: 'stripe',
      checkoutSessionId: sessionId,
      quoteVersion: 1,
    });

    // A second click reuses the open session: no second session is created.
    const before = stripeServer.calls('POST', '/v1/checkout/sessions').length;
    const again = await checkoutCall(run.runId, token, 'stripe');
    expect(bodyOf(again).checkout_url).toBe(body.checkout_url);
    expect(stripeServer.calls('POST', '/v1/checkout/sessions').length).toBe(before);
  });

  it('asks for a contact email first, and refuses other phases and foreign runs', async () => {
    const { run, token } = await ownedQuotedRun(null);
    const res = await checkoutCall(run.runId, token, 'stripe');
    expect(res.statusCode).toBe(409);
    expect(bodyOf(res).error.code).toBe('contact_required');

    const other = await issueSession();
    expect((await checkoutCall(run.runId, other.token, 'manual')).statusCode).toBe(404);
    expect((await checkoutCall(run.runId, token, 'bitcoin')).statusCode).toBe(400);

    const { run: paid } = await ownedQuotedRun();
    const authorized = transition(
      paid,
      'authorized',
      { payment: { status: 'manual_approved', method: 'manual' } },
      T0,
    );
    await store.saveRun(authorized, { phase: 'quoted', version: paid.version });
    const { token: t2 } = await issueSession({ sessionId: paid.owner.sessionId });
    const late = await checkoutCall(paid.runId, t2, 'stripe');
    expect(late.statusCode).toBe(409);
    expect(bodyOf(late).error.code).toBe('already_authorized');
  });

  it('without Stripe configured, card payment is refused and only manual approval is offered', async () => {
    const key = process.env.STRIPE_SECRET_KEY;
    delete process.env.STRIPE_SECRET_KEY;
    setPaymentGateway(undefined);
    try {
      const { run, token } = await ownedQuotedRun();
      const res = await checkoutCall(run.runId, token, 'stripe');
      expect(res.statusCode).toBe(409);
      expect(bodyOf(res).error).toEqual({
        code: 'payments_unavailable',
        message: 'Card payment is not available; request approval instead.',
      });
      const manual = await checkoutCall(run.runId, token, 'manual');
      expect(bodyOf(manual).run.payment_methods).toEqual(['manual']);
    } finally {
      process.env.STRIPE_SECRET_KEY = key;
    }
  });

  it('manual: records one approval request, notifies the operator outbox, and bus-build approve accepts it', async () => {
    const { run, token } = await ownedQuotedRun();
    const first = await checkoutCall(run.runId, token, 'manual');
    const second = await checkoutCall(run.runId, token, 'manual');
    expect(first.statusCode).toBe(200);
    expect(bodyOf(first)).toMatchObject({
      checkout_url: null,
      run: { payment_status: 'manual_requested', phase: 'quoted' },
    });
    expect(bodyOf(second).run.payment_status).toBe('manual_requested');
    const { events } = await store.listEvents(run.runId, 0, 100);
    expect(events.filter((e) => e.type === 'bus.build.progress.updated').map((e) => e.data)).toEqual([
      { stage: 'approval_requested' },
    ]);
    const files = (await readdir(outbox)).filter((f) => f.includes(run.runId));
    expect(files).toEqual([`approval-${run.runId}-q1.json`]);
    const note = JSON.parse(await readFile(path.join(outbox, files[0] as string), 'utf8'));
    expect(note).toMatchObject({
      kind: 'approval_requested',
      runId: run.runId,
      amountDisplay: expect.stringContaining('49'),
    });

    const approved = await approveRun({ store, publisher, starter, now: clock() }, run.runId, {
      actor: 'op',
      method: 'manual',
    });
    expect(approved.started).toBe(true);
    expect((await store.getRun(run.runId))?.payment.status).toBe('manual_approved');
  });
});

describe('POST /api/v1/webhooks/stripe', () => {
  it('100 concurrent deliveries of one completed session authorize once and start one execution', async () => {
    const { run, session } = await paidRun();
    // Waiters wait for the lease holder as long as it takes here (a loaded CI machine can take
    // seconds); the bounded wait and its 409 have their own test below.
    setWebhookDeps({ store, publisher, starter, now, gateway, inProgressWaitMs: 120_000 });
    const event = stripeEvent('checkout.session.completed', session);
    const deliveries = Array.from({ length: 100 }, (_, i) => signedDelivery(event, { base64: i % 2 === 1 }));
    const results = await Promise.all(deliveries.map((d) => call(webhook, d)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(100).fill(200));
    // One delivery held the event's lease and processed it; the others waited and were duplicates.
    const outcomes = results.map((r) => bodyOf(r).outcome as string).sort();
    expect(outcomes).toEqual(['authorized', ...Array(99).fill('duplicate')]);
    const stored = await store.getRun(run.runId);
    expect(stored?.phase).toBe('authorized');
    expect(stored?.payment).toMatchObject({
      status: 'authorized',
      method: 'stripe',
      paymentIntentId: session.payment_intent,
      checkoutSessionId: session.id,
      quoteVersion: 1,
    });
    expect(starter.names).toEqual([run.runId]);
    const { events } = await store.listEvents(run.runId, 0, 100);
    expect(events.filter((e) => e.type === 'bus.build.run.authorized').map((e) => e.data)).toEqual([
      { method: 'stripe', actor: 'stripe', quoteVersion: 1 },
    ]);
    // The event id was recorded as processed.
    expect(await store.claimIdempotencyKey(`stripe-event:${event.id}`, 60)).toBe(false);
    // Nothing was cancelled or captured on the way.
    expect(stripeServer.calls('POST', /\/v1\/payment_intents\//)).toHaveLength(0);
  });

  it('a bad or missing signature gets 400 and changes nothing', async () => {
    const { run, session } = await paidRun();
    const before = await store.getRun(run.runId);
    const event = stripeEvent('checkout.session.completed', session);
    const forged = await call(webhook, signedDelivery(event, { secret: 'whsec_wrong' }));
    expect(forged.statusCode).toBe(400);
    expect(bodyOf(forged).error.code).toBe('invalid_signature');
    const tampered = signedDelivery(event);
    tampered.body = (tampered.body as string).replace('"quote_version":"1"', '"quote_version":"2"');
    expect((await call(webhook, tampered)).statusCode).toBe(400);
    const unsigned = signedDelivery(event);
    delete unsigned.headers['stripe-signature'];
    expect((await call(webhook, unsigned)).statusCode).toBe(400);
    expect(await store.getRun(run.runId)).toEqual(before);
    expect(starter.calls).toBe(0);
    expect(await store.claimIdempotencyKey(`stripe-event:${event.id}`, 60)).toBe(true);
  });

  it('acknowledges unknown events and ignores them', async () => {
    const res = await call(webhook, signedDelivery(stripeEvent('customer.created', { id: 'cus_1' })));
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toEqual({ received: true, outcome: 'ignored' });
  });

  it('an expired session returns the run to a payable state; a new checkout gets a fresh session', async () => {
    const { run, token } = await ownedQuotedRun();
    await checkoutCall(run.runId, token, 'stripe');
    const sessionId = (await store.getRun(run.runId))?.payment.checkoutSessionId as string;
    const expired = stripeServer.expireSession(sessionId);
    const res = await call(webhook, signedDelivery(stripeEvent('checkout.session.expired', expired)));
    expect(bodyOf(res).outcome).toBe('reopened');
    const stored = await store.getRun(run.runId);
    expect(stored?.phase).toBe('quoted');
    expect(stored?.payment).toMatchObject({ status: 'none', checkoutAttempt: 1 });
    // A late duplicate of the expiry changes nothing.
    const dup = await call(webhook, signedDelivery(stripeEvent('checkout.session.expired', expired)));
    expect(bodyOf(dup).outcome).toBe('ignored');
    expect((await store.getRun(run.runId))?.version).toBe(stored?.version);

    const again = await checkoutCall(run.runId, token, 'stripe');
    expect(again.statusCode).toBe(200);
    expect(stripeServer.calls('POST', '/v1/checkout/sessions').at(-1)?.idempotencyKey).toBe(
      `checkout-${run.runId}-q1-a1`,
    );
    expect((await store.getRun(run.runId))?.payment.checkoutSessionId).not.toBe(sessionId);
  });

  it('a payment for a stale quote version does not authorize and its authorization is cancelled', async () => {
    const { run, session } = await paidRun();
    const cur = (await store.getRun(run.runId)) as BuildRun;
    const requoted = {
      ...cur,
      quote: { ...(cur.quote as NonNullable<BuildRun['quote']>), version: 2 },
      version: cur.version + 1,
    };
    await store.saveRun(requoted, { phase: 'quoted', version: cur.version });
    const res = await call(webhook, signedDelivery(stripeEvent('checkout.session.completed', session)));
    expect(bodyOf(res).outcome).toBe('released');
    expect((await store.getRun(run.runId))?.phase).toBe('quoted');
    expect(starter.calls).toBe(0);
    const cancels = stripeServer.calls('POST', `/v1/payment_intents/${session.payment_intent}/cancel`);
    expect(cancels.map((c) => c.idempotencyKey)).toEqual([`release-${session.payment_intent}`]);
    expect(stripeServer.paymentIntents.get(session.payment_intent as string)?.status).toBe('canceled');
  });
});

/** Delivers a signed event; returns status and body. */
async function deliver(event: Record<string, unknown>) {
  const res = await call(webhook, signedDelivery(event));
  return { status: res.statusCode, body: bodyOf(res) };
}

/** The session as Stripe sends it in events (the local server's private fields stripped). */
function sessionObject(id: string, over: Record<string, unknown> = {}) {
  const raw = stripeServer.sessions.get(id) as Record<string, unknown>;
  const pub = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('_')));
  return { ...structuredClone(pub), ...over };
}

/** A run with an open checkout session created through the API. */
async function pendingRun() {
  const { run, token } = await ownedQuotedRun();
  expect((await checkoutCall(run.runId, token, 'stripe')).statusCode).toBe(200);
  const sessionId = (await store.getRun(run.runId))?.payment.checkoutSessionId as string;
  return { run, token, sessionId };
}

describe('POST /api/v1/webhooks/stripe: async payments and out-of-order deliveries', () => {
  it('completed with payment_status unpaid and no payment intent changes nothing; async_payment_succeeded authorizes once', async () => {
    const { run, sessionId } = await pendingRun();
    const waiting = sessionObject(sessionId, {
      status: 'complete',
      payment_status: 'unpaid',
      payment_intent: null,
    });
    const before = await store.getRun(run.runId);
    const first = await deliver(stripeEvent('checkout.session.completed', waiting));
    expect(first).toEqual({ status: 200, body: { received: true, outcome: 'ignored' } });
    expect(await store.getRun(run.runId)).toEqual(before);
    expect(before?.payment.status).toBe('checkout_pending');

    const completedSession = stripeServer.completeSession(sessionId);
    const paid = { ...completedSession, payment_status: 'paid' };
    const succeeded = stripeEvent('checkout.session.async_payment_succeeded', paid);
    expect((await deliver(succeeded)).body.outcome).toBe('authorized');
    // Stripe redelivers the same event: acknowledged, not processed again.
    expect(await deliver(succeeded)).toEqual({ status: 200, body: { received: true, outcome: 'duplicate' } });
    const stored = await store.getRun(run.runId);
    expect(stored?.phase).toBe('authorized');
    expect(stored?.payment).toMatchObject({
      status: 'authorized',
      method: 'stripe',
      paymentIntentId: completedSession.payment_intent,
      checkoutSessionId: sessionId,
    });
    expect(starter.names).toEqual([run.runId]);
    expect(starter.calls).toBe(1);
    const { events } = await store.listEvents(run.runId, 0, 100);
    expect(events.filter((e) => e.type === 'bus.build.run.authorized')).toHaveLength(1);
  });

  it('async_payment_failed returns the run to a payable state, once', async () => {
    const { run, token, sessionId } = await pendingRun();
    const waiting = sessionObject(sessionId, { status: 'complete', payment_status: 'unpaid' });
    expect((await deliver(stripeEvent('checkout.session.completed', waiting))).body.outcome).toBe('ignored');
    const failed = stripeEvent('checkout.session.async_payment_failed', waiting);
    expect((await deliver(failed)).body.outcome).toBe('reopened');
    const stored = await store.getRun(run.runId);
    expect(stored?.phase).toBe('quoted');
    expect(stored?.payment).toMatchObject({ status: 'none', checkoutAttempt: 1 });
    expect((await deliver(failed)).body.outcome).toBe('duplicate');
    expect((await store.getRun(run.runId))?.version).toBe(stored?.version);
    expect(starter.calls).toBe(0);
    // The visitor can pay again with a fresh session.
    expect((await checkoutCall(run.runId, token, 'stripe')).statusCode).toBe(200);
    expect((await store.getRun(run.runId))?.payment.checkoutSessionId).not.toBe(sessionId);
  });

  it('a completed session arriving after its expiry (out of order) still authorizes the run once', async () => {
    const { run, sessionId } = await pendingRun();
    const completed = stripeServer.completeSession(sessionId);
    const expiredEvt = stripeEvent(
      'checkout.session.expired',
      sessionObject(sessionId, { status: 'expired' }),
    );
    const completedEvt = stripeEvent('checkout.session.completed', completed);
    expect((await deliver(expiredEvt)).body.outcome).toBe('reopened');
    expect((await store.getRun(run.runId))?.payment.status).toBe('none');
    // The authorization matches the current quote: the customer paid, so the run goes ahead.
    expect((await deliver(completedEvt)).body.outcome).toBe('authorized');
    expect((await deliver(completedEvt)).body.outcome).toBe('duplicate');
    const stored = await store.getRun(run.runId);
    expect(stored?.phase).toBe('authorized');
    expect(stored?.payment).toMatchObject({
      status: 'authorized',
      paymentIntentId: completed.payment_intent,
    });
    expect(starter.names).toEqual([run.runId]);
    expect(
      stripeServer.calls('POST', new RegExp(`/v1/payment_intents/${completed.payment_intent}/`)),
    ).toHaveLength(0);
  });

  it('an expired (or failed) event arriving after completed is ignored and leaves the authorized run alone', async () => {
    const { run, session } = await paidRun();
    expect((await deliver(stripeEvent('checkout.session.completed', session))).body.outcome).toBe(
      'authorized',
    );
    const authorized = await store.getRun(run.runId);
    const late = sessionObject(session.id as string, { status: 'expired' });
    expect((await deliver(stripeEvent('checkout.session.expired', late))).body.outcome).toBe('ignored');
    expect((await deliver(stripeEvent('checkout.session.async_payment_failed', late))).body.outcome).toBe(
      'ignored',
    );
    expect(await store.getRun(run.runId)).toEqual(authorized);
    expect(starter.names).toEqual([run.runId]);
    expect(
      stripeServer.calls('POST', new RegExp(`/v1/payment_intents/${session.payment_intent}/`)),
    ).toHaveLength(0);
  });
});

describe('POST /api/v1/webhooks/stripe: the event lease', () => {
  const lease = (id: string, leaseSeconds: number) =>
    store.claimIdempotencyLease(stripeEventKey(id), { leaseSeconds, ttlSeconds: STRIPE_EVENT_TTL_SECONDS });

  it('a crashed first processor (lease left `processing`, expired) → the next delivery takes over and processes', async () => {
    const { run, session } = await paidRun();
    const event = stripeEvent('checkout.session.completed', session);
    // The first processor claimed the lease and died; its lease ran out a second ago.
    expect((await lease(event.id, -1)).state).toBe('claimed');
    expect((await deliver(event)).body.outcome).toBe('authorized');
    expect(starter.names).toEqual([run.runId]);
    expect(await lease(event.id, 300)).toEqual({
      state: 'done',
      data: { type: 'checkout.session.completed', outcome: 'authorized' },
    });
  });

  it('a `done` record → acknowledged as a duplicate with no processing', async () => {
    const { run, session } = await paidRun();
    const event = stripeEvent('checkout.session.completed', session);
    await store.completeIdempotencyLease(stripeEventKey(event.id), { ttlSeconds: 3600 });
    const before = await store.getRun(run.runId);
    expect(await deliver(event)).toEqual({ status: 200, body: { received: true, outcome: 'duplicate' } });
    expect(await store.getRun(run.runId)).toEqual(before);
    expect(starter.calls).toBe(0);
  });

  it('a live lease held by another delivery → 409 with the JSON error body; nothing changes until it is resolved', async () => {
    const { run, session } = await paidRun();
    const event = stripeEvent('checkout.session.completed', session);
    const held = await lease(event.id, STRIPE_EVENT_LEASE_SECONDS);
    expect(held.state).toBe('claimed');
    setWebhookDeps({ store, publisher, starter, now, gateway, inProgressWaitMs: 50 });
    const res = await deliver(event);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: {
        code: 'event_in_progress',
        message: 'This event is already being processed; please retry later.',
      },
    });
    expect((await store.getRun(run.runId))?.phase).toBe('quoted');
    expect(starter.calls).toBe(0);
    // The holder gives up (it failed and released): Stripe's retry processes the event.
    expect(await store.releaseIdempotencyLease(stripeEventKey(event.id), 'not-the-holder')).toBe(false);
    expect(
      await store.releaseIdempotencyLease(
        stripeEventKey(event.id),
        held.state === 'claimed' ? held.token : '',
      ),
    ).toBe(true);
    expect((await deliver(event)).body.outcome).toBe('authorized');
    expect(starter.names).toEqual([run.runId]);
  });

  it('processing that throws → 500, the lease is released and Stripe’s retry processes the event', async () => {
    const { run, session } = await paidRun();
    const event = stripeEvent('checkout.session.completed', session);
    const failing = {
      start: async () => {
        throw new Error('states unavailable');
      },
    };
    setWebhookDeps({ store, publisher, starter: failing, now, gateway });
    const res = await deliver(event);
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('internal_error');
    expect((await store.getRun(run.runId))?.phase).toBe('authorized'); // the run moved; the start did not
    // No waiting allowed: a lease left behind would answer 409 here.
    setWebhookDeps({ store, publisher, starter, now, gateway, inProgressWaitMs: 0 });
    expect((await deliver(event)).body.outcome).toBe('authorized');
    expect((await deliver(event)).body.outcome).toBe('duplicate');
    expect(starter.names).toEqual([run.runId]);
  });

  it('the DynamoDB lease: one claim of many wins; done and live leases are reported; legacy records count as done', async () => {
    const key = `stripe-event:evt_lease_${Date.now()}`;
    const claims = await Promise.all(
      Array.from({ length: 20 }, () =>
        store.claimIdempotencyLease(key, { leaseSeconds: 300, ttlSeconds: 3600 }),
      ),
    );
    expect(claims.filter((c) => c.state === 'claimed')).toHaveLength(1);
    expect(claims.filter((c) => c.state === 'in_progress')).toHaveLength(19);
    const mine = claims.find((c) => c.state === 'claimed');
    expect(mine).toMatchObject({ takeover: false });
    await store.completeIdempotencyLease(key, { ttlSeconds: 3600, data: { outcome: 'ignored' } });
    expect(await store.releaseIdempotencyLease(key, mine?.state === 'claimed' ? mine.token : '')).toBe(false);
    expect(await store.claimIdempotencyLease(key, { leaseSeconds: 300, ttlSeconds: 3600 })).toEqual({
      state: 'done',
      data: { outcome: 'ignored' },
    });

    const crashed = `${key}-crashed`;
    await store.claimIdempotencyLease(crashed, { leaseSeconds: -1, ttlSeconds: 3600 });
    expect(await store.claimIdempotencyLease(crashed, { leaseSeconds: 300, ttlSeconds: 3600 })).toMatchObject(
      {
        state: 'claimed',
        takeover: true,
      },
    );

    const legacy = `${key}-legacy`;
    expect(await store.claimIdempotencyKey(legacy, 3600, { outcome: 'authorized' })).toBe(true);
    expect(await store.claimIdempotencyLease(legacy, { leaseSeconds: 300, ttlSeconds: 3600 })).toEqual({
      state: 'done',
      data: { outcome: 'authorized' },
    });
    // An expired record (TTL deletion is lazy) is claimed afresh.
    const old = `${key}-old`;
    await store.completeIdempotencyLease(old, { ttlSeconds: -10 });
    expect(await store.claimIdempotencyLease(old, { leaseSeconds: 300, ttlSeconds: 3600 })).toMatchObject({
      state: 'claimed',
      takeover: false,
    });
  });
});

describe('settlement', () => {
  async function authorizedByStripe() {
    const { run, session } = await paidRun();
    const res = await call(webhook, signedDelivery(stripeEvent('checkout.session.completed', session)));
    expect(bodyOf(res).outcome).toBe('authorized');
    return { runId: run.runId, pi: session.payment_intent as string };
  }

  async function advance(runId: string, to: 'worker_running' | 'artifact_ready'): Promise<BuildRun> {
    let run = (await store.getRun(runId)) as BuildRun;
    const path: BuildRun['phase'][] =
      to === 'worker_running'
        ? ['repo_ready', 'worker_running']
        : ['repo_ready', 'worker_running', 'artifact_pending', 'artifact_ready'];
    for (const phase of path) {
      const next = transition(run, phase, {}, now());
      await store.saveRun(next, { phase: run.phase, version: run.version });
      run = next;
    }
    return run;
  }

  it('captures a verified run exactly once, even when settlement runs twice', async () => {
    const { runId, pi } = await authorizedByStripe();
    const ready = await advance(runId, 'artifact_ready');
    const port = paymentSettlement({ store, gateway, now });
    await port.settle(ready);
    await port.settle(ready); // a retried Publish with the stale run object
    await port.settle((await store.getRun(runId)) as BuildRun);
    expect(
      stripeServer.calls('POST', `/v1/payment_intents/${pi}/capture`).map((c) => c.idempotencyKey),
    ).toEqual([`capture-${runId}`]);
    expect(stripeServer.calls('POST', `/v1/payment_intents/${pi}/cancel`)).toHaveLength(0);
    expect(stripeServer.paymentIntents.get(pi)?.status).toBe('succeeded');
    const stored = await store.getRun(runId);
    expect(stored?.phase).toBe('artifact_ready');
    expect(stored?.payment.status).toBe('captured');
  });

  it('cancels a failed run’s authorization exactly once through FailRun, even when FailRun runs twice', async () => {
    const { runId, pi } = await authorizedByStripe();
    await advance(runId, 'worker_running');
    const deps = { store, publisher, now, settlement: paymentSettlement({ store, gateway, now }) };
    const state = {
      runId,
      attempt: 3,
      maxAttempts: 3,
      failureCode: 'verification_failed' as const,
      lastFailure: 'x',
    };
    await failRun(deps, state);
    await failRun(deps, state);
    expect(
      stripeServer.calls('POST', `/v1/payment_intents/${pi}/cancel`).map((c) => c.idempotencyKey),
    ).toEqual([`cancel-${runId}`]);
    expect(stripeServer.calls('POST', `/v1/payment_intents/${pi}/capture`)).toHaveLength(0);
    const stored = await store.getRun(runId);
    expect(stored?.phase).toBe('failed');
    expect(stored?.payment.status).toBe('cancelled');
  });

  it('a failed capture keeps artifact_ready, leaves the payment authorized and notes it for operators', async () => {
    const { runId, pi } = await authorizedByStripe();
    const ready = await advance(runId, 'artifact_ready');
    const intent = stripeServer.paymentIntents.get(pi);
    if (intent) intent.status = 'canceled'; // e.g. the authorization expired at Stripe
    expect(await settlePayment({ store, gateway, now }, ready)).toBe('error');
    const stored = await store.getRun(runId);
    expect(stored?.phase).toBe('artifact_ready');
    expect(stored?.payment.status).toBe('authorized');
    expect(stored?.payment.note).toMatch(/^capture failed at .*could not be captured/);
  });

  it('does nothing for runs not paid by card', async () => {
    const run = transition(
      quotedRun(),
      'authorized',
      { payment: { status: 'manual_approved', method: 'manual' } },
      T0,
    );
    expect(await settlePayment({ store, gateway, now }, { ...run, phase: 'failed' })).toBe('none');
  });
});
