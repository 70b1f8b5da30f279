import { retryRun } from '../../app/retry-run.ts';
import type { CommandResult } from '../output.ts';
import type { Connection } from '../target.ts';

/** `retry`: reopen a failed run (`failed → authorized`) and start a new execution for it. */
export async function retryCommand(
  conn: Connection,
  runId: string,
  opts: { actor: string; now: () => Date; noCharge?: string },
): Promise<CommandResult> {
  const starter = conn.starter();
  const result = await retryRun(
    { store: conn.store, publisher: conn.publisher, starter, now: () => opts.now().toISOString() },
    runId,
    opts.actor,
    opts.noCharge !== undefined ? { noCharge: opts.noCharge } : {},
  );
  const text = result.checkoutRequired
    ? `Build run ${runId} reopened (retry ${result.run.retries ?? 0}) at its quote: the visitor pays again by card (a new checkout); the build (${result.executionName}) starts once paid. Or: bus-build retry ${runId} --no-charge <reason>.`
    : result.started
      ? `Build run ${runId} reopened (retry ${result.run.retries ?? 0}); build execution ${result.executionName} started.`
      : `Build run ${runId} was already reopened; execution ${result.executionName} already started — nothing to do.`;
  return {
    data: {
      runId,
      phase: result.run.phase,
      retries: result.run.retries ?? 0,
      attempts: result.run.attempts,
      started: result.started,
      alreadyStarted: result.alreadyStarted,
      execution: result.executionName,
      checkoutRequired: result.checkoutRequired,
      payment: result.run.payment.status,
    },
    text,
  };
}
