import type { BuildRun } from '../domain/run.ts';

/**
 * Starts build-run executions (Step Functions `StartExecution`; `lib/aws/execution-starter.ts`).
 * Execution names are unique per state machine for 90 days, so the name is the guard against a
 * second execution for the same run: starting an existing name returns `{ started: false }`.
 */
export interface ExecutionStarter {
  start(name: string, input: { runId: string }): Promise<{ started: boolean }>;
}

/**
 * `{run_id}` for the first execution, `{run_id}-v{n}` for the build of version n ≥ 2 (a change
 * after delivery), `{run_id}-v{n}-again-{j}` when the visitor asks for that change again after it
 * failed (the j-th time), and `-retry-{k}` after any of them for the k-th operator retry (k counts
 * the run's retries). Every build gets a new name: Step Functions refuses to start a closed
 * execution's name again, so a reused name would leave the run authorized with nothing building.
 */
export function executionName(run: Pick<BuildRun, 'runId' | 'retries' | 'revision'>): string {
  const r = run.revision;
  const base = r ? `${run.runId}-v${r.number}${(r.opened ?? 1) > 1 ? `-again-${r.opened}` : ''}` : run.runId;
  const retries = run.retries ?? 0;
  return retries > (run.revision?.retriesAtStart ?? 0) ? `${base}-retry-${retries}` : base;
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
  run: Pick<BuildRun, 'runId' | 'retries' | 'revision'>,
): Promise<StartResult> {
  const name = executionName(run);
  const { started } = await starter.start(name, { runId: run.runId });
  return { started, alreadyStarted: !started, executionName: name };
}
