import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { orchestratorDeps } from '../../functions/orchestrator/deps.ts';
import { reconcileExecution } from '../app/orchestrator/reconcile-execution.ts';
import { log } from '../log.ts';

/**
 * The local stand-in for the AWS EventBridge rule on execution status changes: at start, every
 * ABORTED execution (e.g. one cut off when the local stack stopped mid-build) gets its run failed
 * with a customer-safe reason, so nothing stays "building" forever; `bus-build retry` reopens it.
 * Idempotent: runs that already ended are left alone.
 */
export async function reconcileAbortedExecutions(sfnUrl: string, stateMachineArn: string): Promise<number> {
  const sfn = new SFNClient({ endpoint: sfnUrl });
  let reconciled = 0;
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn, statusFilter: 'ABORTED', nextToken, maxResults: 100 }),
    );
    for (const e of page.executions ?? []) {
      if (!e.executionArn) continue;
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
      let input: unknown;
      try {
        input = JSON.parse(d.input ?? 'null');
      } catch {
        input = undefined;
      }
      const out = await reconcileExecution(orchestratorDeps(), {
        status: 'ABORTED',
        input,
        error: d.error ?? undefined,
        cause: d.cause ?? undefined,
      });
      if (out?.failureCode) reconciled++;
    }
    nextToken = page.nextToken;
  } while (nextToken);
  if (reconciled > 0) log.info('local stack: failed the runs of aborted executions', { reconciled });
  return reconciled;
}
