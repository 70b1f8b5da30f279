import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ExecutionStarter } from '../../lib/app/start-execution.ts';
import {
  EventInProgressError,
  type FulfillmentDeps,
  fulfillStripeEvent,
} from '../../lib/app/stripe-fulfillment.ts';
import { executionStarterFromEnv } from '../../lib/aws/execution-starter.ts';
import { isSignatureError, verifyStripeWebhook } from '../../lib/aws/stripe-gateway.ts';
import { log } from '../../lib/log.ts';
import { appDeps } from '../shared/deps.ts';
import { type ApiResult, errorBody, json } from '../shared/http.ts';
import { paymentGateway, webhookSecret } from '../shared/payments.ts';

/** Stripe event payloads are far below this; anything larger is not from Stripe. */
const MAX_WEBHOOK_BYTES = 512 * 1024;

let deps: Promise<FulfillmentDeps> | undefined;

async function buildDeps(): Promise<FulfillmentDeps> {
  const { store, publisher, now } = appDeps();
  let starter: ExecutionStarter | undefined;
  return {
    store,
    publisher,
    now,
    // Built on first use: STATE_MACHINE_ARN is only needed when a run is authorized.
    starter: {
      start: (name, input) => {
        starter ??= executionStarterFromEnv();
        return starter.start(name, input);
      },
    },
    gateway: await paymentGateway(),
  };
}

function fulfillmentDeps(): Promise<FulfillmentDeps> {
  deps ??= buildDeps().catch((err) => {
    deps = undefined;
    throw err;
  });
  return deps;
}

/** Test hook. */
export function setWebhookDeps(next: FulfillmentDeps | undefined): void {
  deps = next === undefined ? undefined : Promise.resolve(next);
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === name) return v;
  return undefined;
}

/**
 * POST /api/v1/webhooks/stripe (public; Stripe calls it). No JSON middleware: the signature is
 * verified over the RAW body (base64-decoded when API Gateway encoded it) before anything parses
 * it. Bad or missing signature → 400 and nothing changes. Each event id is processed once (a
 * lease claimed before the work; see lib/app/stripe-fulfillment.ts): an already processed event →
 * 200 `duplicate`; one being processed by another delivery right now → 409 `event_in_progress`;
 * an event of an earlier version's payment (a late one after a change) → 200 `stale`, nothing
 * touched; failures → 500. Stripe retries 409 and 500.
 */
export async function handler(event: APIGatewayProxyEventV2): Promise<ApiResult> {
  try {
    const secret = await webhookSecret();
    if (!secret) {
      log.error('stripe webhook called but STRIPE_WEBHOOK_SECRET is not configured');
      return errorBody(503, 'webhooks_unavailable', 'Stripe webhooks are not configured.');
    }
    const raw =
      event.body == null ? '' : event.isBase64Encoded ? Buffer.from(event.body, 'base64') : event.body;
    if (Buffer.byteLength(raw) > MAX_WEBHOOK_BYTES) {
      return errorBody(413, 'payload_too_large', 'The request body is too large.');
    }
    const signature = header(event, 'stripe-signature');
    if (!signature) return errorBody(400, 'invalid_signature', 'Missing Stripe-Signature header.');
    let verified: ReturnType<typeof verifyStripeWebhook>;
    try {
      verified = verifyStripeWebhook(raw, signature, secret);
    } catch (err) {
      if (isSignatureError(err)) {
        log.warn('stripe webhook signature rejected', { requestId: event.requestContext?.requestId });
        return errorBody(400, 'invalid_signature', 'The Stripe signature does not match.');
      }
      return errorBody(400, 'invalid_request', 'The webhook body is not a Stripe event.');
    }
    const outcome = await fulfillStripeEvent(await fulfillmentDeps(), verified);
    return json(200, { received: true, outcome });
  } catch (err) {
    if (err instanceof EventInProgressError) {
      log.info('stripe event in progress elsewhere; asking for a retry', {
        requestId: event.requestContext?.requestId,
      });
      return errorBody(err.status, err.code, err.message);
    }
    log.error('stripe webhook failed', { err, requestId: event.requestContext?.requestId });
    return errorBody(500, 'internal_error', 'Something went wrong on our side. Please try again.');
  }
}
