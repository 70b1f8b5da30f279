import { envSecret, stripeConfigured, stripeGatewayFromEnv } from '../../lib/aws/stripe-gateway.ts';
import {
  availablePaymentMethods,
  type PaymentGateway,
  type PaymentMethod,
} from '../../lib/domain/payment.ts';

/**
 * Payment adapters for the API handlers, resolved once per container: the Stripe gateway when
 * `STRIPE_SECRET_KEY` (or `STRIPE_SECRET_KEY_ARN`) is set, else none (manual approval only).
 */
let gateway: Promise<PaymentGateway | undefined> | undefined;

export function paymentGateway(): Promise<PaymentGateway | undefined> {
  gateway ??= stripeGatewayFromEnv().catch((err) => {
    gateway = undefined;
    throw err;
  });
  return gateway;
}

/** The methods the public run offers (card only when Stripe is configured). */
export function paymentMethods(env: NodeJS.ProcessEnv = process.env): PaymentMethod[] {
  return availablePaymentMethods(stripeConfigured(env));
}

/** The webhook signing secret (`STRIPE_WEBHOOK_SECRET` / `STRIPE_WEBHOOK_SECRET_ARN`). */
export function webhookSecret(): Promise<string | undefined> {
  return envSecret('STRIPE_WEBHOOK_SECRET');
}

/** Test hook. */
export function setPaymentGateway(next: PaymentGateway | undefined): void {
  gateway = next === undefined ? undefined : Promise.resolve(next);
}
