import { orchestratorDeps } from '../../functions/orchestrator/deps.ts';
import { settleDueRuns } from '../app/settle-payment.ts';
import { stripeConfigured, stripeGatewayFromEnv } from '../aws/stripe-gateway.ts';
import { log } from '../log.ts';

export const DEFAULT_SETTLE_INTERVAL_SECONDS = 60;

/** `SETTLE_INTERVAL_SECONDS` (5–86400, default 60): how often the local settle reconcile runs. */
export function settleIntervalFrom(env: NodeJS.ProcessEnv): number {
  const raw = env.SETTLE_INTERVAL_SECONDS?.trim();
  if (!raw) return DEFAULT_SETTLE_INTERVAL_SECONDS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 86_400)
    throw new Error('SETTLE_INTERVAL_SECONDS must be an integer from 1 to 86400');
  return n;
}

/**
 * The local stand-in for the AWS SettleRule schedule: with Stripe configured, settles open card
 * payments at start and then every `SETTLE_INTERVAL_SECONDS` (`settleDueRuns`: capture retried
 * after an outage with backoff, until it succeeds or the hold expires). One pass at a time.
 */
export function startLocalSettleReconcile(env: NodeJS.ProcessEnv = process.env): { stop(): void } {
  if (!stripeConfigured(env)) return { stop() {} };
  let busy = false;
  const pass = () => {
    if (busy) return;
    busy = true;
    void (async () => {
      try {
        const gateway = await stripeGatewayFromEnv(env);
        if (gateway) {
          const deps = orchestratorDeps();
          await settleDueRuns({ store: deps.store, gateway, now: deps.now });
        }
      } catch (err) {
        log.warn('local settle reconcile failed', { error: err });
      } finally {
        busy = false;
      }
    })();
  };
  pass();
  const timer = setInterval(pass, settleIntervalFrom(env) * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
