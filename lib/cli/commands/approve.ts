import { approveRun } from '../../app/approve-run.ts';
import { executionName } from '../../app/start-execution.ts';
import type { CommandResult } from '../output.ts';
import type { Connection } from '../target.ts';

/**
 * `approve`: manual authorization of a quoted run (`quoted → authorized`, then the build execution
 * named after the run is started). The use case is idempotent; a repeat reports "already started".
 * The starter is resolved first, so a run is never authorized where no build could be started.
 */
export async function approveCommand(
  conn: Connection,
  runId: string,
  opts: { actor: string; now: () => Date },
): Promise<CommandResult> {
  const starter = conn.starter();
  const result = await approveRun(
    { store: conn.store, publisher: conn.publisher, starter, now: () => opts.now().toISOString() },
    runId,
    { actor: opts.actor, method: 'manual' },
  );
  const name = executionName(result.run);
  const text = result.started
    ? `Build run ${runId} is authorized; build execution ${name} started.`
    : `Build run ${runId} was already approved and its build already started (${result.run.phase}); nothing to do.`;
  return {
    data: {
      runId,
      phase: result.run.phase,
      started: result.started,
      alreadyStarted: result.alreadyStarted,
      execution: name,
    },
    text,
  };
}
