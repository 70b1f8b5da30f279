import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { fulfillStripeEvent } from '../../lib/app/stripe-fulfillment.ts';
import { SfnExecutionStarter } from '../../lib/aws/execution-starter.ts';
import type { PaymentGateway } from '../../lib/domain/payment.ts';
import { clock, MemoryPublisher, MemoryRunStore, quotedRun } from './orchestrator-fakes.ts';

process.env.LOG_LEVEL = 'silent';

/**
 * Many different Stripe event ids for one paid checkout session (Stripe sends `completed` and
 * `async_payment_succeeded`, and replays under new ids): exactly one authorizes the run, and every
 * other answer says what it did. The starter is the real Step Functions adapter; the service answers
 * a repeated start of a RUNNING execution (same name and input) with success, as Standard
 * workflows do, so "the start succeeded" says nothing about who authorized.
 */
const sfn = mockClient(SFNClient);
const gateway: PaymentGateway = {
  createCheckoutSession: async () => ({ id: 'cs_1', url: 'https://checkout.test/cs_1' }),
  getCheckoutSession: async (id: string) => ({ id, status: 'complete', url: null }),
  capture: async () => 'captured',
  cancel: async () => 'cancelled',
} as unknown as PaymentGateway;

beforeEach(() => sfn.reset());

describe('Stripe webhook outcomes across event ids', () => {
  it('100 different event ids for one session: one authorized, 99 already_authorized, one transition', async () => {
    const store = new MemoryRunStore();
    const run = quotedRun();
    await store.createRun(run);
    const startedAt = new Date();
    sfn.on(StartExecutionCommand).resolves({ executionArn: `arn:exec:${run.runId}`, startDate: startedAt });
    const starter = new SfnExecutionStarter(new SFNClient({ region: 'us-east-1' }), 'arn:sm');
    const deps = { store, publisher: new MemoryPublisher(), starter, gateway, now: clock() };
    const events = Array.from({ length: 100 }, (_, i) => ({
      id: `evt_many_${i}`,
      type: i % 2 ? 'checkout.session.async_payment_succeeded' : 'checkout.session.completed',
      data: {
        object: {
          id: 'cs_1',
          payment_status: 'paid',
          payment_intent: 'pi_1',
          amount_total: run.quote?.amountCents,
          currency: run.quote?.currency,
          metadata: { run_id: run.runId, quote_version: '1' },
        },
      },
    }));
    const outcomes = await Promise.all(events.map((e) => fulfillStripeEvent(deps, e)));
    expect(outcomes.filter((o) => o === 'authorized')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'already_authorized')).toHaveLength(99);
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized']);
    const names = new Set(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name));
    expect([...names]).toEqual([run.runId]);
  });
});
