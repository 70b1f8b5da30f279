import type { BuildRun } from '../domain/run.ts';

/**
 * Starts build-run executions (Step Functions `StartExecution`; `lib/aws/execution-starter.ts`).
 * Execution names are unique per state machine for 90 days, so the name is the guard against a
 * second execution for the same run: starting an existing name returns `{ started: false }`.
 */
export interface ExecutionStarter {
  start(name: string, input: { runId: string }): Promise<{ started: boolean }>;
}

/** `{run_id}` for the first execution, `{run_id}-retry-{n}` for the n-th operator retry. */
export function executionName(run: Pick<BuildRun, 'runId' | 'retries'>): string {
  return run.retries ? `${run.runId}-retry-${run.retries}` : run.runId;
}

export interface StartResult {
  /** True when this call started the execution. */
  started: boolean;
  /** True when an execution for this run (and retry) already existed. */
  alreadyStarted: boolean;
  executionName: string;
}

/** Starts the run's current execution (by name; a second start is a no-op). */
export async function startRunExecution(
  starter: ExecutionStarter,
  run: Pick<BuildRun, 'runId' | 'retries'>,
): Promise<StartResult> {
  const name = executionName(run);
  const { started } = await starter.start(name, { runId: run.runId });
  return { started, alreadyStarted: !started, executionName: name };
}
