import { randomBytes } from 'node:crypto';
import { keys } from '../../aws/keys.ts';
import { type WorkerAssignment, WorkerAssignmentSchema } from '../../domain/assignment.ts';
import { type NewBuildEvent, newEvent } from '../../domain/events.ts';
import { transition, update } from '../../domain/lifecycle.ts';
import type { BuildRun } from '../../domain/run.ts';
import { findVersion } from '../../domain/versions.ts';
import type { AssignWorkerDeps } from './deps.ts';
import { commit, loadTaskRun, TaskStateError } from './run-ops.ts';
import type { BuildState } from './state.ts';

export const newWorkerId = (): string => `wkr_${randomBytes(10).toString('hex')}`;

/**
 * The platforms the worker builds: the requested ones, plus the verifier's own platform so the
 * gate can run the program (a smoke run proves the source works; the extra binary is evidence
 * only and Publish never delivers a platform the visitor did not ask for).
 */
export function buildPlatforms(run: BuildRun, verifierPlatform: string | undefined): string[] {
  if (!run.spec || run.spec.artifactType === 'web') return [];
  const platforms = [...run.spec.platforms];
  if (verifierPlatform && !platforms.includes(verifierPlatform)) platforms.push(verifierPlatform);
  return platforms;
}

export function buildAssignment(
  deps: Pick<AssignWorkerDeps, 'profile' | 'verifierPlatform'>,
  run: BuildRun,
  opts: { workerId: string; attempt: number; maxAttempts: number; previousFailure?: string | undefined },
): WorkerAssignment {
  if (!run.spec) throw new TaskStateError('the run has no build spec');
  if (!run.branch) throw new TaskStateError('the run has no build branch');
  const p = deps.profile;
  const assignment: WorkerAssignment = {
    runId: run.runId,
    taskRef: run.taskRef,
    workerId: opts.workerId,
    attempt: opts.attempt,
    maxAttempts: Math.max(opts.maxAttempts, opts.attempt),
    branch: run.branch,
    artifactType: run.spec.artifactType,
    spec: run.spec,
    buildCommands: p.buildCommands.map((argv) => [...argv]),
    testCommands: p.testCommands.map((argv) => [...argv]),
    verificationCommands: [...p.verificationCommands],
    manifestPath: p.manifestPath,
    platforms: buildPlatforms(run, deps.verifierPlatform),
    rules: [...p.rules],
    progressStyle: p.progressStyle,
  };
  if (opts.previousFailure) assignment.previousFailure = opts.previousFailure;
  const revision = run.revision;
  const base = revision ? findVersion(run, revision.baseVersion) : undefined;
  if (revision && base) {
    const first = revision.firstAttempt === undefined || opts.attempt === revision.firstAttempt;
    assignment.revision = {
      version: revision.number,
      baseVersion: base.number,
      ...(first && base.commit && { baseCommit: base.commit }),
      baseFeatures: [...base.spec.features],
      basePlatforms: [...base.spec.platforms],
      baseArtifactType: base.spec.artifactType,
    };
  }
  return WorkerAssignmentSchema.parse(assignment);
}

/**
 * AssignWorker: starts attempt `state.attempt + 1`. The run moves to `worker_running` from
 * `repo_ready` (first attempt) or `artifact_pending` (repair after a failed verification), or stays
 * `worker_running` after a failed worker. The assignment (spec + worker profile, plus the previous
 * attempt's internal failure reason on a repair) is written to the staging bucket, where the worker
 * reads it. Idempotent: a retry for an attempt already assigned rewrites the same assignment.
 */
export async function assignWorker(deps: AssignWorkerDeps, state: BuildState): Promise<BuildState> {
  const run = await loadTaskRun(deps, state.runId);
  const attempt = state.attempt + 1;
  if (attempt > 99) throw new TaskStateError('too many attempts');
  const previousFailure = attempt > 1 ? state.lastFailure : undefined;
  const out: BuildState = { runId: run.runId, attempt, maxAttempts: state.maxAttempts };
  if (state.lastFailure !== undefined) out.lastFailure = state.lastFailure;
  if (state.infraRetries !== undefined) out.infraRetries = state.infraRetries;

  // A retry of this very attempt: same worker, the same assignment rewritten, nothing recorded.
  const assigned = run.phase === 'worker_running' && run.attempts === attempt ? run.workerId : undefined;
  if (!assigned) {
    if (run.attempts !== state.attempt) {
      throw new TaskStateError(
        `the run has ${run.attempts} attempts, the execution expected ${state.attempt}`,
      );
    }
    if (run.phase !== 'repo_ready' && run.phase !== 'artifact_pending' && run.phase !== 'worker_running') {
      throw new TaskStateError(`AssignWorker cannot run in phase ${run.phase}`);
    }
  }
  const workerId = assigned ?? (deps.newWorkerId ?? newWorkerId)();
  const assignment = buildAssignment(deps, run, {
    workerId,
    attempt,
    maxAttempts: state.maxAttempts,
    previousFailure,
  });
  await deps.artifacts.putJson('staging', keys.assignment(run.runId, attempt), assignment);
  if (assigned) return out;

  const patch = { workerId, attempts: attempt };
  const now = deps.now();
  const next =
    run.phase === 'worker_running' ? update(run, patch, now) : transition(run, 'worker_running', patch, now);
  const events: NewBuildEvent[] = [
    newEvent('bus.build.worker.assigned', { workerId, taskRef: run.taskRef, attempt }),
  ];
  if (run.phase === 'artifact_pending')
    events.push(newEvent('bus.build.progress.updated', { stage: 'repairing' }));
  await commit(deps, run, next, events);
  return out;
}
