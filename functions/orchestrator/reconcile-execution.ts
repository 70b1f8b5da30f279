import { z } from 'zod';
import { reconcileExecution, UNFINISHED_STATUSES } from '../../lib/app/orchestrator/reconcile-execution.ts';
import { log } from '../../lib/log.ts';
import { orchestratorDeps } from './deps.ts';

/** The EventBridge "Step Functions Execution Status Change" event (the fields used here). */
const StatusChangeSchema = z.object({
  detail: z.object({
    executionArn: z.string(),
    status: z.enum(UNFINISHED_STATUSES),
    input: z.string().nullable().optional(),
    error: z.string().nullable().optional(),
    cause: z.string().nullable().optional(),
  }),
});

/**
 * EventBridge target for executions of the build-run state machine that ended ABORTED or
 * TIMED_OUT: fails their run (see lib/app/orchestrator/reconcile-execution.ts).
 */
export async function handler(event: unknown): Promise<void> {
  const parsed = StatusChangeSchema.safeParse(event);
  if (!parsed.success) {
    log.warn('reconcile: not an execution status change', { issues: parsed.error.issues.length });
    return;
  }
  const { detail } = parsed.data;
  let input: unknown;
  try {
    input = JSON.parse(detail.input ?? 'null');
  } catch {
    input = undefined;
  }
  const out = await reconcileExecution(orchestratorDeps(), {
    status: detail.status,
    input,
    error: detail.error ?? undefined,
    cause: detail.cause ?? undefined,
  });
  log.info('reconcile: execution ended unfinished', {
    executionArn: detail.executionArn,
    status: detail.status,
    runId: out?.runId,
  });
}
