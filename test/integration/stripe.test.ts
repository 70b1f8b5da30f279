import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { approveRun } from '../../lib/app/approve-run.ts';
import { failRun } from '../../lib/app/orchestrator/fail-run.ts';
import { postMessage } from '../../lib/app/post-message.ts';
import { retryRun } from '../../lib/app/retry-run.ts';
import { paymentSettlement, settleDueRuns, settlePayment } from '../../lib/app/settle-payment.ts';
import { STRIPE_EVENT_LEASE_SECONDS } from '../../lib/app/stripe-fulfillment.ts';
import { NoopPublisher } from '../../lib/aws/event-publisher.ts';
import { DynamoRunStore } from '../../lib/aws/run-store.ts';
import { StripeGateway } from '../../lib/aws/stripe-gateway.ts';
import { runSummary } from '../../lib/cli/commands/runs.ts';
import { settleCommand } from '../../lib/cli/commands/settle.ts';
import type { Connection } from '../../lib/cli/target.ts';
import { OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { newBuildRun, transition } from '../../lib/domain/lifecycle.ts';
import type { VerifiedArtifact } from '../../lib/domain/manifest.ts';
import { STRIPE_EVENT_TTL_SECONDS, stripeEventKey } from '../../lib/domain/payment.ts';
import { DEFAULT_PRICE_TABLE } from '../../lib/domain/pricing.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { publishedArtifactId, publishedVersion } from '../../lib/domain/versions.ts';
import { startLocalSettleReconcile } from '../../lib/local/settle.ts';
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
const { setOrchestratorDeps } = await import('../../functions/orchestrator/deps.ts');
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
    owner: { sessionId: session.sessionId, emailVerified: Boolean(email), ...(email ? { email } : {}) },
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
    // The retry starts the build of the run its first attempt authorized.
    expect((await deliver(event)).body.outcome).toBe('already_authorized');
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
    ).toEqual([`capture-${runId}-${pi}`]);
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
    ).toEqual([`cancel-${runId}-${pi}`]);
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

  it('capture retried after a Stripe outage: backoff, listed as unsettled, settled by the reconcile, charged once', async () => {
    const { runId, pi } = await authorizedByStripe();
    const ready = await advance(runId, 'artifact_ready');
    stripeServer.outage = true;
    const t0 = Date.now();
    const at = (ms: number) => () => new Date(t0 + ms).toISOString();
    try {
      expect(await settlePayment({ store, gateway, now: at(0) }, ready)).toBe('error');
    } finally {
      stripeServer.outage = false;
    }
    let stored = (await store.getRun(runId)) as BuildRun;
    expect(stored.phase).toBe('artifact_ready');
    expect(stored.payment).toMatchObject({ status: 'authorized', settleAttempts: 1 });
    expect(stored.payment.nextSettleAt).toBe(new Date(t0 + 60_000).toISOString());
    expect(runSummary(stored)).toMatchObject({ unsettled: true, payment: 'authorized' });

    // The reconcile honours the backoff, then settles.
    expect((await settleDueRuns({ store, gateway, now: at(30_000) }))[runId]).toBeUndefined();
    expect((await settleDueRuns({ store, gateway, now: at(61_000) }))[runId]).toBe('captured');
    expect((await settleDueRuns({ store, gateway, now: at(200_000) }))[runId]).toBeUndefined();
    stored = (await store.getRun(runId)) as BuildRun;
    expect(stored.payment.status).toBe('captured');
    expect(stored.payment.settleAttempts).toBeUndefined();
    expect(runSummary(stored).unsettled).toBe(false);
    expect(stripeServer.calls('POST', `/v1/payment_intents/${pi}/capture`)).toHaveLength(1);
    expect(stripeServer.paymentIntents.get(pi)?.status).toBe('succeeded');
  });

  it('a capture that still fails once the card hold has expired ends the retries as expired (unsettled)', async () => {
    const { runId } = await authorizedByStripe();
    const ready = await advance(runId, 'artifact_ready');
    const eightDaysLater = () => new Date(Date.now() + 8 * 24 * 3600 * 1000).toISOString();
    stripeServer.outage = true;
    try {
      expect(await settlePayment({ store, gateway, now: eightDaysLater }, ready)).toBe('expired');
    } finally {
      stripeServer.outage = false;
    }
    const stored = (await store.getRun(runId)) as BuildRun;
    expect(stored.payment.status).toBe('expired');
    expect(runSummary(stored).unsettled).toBe(true);
    expect((await settleDueRuns({ store, gateway, now: eightDaysLater }))[runId]).toBeUndefined();
  });

  it('the local stack settles open card payments on its timer (the stand-in for the AWS SettleRule)', async () => {
    const { runId, pi } = await authorizedByStripe();
    const ready = await advance(runId, 'artifact_ready');
    stripeServer.outage = true;
    try {
      // Failed an hour ago: the backoff has passed.
      await settlePayment(
        { store, gateway, now: () => new Date(Date.now() - 3600_000).toISOString() },
        ready,
      );
    } finally {
      stripeServer.outage = false;
    }
    setOrchestratorDeps({ store, now } as never);
    const timer = startLocalSettleReconcile({
      STRIPE_SECRET_KEY: 'sk_test_local',
      STRIPE_API_BASE: stripeServer.url,
      SETTLE_INTERVAL_SECONDS: '1',
    });
    try {
      const end = Date.now() + 15_000;
      while ((await store.getRun(runId))?.payment.status !== 'captured') {
        if (Date.now() > end) throw new Error('the local settle reconcile never captured');
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      timer.stop();
      setOrchestratorDeps(undefined);
    }
    expect(stripeServer.calls('POST', `/v1/payment_intents/${pi}/capture`)).toHaveLength(1);
  });

  it('bus-build settle captures an unsettled run once and then has nothing to do', async () => {
    const { runId, pi } = await authorizedByStripe();
    const ready = await advance(runId, 'artifact_ready');
    stripeServer.outage = true;
    try {
      await settlePayment({ store, gateway, now }, ready);
    } finally {
      stripeServer.outage = false;
    }
    const conn = { store } as unknown as Connection;
    const env = { STRIPE_SECRET_KEY: 'sk_test_local', STRIPE_API_BASE: stripeServer.url };
    const first = await settleCommand(conn, runId, { env, now: () => new Date() });
    expect(first.data).toMatchObject({ outcome: 'captured', payment: 'captured' });
    expect(first.text).toContain('charged once');
    const second = await settleCommand(conn, runId, { env, now: () => new Date() });
    expect(second.data).toMatchObject({ outcome: 'none' });
    expect(stripeServer.calls('POST', `/v1/payment_intents/${pi}/capture`)).toHaveLength(1);
  });

  it('a failed card-paid run is rebuilt through a new checkout and charged exactly once', async () => {
    const { run, token, session } = await paidRun();
    const runId = run.runId;
    const pi1 = session.payment_intent as string;
    const completed = stripeEvent('checkout.session.completed', session);
    expect(bodyOf(await call(webhook, signedDelivery(completed))).outcome).toBe('authorized');
    await advance(runId, 'worker_running');
    const settlement = paymentSettlement({ store, gateway, now });
    await failRun(
      { store, publisher, now, settlement },
      { runId, attempt: 1, maxAttempts: 3, failureCode: 'infrastructure' },
    );
    expect((await store.getRun(runId))?.payment.status).toBe('cancelled');

    // Operator: bus-build retry → back at the quote, the visitor pays again.
    const retry = await retryRun({ store, publisher, starter, now }, runId, 'cli:op');
    expect(retry).toMatchObject({
      checkoutRequired: true,
      started: false,
      executionName: `${runId}-retry-1`,
    });
    expect(retry.run.phase).toBe('quoted');
    expect(retry.run.payment).toMatchObject({
      status: 'none',
      checkoutAttempt: 1,
      retiredPaymentIntents: [pi1],
    });
    // Idempotent: asking again changes nothing.
    expect((await retryRun({ store, publisher, starter, now }, runId, 'cli:op')).checkoutRequired).toBe(true);

    const res = await checkoutCall(runId, token, 'stripe');
    expect(res.statusCode).toBe(200);
    const session2Id = (await store.getRun(runId))?.payment.checkoutSessionId as string;
    expect(session2Id).not.toBe(session.id);
    const session2 = stripeServer.completeSession(session2Id);
    const pi2 = session2.payment_intent as string;
    expect(pi2).not.toBe(pi1);
    // A late event of the first (released) session must not authorize the run again.
    const late = stripeEvent('checkout.session.async_payment_succeeded', session);
    expect(bodyOf(await call(webhook, signedDelivery(late))).outcome).toBe('released');
    expect(
      bodyOf(await call(webhook, signedDelivery(stripeEvent('checkout.session.completed', session2))))
        .outcome,
    ).toBe('authorized');
    expect(starter.names).toContain(`${runId}-retry-1`);

    const ready = await advance(runId, 'artifact_ready');
    await settlement.settle(ready);
    await settlement.settle(ready);
    const stored = (await store.getRun(runId)) as BuildRun;
    expect(stored.payment).toMatchObject({ status: 'captured', paymentIntentId: pi2 });
    const captures = stripeServer
      .calls('POST', /^\/v1\/payment_intents\/[^/]+\/capture$/)
      .filter((c) => [pi1, pi2].some((pi) => c.path.includes(pi)));
    expect(captures.map((c) => c.path)).toEqual([`/v1/payment_intents/${pi2}/capture`]);
    expect(stripeServer.paymentIntents.get(pi1)?.status).toBe('canceled');
    expect(stripeServer.paymentIntents.get(pi2)?.status).toBe('succeeded');
  });

  it('retry --no-charge rebuilds a failed card run without a new payment, recorded; an open hold must be settled first', async () => {
    const { runId, pi } = await authorizedByStripe();
    await advance(runId, 'worker_running');
    // FailRun without settlement: the hold is still open.
    await failRun(
      { store, publisher, now },
      { runId, attempt: 1, maxAttempts: 3, failureCode: 'worker_failed' },
    );
    await expect(retryRun({ store, publisher, starter, now }, runId, 'cli:op')).rejects.toMatchObject({
      code: 'settle_first',
    });
    await settlePayment({ store, gateway, now }, (await store.getRun(runId)) as BuildRun);
    const retry = await retryRun({ store, publisher, starter, now }, runId, 'cli:op', {
      noCharge: 'goodwill',
    });
    expect(retry).toMatchObject({ started: true, checkoutRequired: false });
    expect(retry.run.phase).toBe('authorized');
    expect(retry.run.payment).toMatchObject({
      status: 'manual_approved',
      method: 'manual',
      retiredPaymentIntents: [pi],
      override: { actor: 'cli:op', reason: 'goodwill' },
    });
    expect(stripeServer.calls('POST', `/v1/payment_intents/${pi}/capture`)).toHaveLength(0);
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

describe('card-paid revisions (version 2, 3 … of a delivered run)', () => {
  const settlementPort = () => paymentSettlement({ store, gateway, now });

  /** What Publish does for version `n`: artifacts and the version record at artifact_ready, then capture; then delivered. */
  async function publishVersion(runId: string, n: number): Promise<BuildRun> {
    let run = (await store.getRun(runId)) as BuildRun;
    for (const phase of ['repo_ready', 'worker_running', 'artifact_pending'] as const) {
      const next = transition(run, phase, {}, now());
      await store.saveRun(next, { phase: run.phase, version: run.version });
      run = next;
    }
    const id = publishedArtifactId('linux-amd64', n);
    const artifacts: VerifiedArtifact[] = [
      {
        artifact_id: id,
        kind: 'binary',
        name: 'tip-calculator-linux-amd64',
        path: 'bin/tip-calculator-linux-amd64',
        sha256: `${n}`.repeat(64),
        size_bytes: 1000 + n,
        platform: 'linux-amd64',
        source_included: false,
        published_key: `runs/${runId}/${id}/tip-calculator`,
        content_type: 'application/octet-stream',
        verified_at: now(),
      },
    ];
    const version = publishedVersion({
      number: n,
      spec: run.spec as NonNullable<BuildRun['spec']>,
      quote: run.quote as NonNullable<BuildRun['quote']>,
      commit: `${n}`.repeat(40),
      attempt: run.attempts || 1,
      artifacts,
      at: now(),
    });
    const patch = { artifacts, versions: [...(run.versions ?? []), version], revision: undefined };
    const ready = transition(run, 'artifact_ready', patch, now());
    await store.saveRun(ready, { phase: run.phase, version: run.version });
    await settlementPort().settle(ready);
    const settled = (await store.getRun(runId)) as BuildRun;
    const delivered = transition(settled, 'delivered', {}, now());
    await store.saveRun(delivered, { phase: settled.phase, version: settled.version });
    return delivered;
  }

  const appDeps = () => ({
    store,
    publisher,
    intake: new OfflineIntake(recipeCatalog),
    priceTable: DEFAULT_PRICE_TABLE,
    now,
  });
  const paymentIntentCalls = (pi: string, op: 'capture' | 'cancel') =>
    stripeServer.calls('POST', `/v1/payment_intents/${pi}/${op}`);

  it('a revision checkout builds `-v2` once; version 1’s late events are stale (200, its capture untouched); v2 is captured only at artifact_ready', async () => {
    // Copies of one event wait for the lease holder instead of answering 409.
    setWebhookDeps({ store, publisher, starter, now, gateway, inProgressWaitMs: 120_000 });
    const { run, token, session: s1 } = await paidRun();
    const runId = run.runId;
    const pi1 = s1.payment_intent as string;
    expect((await deliver(stripeEvent('checkout.session.completed', s1))).body.outcome).toBe('authorized');
    await publishVersion(runId, 1);
    expect(stripeServer.paymentIntents.get(pi1)?.status).toBe('succeeded');

    // The visitor asks for a change: version 2 is quoted; version 1's payment is kept with it.
    const { run: quoted } = await postMessage(
      appDeps(),
      { sessionId: run.owner.sessionId },
      runId,
      'Can I also have it for Mac?',
    );
    expect(quoted).toMatchObject({ phase: 'quoted', revision: { number: 2, baseVersion: 1 } });
    expect(quoted.payment.status).toBe('none');
    const v1Payment = quoted.versions?.[0]?.payment;
    expect(v1Payment).toMatchObject({ status: 'captured', paymentIntentId: pi1 });

    // Late events of version 1's session (new event ids) while v2 is quoted: acknowledged, nothing done.
    for (const type of ['checkout.session.completed', 'checkout.session.async_payment_succeeded']) {
      expect(await deliver(stripeEvent(type, s1))).toEqual({
        status: 200,
        body: { received: true, outcome: 'stale' },
      });
    }
    expect((await store.getRun(runId))?.version).toBe(quoted.version);

    // The visitor pays the revision by card.
    expect((await checkoutCall(runId, token, 'stripe')).statusCode).toBe(200);
    const s2Id = (await store.getRun(runId))?.payment.checkoutSessionId as string;
    expect(s2Id).not.toBe(s1.id);
    const s2 = stripeServer.completeSession(s2Id);
    const pi2 = s2.payment_intent as string;
    expect(pi2).not.toBe(pi1);
    expect((s2 as { metadata: Record<string, string> }).metadata.quote_version).toBe(
      String(quoted.quote?.version),
    );

    // Two copies of one event at once, then the same event again, then another event id of the session.
    const c2 = stripeEvent('checkout.session.completed', s2);
    const copies = await Promise.all([call(webhook, signedDelivery(c2)), call(webhook, signedDelivery(c2))]);
    expect(copies.map((r) => r.statusCode)).toEqual([200, 200]);
    expect(copies.map((r) => bodyOf(r).outcome as string).sort()).toEqual(['authorized', 'duplicate']);
    expect(await deliver(c2)).toEqual({ status: 200, body: { received: true, outcome: 'duplicate' } });
    expect((await deliver(stripeEvent('checkout.session.async_payment_succeeded', s2))).body.outcome).toBe(
      'already_authorized',
    );
    expect(starter.names).toEqual([runId, `${runId}-v2`]);
    const authorizing = await store.getRun(runId);
    expect(authorizing).toMatchObject({
      phase: 'authorized',
      revision: { number: 2 },
      payment: { status: 'authorized', paymentIntentId: pi2, quoteVersion: quoted.quote?.version },
    });
    const { events } = await store.listEvents(runId, 0, 200);
    expect(events.filter((e) => e.type === 'bus.build.run.authorized')).toHaveLength(2);

    // A late event of version 1 after v2 was authorized: stale as well; the run is not touched.
    expect(await deliver(stripeEvent('checkout.session.completed', s1))).toEqual({
      status: 200,
      body: { received: true, outcome: 'stale' },
    });
    expect((await store.getRun(runId))?.version).toBe(authorizing?.version);
    expect(starter.names).toEqual([runId, `${runId}-v2`]);

    // Building v2: nothing is captured before artifact_ready.
    let building = (await store.getRun(runId)) as BuildRun;
    for (const phase of ['repo_ready', 'worker_running'] as const) {
      const next = transition(building, phase, {}, now());
      await store.saveRun(next, { phase: building.phase, version: building.version });
      building = next;
    }
    await settlementPort().settle(building);
    expect(paymentIntentCalls(pi2, 'capture')).toHaveLength(0);
    expect(stripeServer.paymentIntents.get(pi2)?.status).toBe('requires_capture');
    // Back to where publishVersion starts (it walks repo_ready → … itself).
    const reset = { ...building, phase: 'authorized' as const, version: building.version };
    await store.saveRun(reset, { phase: building.phase, version: building.version });

    const v2 = await publishVersion(runId, 2);
    expect(v2.payment).toMatchObject({ status: 'captured', paymentIntentId: pi2 });
    expect(paymentIntentCalls(pi2, 'capture').map((c) => c.idempotencyKey)).toEqual([
      `capture-${runId}-${pi2}`,
    ]);
    // Version 1's delivered events after v2 is delivered too: still stale.
    expect((await deliver(stripeEvent('checkout.session.completed', s1))).body.outcome).toBe('stale');

    // Version 1's money: captured once, never cancelled; its record unchanged.
    expect(paymentIntentCalls(pi1, 'capture')).toHaveLength(1);
    expect(paymentIntentCalls(pi1, 'cancel')).toHaveLength(0);
    expect(paymentIntentCalls(pi2, 'cancel')).toHaveLength(0);
    expect(stripeServer.paymentIntents.get(pi1)?.status).toBe('succeeded');
    expect(stripeServer.paymentIntents.get(pi2)?.status).toBe('succeeded');
    const final = (await store.getRun(runId)) as BuildRun;
    expect(final.versions?.[0]?.payment).toEqual(v1Payment);
    expect(final.versions?.map((v) => v.number)).toEqual([1, 2]);
    expect(starter.names).toEqual([runId, `${runId}-v2`]);
  });

  it('a failed card-paid revision: released, rebuilt by retry through a new checkout (`-v2-retry-1`) or asked again (`-v2-again-2`), each charged once; v1 untouched', async () => {
    const { run, token, session: s1 } = await paidRun();
    const runId = run.runId;
    const pi1 = s1.payment_intent as string;
    expect((await deliver(stripeEvent('checkout.session.completed', s1))).body.outcome).toBe('authorized');
    await publishVersion(runId, 1);
    const owner = { sessionId: run.owner.sessionId };
    await postMessage(appDeps(), owner, runId, 'Can I also have it for Mac?');

    /** Pays the run's open quote by card; returns the session and its intent. */
    const payByCard = async () => {
      expect((await checkoutCall(runId, token, 'stripe')).statusCode).toBe(200);
      const session = stripeServer.completeSession(
        (await store.getRun(runId))?.payment.checkoutSessionId as string,
      );
      expect((await deliver(stripeEvent('checkout.session.completed', session))).body.outcome).toBe(
        'authorized',
      );
      return { session, pi: session.payment_intent as string };
    };
    /** The build of the change fails: FailRun releases its authorization. */
    const failBuild = async () => {
      let cur = (await store.getRun(runId)) as BuildRun;
      for (const phase of ['repo_ready', 'worker_running'] as const) {
        const next = transition(cur, phase, {}, now());
        await store.saveRun(next, { phase: cur.phase, version: cur.version });
        cur = next;
      }
      await failRun(
        { store, publisher, now, settlement: settlementPort() },
        {
          runId,
          attempt: cur.attempts + 1,
          maxAttempts: 3,
          failureCode: 'verification_failed',
          lastFailure: 'x',
        },
      );
      return (await store.getRun(runId)) as BuildRun;
    };

    const { session: s2, pi: pi2 } = await payByCard();
    const failed = await failBuild();
    expect(failed).toMatchObject({
      phase: 'failed',
      revision: { number: 2 },
      payment: { status: 'cancelled' },
    });
    expect(stripeServer.paymentIntents.get(pi2)?.status).toBe('canceled');

    // Operator retry: back at the quote, the visitor pays again; the rebuild is `-v2-retry-1`.
    const retry = await retryRun({ store, publisher, starter, now }, runId, 'cli:op');
    expect(retry).toMatchObject({ checkoutRequired: true, executionName: `${runId}-v2-retry-1` });
    expect(retry.run.payment.retiredPaymentIntents).toEqual([pi2]);
    const { pi: pi3 } = await payByCard();
    // Late events of the released v2 payment and of version 1: neither authorizes nor touches v1.
    expect((await deliver(stripeEvent('checkout.session.completed', s2))).body.outcome).toBe('released');
    expect((await deliver(stripeEvent('checkout.session.completed', s1))).body.outcome).toBe('stale');
    expect(starter.names).toEqual([runId, `${runId}-v2`, `${runId}-v2-retry-1`]);
    await failBuild();
    expect(stripeServer.paymentIntents.get(pi3)?.status).toBe('canceled');

    // The visitor asks again instead: a new quote of the same version, a new build name.
    const { run: again } = await postMessage(appDeps(), owner, runId, 'Then only for Windows please');
    expect(again).toMatchObject({ phase: 'quoted', revision: { number: 2, baseVersion: 1, opened: 2 } });
    const { pi: pi4 } = await payByCard();
    expect(starter.names).toEqual([runId, `${runId}-v2`, `${runId}-v2-retry-1`, `${runId}-v2-again-2`]);
    const v2 = await publishVersion(runId, 2);
    expect(v2.payment).toMatchObject({ status: 'captured', paymentIntentId: pi4 });

    // Money: v1 and the delivered v2 captured once each; the failed builds' holds released, never captured.
    for (const pi of [pi1, pi4]) {
      expect(paymentIntentCalls(pi, 'capture')).toHaveLength(1);
      expect(stripeServer.paymentIntents.get(pi)?.status).toBe('succeeded');
    }
    for (const pi of [pi2, pi3]) expect(paymentIntentCalls(pi, 'capture')).toHaveLength(0);
    expect(paymentIntentCalls(pi1, 'cancel')).toHaveLength(0);
    expect(v2.versions?.[0]?.payment).toMatchObject({ status: 'captured', paymentIntentId: pi1 });
  });
});
