import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { approveRun } from '../../lib/app/approve-run.ts';
import { assignWorker } from '../../lib/app/orchestrator/assign-worker.ts';
import type { OrchestratorDeps } from '../../lib/app/orchestrator/deps.ts';
import { failRun } from '../../lib/app/orchestrator/fail-run.ts';
import { prepareBranch } from '../../lib/app/orchestrator/prepare-branch.ts';
import { commit, loadTaskRun } from '../../lib/app/orchestrator/run-ops.ts';
import { BuildStateSchema } from '../../lib/app/orchestrator/state.ts';
import { type NewBuildEvent, newEvent } from '../../lib/domain/events.ts';
import { update } from '../../lib/domain/lifecycle.ts';
import { toPublicRun } from '../../lib/domain/projection.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { ARTIFACT_BUILDER_PROFILE } from '../../worker-image/src/profile.ts';
import {
  clock,
  FakeStarter,
  MemoryArtifactStore,
  MemoryPublisher,
  MemoryRunStore,
  quotedRun,
} from './orchestrator-fakes.ts';

/** A store whose event appends die after `okEvents` more events (a task killed mid-commit). */
class CrashingStore extends MemoryRunStore {
  okEvents = Number.POSITIVE_INFINITY;
  override async appendEvents(runId: string, events: NewBuildEvent[], opts: { commit?: string } = {}) {
    const allowed = events.slice(0, Math.max(0, this.okEvents));
    const out = await super.appendEvents(runId, allowed, opts);
    this.okEvents -= allowed.length;
    if (allowed.length < events.length) throw new Error('task killed');
    return out;
  }
}

let store: CrashingStore;
let deps: OrchestratorDeps;
let scratch: string;

beforeEach(async () => {
  store = new CrashingStore();
  scratch = await mkdtemp(path.join(tmpdir(), 'orch-commit-'));
  let worker = 0;
  deps = {
    store,
    publisher: new MemoryPublisher(),
    artifacts: new MemoryArtifactStore(),
    now: clock(),
    repos: { ensureBranch: async (run) => ({ repoId: 'template', branch: `build/20261124/${run.runId}` }) },
    maxAttempts: 3,
    profile: ARTIFACT_BUILDER_PROFILE,
    newWorkerId: () => `wkr_${++worker}`,
    verify: async () => {
      throw new Error('not used');
    },
    tempDir: scratch,
  };
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function authorizedRun(): Promise<BuildRun> {
  const run = quotedRun('web');
  await store.createRun(run);
  await approveRun({ ...deps, starter: new FakeStarter() }, run.runId, { actor: 'op', method: 'manual' });
  return (await store.getRun(run.runId))!;
}

describe('a task killed between saving the run and recording its events', () => {
  it('loses no event: the next task appends them from the run, once', async () => {
    const run = await authorizedRun();
    store.okEvents = 0; // PrepareBranch saves repo_ready, then dies before its event
    await expect(prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId }))).rejects.toThrow(
      'task killed',
    );
    expect((await store.getRun(run.runId))!.phase).toBe('repo_ready');
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized']);

    store.okEvents = Number.POSITIVE_INFINITY;
    // Step Functions retries PrepareBranch: it finds the step done and completes the commit.
    const state = await prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId }));
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized', 'bus.build.repo.ready']);
    await assignWorker(deps, state);
    await assignWorker(deps, state); // a retried AssignWorker: nothing twice
    expect(store.types(run.runId)).toEqual([
      'bus.build.run.authorized',
      'bus.build.repo.ready',
      'bus.build.worker.assigned',
    ]);
  });

  it('appends only the events of a half-recorded commit that are missing, in order', async () => {
    const run = await authorizedRun();
    await prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId }));
    const ready = (await store.getRun(run.runId))!;
    const events = [
      newEvent('bus.build.progress.updated', { stage: 'building' }),
      newEvent('bus.build.progress.updated', { stage: 'verifying' }),
      newEvent('bus.build.progress.updated', { stage: 'preview_ready' }),
    ];
    store.okEvents = 1;
    await expect(commit(deps, ready, update(ready, {}, deps.now()), events)).rejects.toThrow('task killed');
    store.okEvents = Number.POSITIVE_INFINITY;

    await loadTaskRun(deps, run.runId);
    await loadTaskRun(deps, run.runId); // a second load finds the commit complete
    expect(store.types(run.runId).slice(2)).toEqual([
      'progress:building',
      'progress:verifying',
      'progress:preview_ready',
    ]);
  });

  it('completes a FailRun commit on the retried FailRun; the pending events never reach the public run', async () => {
    const run = await authorizedRun();
    store.okEvents = 0;
    await expect(
      failRun(
        deps,
        BuildStateSchema.parse({ runId: run.runId, failureCode: 'verification_failed', lastFailure: 'x' }),
      ),
    ).rejects.toThrow('task killed');
    const failed = (await store.getRun(run.runId))!;
    expect(failed.pendingEvents?.events.map((e) => e.type)).toEqual(['bus.build.run.failed']);
    expect(JSON.stringify(toPublicRun(failed))).not.toMatch(/pending|internalReason|commit/);

    store.okEvents = Number.POSITIVE_INFINITY;
    await failRun(deps, BuildStateSchema.parse({ runId: run.runId }));
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized', 'bus.build.run.failed']);
  });
});
