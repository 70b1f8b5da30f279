import { startCheckout } from '../../lib/app/checkout.ts';
import { operatorNotifierFromEnv } from '../../lib/aws/operator-notifier.ts';
import type { OperatorNotifier } from '../../lib/domain/payment.ts';
import { toPublicRun } from '../../lib/domain/projection.ts';
import { CheckoutBodySchema } from '../../lib/domain/public-schemas.ts';
import { requireCaller } from '../shared/caller.ts';
import { appDeps } from '../shared/deps.ts';
import { type ApiEvent, apiHandler, json, parse } from '../shared/http.ts';
import { paymentGateway, paymentMethods } from '../shared/payments.ts';

let notifier: OperatorNotifier | undefined;
/** Built once per container, like the other adapters (an SNS client on AWS). */
const operatorNotifier = (): OperatorNotifier => (notifier ??= operatorNotifierFromEnv());

/** `PORTAL_URL`, else the calling page's origin, else this API's own origin. */
function portalBase(event: ApiEvent): string {
  const configured = process.env.PORTAL_URL?.trim();
  if (configured) return configured;
  const origin = event.headers?.origin;
  if (origin && /^https?:\/\/[^/]+$/.test(origin)) return origin;
  const proto = event.headers?.['x-forwarded-proto'] ?? 'https';
  const host = event.headers?.host ?? event.requestContext.domainName;
  return `${proto}://${host}`;
}

/**
 * POST /api/v1/build-runs/{run_id}/checkout `{ method: 'stripe' | 'manual' }`: card payment via
 * Stripe Checkout (authorized now, charged only for a verified artifact) or a manual approval
 * request. `{ checkout_url, run }`.
 */
export const handler = apiHandler(
  async (event) => {
    const caller = await requireCaller(event);
    const { method } = parse(CheckoutBodySchema, event.body);
    const base = appDeps();
    const gateway = method === 'stripe' ? await paymentGateway() : undefined;
    const result = await startCheckout(
      { ...base, gateway, notifier: operatorNotifier() },
      caller,
      event.pathParameters?.run_id ?? '',
      { method, portalBase: portalBase(event) },
    );
    return json(200, {
      checkout_url: result.checkoutUrl,
      run: toPublicRun(result.run, undefined, { paymentMethods: paymentMethods() }),
    });
  },
  { body: 'required' },
);
