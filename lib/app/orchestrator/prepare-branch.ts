import { newEvent } from '../../domain/events.ts';
import { transition } from '../../domain/lifecycle.ts';
import type { PrepareBranchDeps } from './deps.ts';
import { commit, loadTaskRun, TaskStateError } from './run-ops.ts';
import type { BuildState } from './state.ts';

/**
 * PrepareBranch: `authorized → repo_ready` with the run's build branch. Idempotent: the branch is
 * ensured (never moved when it exists) and a run already `repo_ready` is passed through.
 *
 * Attempts are numbered per run, not per execution: an operator retry continues after the last
 * attempt (`attempt = run.attempts`), so every attempt keeps its own staging and evidence keys, and
 * gets `maxAttempts` more tries.
 */
export async function prepareBranch(deps: PrepareBranchDeps, state: BuildState): Promise<BuildState> {
  let run = await loadTaskRun(deps, state.runId);
  if (run.phase !== 'authorized' && run.phase !== 'repo_ready') {
    throw new TaskStateError(`PrepareBranch cannot run in phase ${run.phase}`);
  }
  if (!run.spec) throw new TaskStateError('the run has no build spec');
  if (run.phase === 'authorized') {
    const { repoId, branch } = await deps.repos.ensureBranch(run);
    // A change's first attempt starts from its base version's commit (AssignWorker).
    const revision =
      run.revision && run.revision.firstAttempt === undefined
        ? { revision: { ...run.revision, firstAttempt: run.attempts + 1 } }
        : {};
    const next = transition(run, 'repo_ready', { repoId, branch, ...revision }, deps.now());
    run = await commit(deps, run, next, [newEvent('bus.build.repo.ready', { repoId, branch })]);
  }
  const base = run.attempts;
  return { runId: run.runId, attempt: base, maxAttempts: Math.min(99, base + deps.maxAttempts) };
}
