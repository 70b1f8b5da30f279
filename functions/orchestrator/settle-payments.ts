import { settleDueRuns } from '../../lib/app/settle-payment.ts';
import { stripeGatewayFromEnv } from '../../lib/aws/stripe-gateway.ts';
import { log } from '../../lib/log.ts';
import { orchestratorDeps } from './deps.ts';

/**
 * The settle reconcile on a schedule (an EventBridge rule; locally a timer of the local stack):
 * captures verified runs and releases failed runs whose card authorization is still open, e.g.
 * after a Stripe outage at Publish / FailRun time, with backoff until the hold expires
 * (lib/app/settle-payment.ts `settleDueRuns`).
 */
export async function handler(): Promise<{ tried: number }> {
  const deps = orchestratorDeps();
  const gateway = await stripeGatewayFromEnv();
  if (!gateway) {
    log.info('settle reconcile: Stripe is not configured');
    return { tried: 0 };
  }
  const outcomes = await settleDueRuns({ store: deps.store, gateway, now: deps.now });
  return { tried: Object.keys(outcomes).length };
}
