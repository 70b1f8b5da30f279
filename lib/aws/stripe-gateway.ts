import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import Stripe from 'stripe';
import { type PaymentSettlement, paymentSettlement } from '../app/settle-payment.ts';
import type { CheckoutSessionRequest, PaymentGateway } from '../domain/payment.ts';
import type { RunStore } from '../domain/ports.ts';
import { log } from '../log.ts';

/**
 * The Stripe adapter: Checkout Sessions with manual capture, capture / cancel of the payment
 * intent, webhook signature verification. `STRIPE_API_BASE` (e.g. `http://127.0.0.1:12111`)
 * points the real library at a local server speaking Stripe's HTTP API (tests, local runs).
 */
export class StripeGateway implements PaymentGateway {
  readonly stripe: Stripe;

  constructor(secretKey: string, apiBase?: string) {
    const base = apiBase ? new URL(apiBase) : undefined;
    this.stripe = new Stripe(secretKey, {
      maxNetworkRetries: 2,
      timeout: 20_000,
      telemetry: false,
      ...(base
        ? {
            host: base.hostname,
            port: base.port || (base.protocol === 'http:' ? 80 : 443),
            protocol: base.protocol === 'http:' ? 'http' : 'https',
          }
        : {}),
    });
  }

  async createCheckoutSession(req: CheckoutSessionRequest): Promise<{ id: string; url: string }> {
    const metadata = { run_id: req.runId, quote_version: String(req.quoteVersion) };
    const session = await this.stripe.checkout.sessions.create(
      {
        mode: 'payment',
        line_items: [
          {
            quantity: 1,
            price_data: {
              currency: req.currency,
              unit_amount: req.amountCents,
              product_data: { name: req.productName.slice(0, 250) },
            },
          },
        ],
        payment_intent_data: { capture_method: 'manual', metadata },
        metadata,
        client_reference_id: req.runId,
        customer_email: req.customerEmail,
        success_url: req.successUrl,
        cancel_url: req.cancelUrl,
      },
      { idempotencyKey: req.idempotencyKey },
    );
    if (!session.url) throw new Error('Stripe returned a checkout session without a URL');
    return { id: session.id, url: session.url };
  }

  async getCheckoutSession(id: string): Promise<{ id: string; status: string; url: string | null }> {
    const s = await this.stripe.checkout.sessions.retrieve(id);
    return { id: s.id, status: s.status ?? 'open', url: s.url };
  }

  async capture(paymentIntentId: string, idempotencyKey: string): Promise<'captured' | 'already'> {
    try {
      await this.stripe.paymentIntents.capture(paymentIntentId, {}, { idempotencyKey });
      return 'captured';
    } catch (err) {
      if (await this.isInState(err, paymentIntentId, 'succeeded')) return 'already';
      throw err;
    }
  }

  async cancel(paymentIntentId: string, idempotencyKey: string): Promise<'cancelled' | 'already'> {
    try {
      await this.stripe.paymentIntents.cancel(paymentIntentId, {}, { idempotencyKey });
      return 'cancelled';
    } catch (err) {
      if (await this.isInState(err, paymentIntentId, 'canceled')) return 'already';
      throw err;
    }
  }

  /** An "unexpected state" error on an intent that is already where we want it is success. */
  private async isInState(err: unknown, paymentIntentId: string, status: string): Promise<boolean> {
    if ((err as { code?: string }).code !== 'payment_intent_unexpected_state') return false;
    const pi = await this.stripe.paymentIntents.retrieve(paymentIntentId).catch(() => undefined);
    return pi?.status === status;
  }
}

/**
 * Verifies a webhook delivery's `Stripe-Signature` over the RAW body (before any parsing) and
 * returns the event. Throws `Stripe.errors.StripeSignatureVerificationError` when it does not match.
 */
export function verifyStripeWebhook(
  rawBody: string | Buffer,
  signature: string,
  secret: string,
): Stripe.Event {
  return Stripe.webhooks.constructEvent(rawBody, signature, secret);
}

export function isSignatureError(err: unknown): boolean {
  return err instanceof Stripe.errors.StripeSignatureVerificationError;
}

const secretCache = new Map<string, Promise<string | undefined>>();

/**
 * A secret from the environment (`NAME`, local stack and tests) or from the Secrets Manager secret
 * named by `NAME_ARN` (AWS), fetched once per container. Undefined when neither is set.
 */
export function envSecret(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const direct = env[name]?.trim();
  if (direct) return Promise.resolve(direct);
  const arn = env[`${name}_ARN`]?.trim();
  if (!arn) return Promise.resolve(undefined);
  let p = secretCache.get(arn);
  if (!p) {
    p = new SecretsManagerClient({})
      .send(new GetSecretValueCommand({ SecretId: arn }))
      .then((out) => out.SecretString?.trim() || undefined);
    p.catch(() => secretCache.delete(arn));
    secretCache.set(arn, p);
  }
  return p;
}

/**
 * Whether card payment is offered: a key in the environment (local test mode), or on AWS the
 * key's secret ARN together with `STRIPE_ENABLED=true` (the stack's `cardPayments` switch, turned
 * on once operators have stored the Stripe secrets).
 */
export function stripeConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.STRIPE_SECRET_KEY?.trim()) return true;
  return Boolean(env.STRIPE_SECRET_KEY_ARN?.trim()) && env.STRIPE_ENABLED === 'true';
}

/** The gateway from the environment, or undefined when Stripe is not configured. */
export async function stripeGatewayFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Promise<StripeGateway | undefined> {
  const key = await envSecret('STRIPE_SECRET_KEY', env);
  return key ? new StripeGateway(key, env.STRIPE_API_BASE?.trim() || undefined) : undefined;
}

/**
 * The orchestrator's settlement port: resolves the Stripe key on first use (Secrets Manager on
 * AWS); a no-op for runs not paid by card and when Stripe is not configured.
 */
export function stripeSettlementFromEnv(
  store: RunStore,
  now: () => string,
  env: NodeJS.ProcessEnv = process.env,
): PaymentSettlement {
  let gateway: Promise<StripeGateway | undefined> | undefined;
  return {
    settle: async (run) => {
      if (run.payment.method !== 'stripe') return;
      gateway ??= stripeGatewayFromEnv(env);
      const g = await gateway.catch((err) => {
        gateway = undefined;
        log.error('stripe gateway unavailable for settlement', { runId: run.runId, err });
        return undefined;
      });
      if (!g) {
        log.error('stripe run cannot be settled: STRIPE_SECRET_KEY not configured', { runId: run.runId });
        return;
      }
      await paymentSettlement({ store, gateway: g, now }).settle(run);
    },
  };
}
