import { loadRun } from '../../app/orchestrator/run-ops.ts';
import { settlePayment } from '../../app/settle-payment.ts';
import { stripeGatewayFromEnv } from '../../aws/stripe-gateway.ts';
import { isUnsettled, settlementAction } from '../../domain/payment.ts';
import { CliError } from '../errors.ts';
import type { CommandResult } from '../output.ts';
import type { Connection } from '../target.ts';

const DONE: Record<string, string> = {
  captured: 'captured (charged once)',
  cancelled: 'released (not charged)',
};

/**
 * `settle`: settles one run's card payment now, the same way the settle reconcile does: capture
 * when a verified artifact exists, release when the run failed. Needs the Stripe key where the CLI
 * runs (`STRIPE_SECRET_KEY`, or `STRIPE_SECRET_KEY_ARN` with `--aws`).
 */
export async function settleCommand(
  conn: Connection,
  runId: string,
  opts: { env: NodeJS.ProcessEnv; now: () => Date },
): Promise<CommandResult> {
  const run = await loadRun(conn.store, runId);
  const data = { runId, phase: run.phase, payment: run.payment.status };
  if (run.payment.status === 'expired') {
    return {
      data: { ...data, outcome: 'expired' },
      text: `Build run ${runId}: the card hold expired before it could be captured; nothing can be charged automatically. Charging is a manual decision.`,
      exitCode: 1,
    };
  }
  if (!isUnsettled(run)) {
    return {
      data: { ...data, outcome: 'none' },
      text: `Build run ${runId} has nothing to settle (payment ${run.payment.status}, phase ${run.phase}).`,
    };
  }
  const gateway = await stripeGatewayFromEnv(opts.env);
  if (!gateway)
    throw new CliError(
      'Stripe is not configured here: set STRIPE_SECRET_KEY (or STRIPE_SECRET_KEY_ARN with --aws).',
    );
  const action = settlementAction(run);
  const outcome = await settlePayment(
    { store: conn.store, gateway, now: () => opts.now().toISOString() },
    run,
  );
  const after = await loadRun(conn.store, runId);
  const result = { ...data, payment: after.payment.status, outcome };
  if (outcome === 'captured' || outcome === 'cancelled') {
    return { data: result, text: `Build run ${runId}: card payment ${DONE[outcome]}.` };
  }
  if (outcome === 'none') {
    return {
      data: result,
      text: `Build run ${runId} was settled meanwhile (payment ${after.payment.status}).`,
    };
  }
  return {
    data: { ...result, note: after.payment.note },
    text: `Build run ${runId}: the ${action} failed (${after.payment.note ?? 'no detail'}); ${
      outcome === 'expired'
        ? 'the card hold has expired.'
        : `it is retried automatically after ${after.payment.nextSettleAt}.`
    }`,
    exitCode: 1,
  };
}
