import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { orchestratorDeps } from '../../functions/orchestrator/deps.ts';
import type { FailRunDeps } from '../app/orchestrator/deps.ts';
import { reconcileExecution, UNFINISHED_STATUSES } from '../app/orchestrator/reconcile-execution.ts';
import { log } from '../log.ts';
import { LOCAL_CREDENTIALS } from './stack-info.ts';

/**
 * The local stand-in for the AWS EventBridge rule on execution status changes: at start, every
 * ABORTED or TIMED_OUT execution (e.g. one cut off when the local stack stopped mid-build, or one
 * that ran past its overall timeout) gets its run failed with a customer-safe reason, so nothing
 * stays "building" forever; `bus-build retry` reopens it. Idempotent: runs that already ended are
 * left alone.
 */
export async function reconcileUnfinishedExecutions(
  sfnUrl: string,
  stateMachineArn: string,
  deps: FailRunDeps = orchestratorDeps(),
): Promise<number> {
  const sfn = new SFNClient({
    endpoint: sfnUrl,
    region: process.env.AWS_REGION || 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  let reconciled = 0;
  for (const status of UNFINISHED_STATUSES) {
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn, statusFilter: status, nextToken, maxResults: 100 }),
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
        const out = await reconcileExecution(deps, {
          status,
          input,
          error: d.error ?? undefined,
          cause: d.cause ?? undefined,
        });
        if (out?.failureCode) reconciled++;
      }
      nextToken = page.nextToken;
    } while (nextToken);
  }
  sfn.destroy();
  if (reconciled > 0) log.info('local stack: failed the runs of unfinished executions', { reconciled });
  return reconciled;
}
