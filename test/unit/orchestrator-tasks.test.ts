import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { remoteSmokeFrom, verifySettingsFrom } from '../../functions/orchestrator/deps.ts';
import { isTransient } from '../../functions/orchestrator/task.ts';
import { approveRun } from '../../lib/app/approve-run.ts';
import { assignWorker, buildPlatforms } from '../../lib/app/orchestrator/assign-worker.ts';
import type { OrchestratorDeps } from '../../lib/app/orchestrator/deps.ts';
import { failRun } from '../../lib/app/orchestrator/fail-run.ts';
import { prepareBranch } from '../../lib/app/orchestrator/prepare-branch.ts';
import { ImmutableObjectError, PublishIntegrityError, publish } from '../../lib/app/orchestrator/publish.ts';
import { recordWorkerFailure } from '../../lib/app/orchestrator/record-worker-failure.ts';
import { TaskStateError } from '../../lib/app/orchestrator/run-ops.ts';
import { type BuildState, BuildStateSchema } from '../../lib/app/orchestrator/state.ts';
import { verifyArtifacts } from '../../lib/app/orchestrator/verify-artifacts.ts';
import { retryRun } from '../../lib/app/retry-run.ts';
import { keys } from '../../lib/aws/keys.ts';
import { LambdaSmokeRunner } from '../../lib/aws/smoke-invoker.ts';
import { WorkerAssignmentSchema } from '../../lib/domain/assignment.ts';
import { transition, update } from '../../lib/domain/lifecycle.ts';
import type { ArtifactManifest } from '../../lib/domain/manifest.ts';
import { toPublicEvent, toPublicRun } from '../../lib/domain/projection.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { FAILURE_SENTENCES } from '../../lib/domain/status.ts';
import {
  type BinarySmokeResult,
  directoryDigest,
  SmokeRunnerError,
  type VerificationReport,
  type VerifyCandidateOptions,
  verifyCandidate,
} from '../../lib/verify/index.ts';
import { ARTIFACT_BUILDER_PROFILE } from '../../worker-image/src/profile.ts';
import {
  clock,
  FakeStarter,
  MemoryArtifactStore,
  MemoryPublisher,
  MemoryRunStore,
  quotedRun,
} from './orchestrator-fakes.ts';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

let store: MemoryRunStore;
let artifacts: MemoryArtifactStore;
let deps: OrchestratorDeps;
let scratch: string;
let verifyCalls: VerifyCandidateOptions[];
let verifyOutcome: 'pass' | 'fail';
let branchCalls: number;
let workerSeq: number;

/** Passes with the candidate manifest's entries, or fails with an internal reason. */
async function fakeVerify(opts: VerifyCandidateOptions): Promise<VerificationReport> {
  verifyCalls.push(opts);
  const { readFile } = await import('node:fs/promises');
  const manifest = JSON.parse(await readFile(path.join(opts.root, opts.manifestPath ?? ''), 'utf8'));
  if (verifyOutcome === 'pass') {
    return {
      passed: true,
      checks: [{ name: 'files.integrity', passed: true }],
      publicSummary: 'The artifact passed verification.',
      artifacts: manifest.artifacts,
    };
  }
  return {
    passed: false,
    checks: [{ name: 'files.integrity', passed: false, detail: 'bin: sha256 mismatch' }],
    internalReason: 'files.integrity: bin: sha256 mismatch at /tmp/secret/worktree',
    publicSummary: 'The artifact failed verification: its files did not match its manifest.',
    artifacts: [],
  };
}

beforeEach(async () => {
  store = new MemoryRunStore();
  artifacts = new MemoryArtifactStore();
  scratch = await mkdtemp(path.join(tmpdir(), 'orch-unit-'));
  verifyCalls = [];
  verifyOutcome = 'pass';
  branchCalls = 0;
  workerSeq = 0;
  deps = {
    store,
    publisher: new MemoryPublisher(),
    artifacts,
    now: clock(),
    repos: {
      ensureBranch: async (run) => {
        branchCalls++;
        return { repoId: 'template', branch: `build/20261124/${run.runId}` };
      },
    },
    maxAttempts: 3,
    profile: ARTIFACT_BUILDER_PROFILE,
    newWorkerId: () => `wkr_${++workerSeq}`,
    verify: fakeVerify,
    tempDir: scratch,
  };
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const get = async (runId: string) => (await store.getRun(runId)) as BuildRun;

async function authorizedRun(type: 'web' | 'binary' | 'both' = 'both'): Promise<BuildRun> {
  const run = quotedRun(type);
  await store.createRun(run);
  await approveRun({ ...deps, starter: new FakeStarter() }, run.runId, { actor: 'op', method: 'manual' });
  return get(run.runId);
}

const WEB = {
  'web/index.html': '<!doctype html><html><body><script src="app.js"></script></body></html>',
  'web/app.js': 'document.body.append("hi")',
  'web/style.css': 'body{}',
};
const BIN = Buffer.from('\x7fELF fake tool binary');

/** Puts a candidate (web dir + one binary + manifest) for an attempt into staging. */
function putCandidate(
  runId: string,
  attempt: number,
  opts: { tamper?: boolean; webOnly?: boolean } = {},
): ArtifactManifest {
  const files = Object.entries(WEB).map(([rel, body]) => ({ rel: rel.slice(4), sha256: sha(body) }));
  const webSize = Object.values(WEB).reduce((n, b) => n + Buffer.byteLength(b), 0);
  const manifest: ArtifactManifest = {
    schema_version: 1,
    run_id: runId,
    artifacts: [
      {
        artifact_id: 'web',
        kind: 'web',
        name: 'Tip Calculator',
        path: 'web',
        sha256: directoryDigest(files),
        size_bytes: webSize,
        entrypoint: 'index.html',
        source_included: false,
      },
      {
        artifact_id: 'bin-linux-amd64',
        kind: 'binary',
        name: 'tip-linux-amd64',
        path: 'bin/tip-linux-amd64',
        sha256: sha(BIN),
        size_bytes: BIN.length,
        platform: 'linux-amd64',
        source_included: false,
      },
    ],
  };
  if (opts.webOnly) manifest.artifacts = manifest.artifacts.filter((a) => a.kind === 'web');
  for (const [rel, body] of Object.entries(WEB))
    artifacts.put('staging', keys.candidate(runId, attempt, rel), body);
  if (!opts.webOnly)
    artifacts.put(
      'staging',
      keys.candidate(runId, attempt, 'bin/tip-linux-amd64'),
      opts.tamper ? Buffer.from('other bytes!') : BIN,
    );
  artifacts.put(
    'staging',
    keys.candidate(runId, attempt, 'artifact-manifest.json'),
    JSON.stringify(manifest),
  );
  return manifest;
}

/** authorized → prepare → assign: the run is worker_running at attempt 1. */
async function runningRun(
  type: 'web' | 'binary' | 'both' = 'both',
): Promise<{ run: BuildRun; state: BuildState }> {
  const run = await authorizedRun(type);
  const s0 = await prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId }));
  const state = await assignWorker(deps, s0);
  return { run: await get(run.runId), state };
}

describe('BuildStateSchema', () => {
  it('defaults attempt and maxAttempts, validates the run id and drops unknown fields', () => {
    const run = quotedRun();
    expect(BuildStateSchema.parse({ runId: run.runId, junk: 1 })).toEqual({
      runId: run.runId,
      attempt: 0,
      maxAttempts: 3,
    });
    expect(BuildStateSchema.safeParse({ runId: '../etc' }).success).toBe(false);
    expect(BuildStateSchema.safeParse({ runId: run.runId, failureCode: 'nope' }).success).toBe(false);
  });
});

describe('PrepareBranch', () => {
  it('moves authorized → repo_ready with the branch and returns attempt 0 of maxAttempts', async () => {
    const run = await authorizedRun();
    const out = await prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId }));
    expect(out).toEqual({ runId: run.runId, attempt: 0, maxAttempts: 3 });
    const stored = await get(run.runId);
    expect(stored).toMatchObject({
      phase: 'repo_ready',
      repoId: 'template',
      branch: `build/20261124/${run.runId}`,
    });
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized', 'bus.build.repo.ready']);
  });

  it('is idempotent: a second run passes the state through without a new transition or event', async () => {
    const run = await authorizedRun();
    await prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId }));
    const version = (await get(run.runId)).version;
    const out = await prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId }));
    expect(out.attempt).toBe(0);
    expect((await get(run.runId)).version).toBe(version);
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized', 'bus.build.repo.ready']);
    expect(branchCalls).toBe(1);
  });

  it('continues the attempt numbering of a retried run', async () => {
    const run = await authorizedRun();
    const cur = await get(run.runId);
    await store.saveRun({ ...cur, attempts: 3, retries: 1, version: cur.version + 1 }, cur);
    const out = await prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId }));
    expect(out).toEqual({ runId: run.runId, attempt: 3, maxAttempts: 6 });
  });

  it('refuses a run that is not authorized', async () => {
    const run = quotedRun();
    await store.createRun(run);
    await expect(prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId }))).rejects.toBeInstanceOf(
      TaskStateError,
    );
    expect(branchCalls).toBe(0);
    expect((await get(run.runId)).phase).toBe('quoted');
  });
});

describe('AssignWorker', () => {
  it('starts attempt 1: worker_running, a valid assignment in staging, worker.assigned', async () => {
    const { run, state } = await runningRun();
    expect(state).toEqual({ runId: run.runId, attempt: 1, maxAttempts: 3 });
    expect(run).toMatchObject({ phase: 'worker_running', attempts: 1, workerId: 'wkr_1' });
    const assignment = WorkerAssignmentSchema.parse(artifacts.json('staging', keys.assignment(run.runId, 1)));
    expect(assignment).toMatchObject({
      runId: run.runId,
      taskRef: run.taskRef,
      workerId: 'wkr_1',
      attempt: 1,
      maxAttempts: 3,
      branch: run.branch,
      artifactType: 'both',
      platforms: ['linux-amd64'],
      manifestPath: ARTIFACT_BUILDER_PROFILE.manifestPath,
      buildCommands: ARTIFACT_BUILDER_PROFILE.buildCommands,
    });
    expect(assignment.previousFailure).toBeUndefined();
    expect(assignment.spec).toEqual(run.spec);
    expect(store.types(run.runId).slice(-1)).toEqual(['bus.build.worker.assigned']);
  });

  it('is idempotent for the same attempt: same worker, no second transition or event', async () => {
    const { run } = await runningRun();
    const again = await assignWorker(deps, { runId: run.runId, attempt: 0, maxAttempts: 3 });
    expect(again.attempt).toBe(1);
    const stored = await get(run.runId);
    expect(stored.version).toBe(run.version);
    expect(stored.workerId).toBe('wkr_1');
    expect(
      WorkerAssignmentSchema.parse(artifacts.json('staging', keys.assignment(run.runId, 1))).workerId,
    ).toBe('wkr_1');
    expect(store.types(run.runId).filter((t) => t === 'bus.build.worker.assigned')).toHaveLength(1);
  });

  it('repairs after a failed verification: artifact_pending → worker_running, attempt 2, previousFailure', async () => {
    const { run, state } = await runningRun();
    putCandidate(run.runId, 1);
    verifyOutcome = 'fail';
    const verified = await verifyArtifacts(deps, state);
    expect(verified).toMatchObject({ passed: false, repairable: true, failureCode: 'verification_failed' });
    const repaired = await assignWorker(deps, verified);
    expect(repaired).toMatchObject({ attempt: 2, lastFailure: verified.lastFailure });
    expect(repaired.passed).toBeUndefined();
    expect(repaired.failureCode).toBeUndefined();
    const stored = await get(run.runId);
    expect(stored).toMatchObject({ phase: 'worker_running', attempts: 2, workerId: 'wkr_2' });
    const assignment = WorkerAssignmentSchema.parse(artifacts.json('staging', keys.assignment(run.runId, 2)));
    expect(assignment.previousFailure).toBe(verified.lastFailure);
    expect(store.types(run.runId).slice(-2)).toEqual(['bus.build.worker.assigned', 'progress:repairing']);
  });

  it('reassigns after a crashed worker without a phase change (update in worker_running)', async () => {
    const { run, state } = await runningRun();
    const failed = await recordWorkerFailure(deps, { ...state, workerError: { Error: 'States.TaskFailed' } });
    const next = await assignWorker(deps, failed);
    expect(next.attempt).toBe(2);
    const stored = await get(run.runId);
    expect(stored).toMatchObject({ phase: 'worker_running', attempts: 2 });
    expect(store.types(run.runId)).not.toContain('progress:repairing');
  });

  it('refuses a state that does not match the run, and illegal phases', async () => {
    const { run } = await runningRun();
    await expect(assignWorker(deps, { runId: run.runId, attempt: 5, maxAttempts: 9 })).rejects.toBeInstanceOf(
      TaskStateError,
    );
    const q = quotedRun();
    await store.createRun(q);
    await expect(assignWorker(deps, { runId: q.runId, attempt: 0, maxAttempts: 3 })).rejects.toBeInstanceOf(
      TaskStateError,
    );
  });
});

describe('RecordWorkerFailure', () => {
  it('no_matching_recipe from the worker result is not repairable', async () => {
    const { run, state } = await runningRun();
    artifacts.put(
      'evidence',
      keys.workerResult(run.runId, 1),
      JSON.stringify({ ok: false, code: 'no_matching_recipe', reason: 'no recipe for "crm"' }),
    );
    const out = await recordWorkerFailure(deps, {
      ...state,
      workerError: { Error: 'States.TaskFailed', Cause: '{}' },
    });
    expect(out).toMatchObject({ passed: false, repairable: false, failureCode: 'no_matching_recipe' });
    expect(out.lastFailure).toContain('no recipe for');
    expect(out.workerError).toBeUndefined();
    const stored = await get(run.runId);
    expect(stored.phase).toBe('worker_running');
    expect(stored.verification).toEqual([
      expect.objectContaining({ attempt: 1, passed: false, internalReason: out.lastFailure }),
    ]);
    expect(stored.evidence).toEqual([
      expect.objectContaining({ kind: 'worker_result', key: keys.workerResult(run.runId, 1) }),
    ]);
  });

  it('a worker failure marked not repairable (image without Chromium) fails the run as internal_error', async () => {
    const { run, state } = await runningRun();
    artifacts.put(
      'evidence',
      keys.workerResult(run.runId, 1),
      JSON.stringify({
        ok: false,
        code: 'internal',
        reason:
          'render check required (RENDER_CHECK=required) but not run: the worker image lacks a usable Chromium',
        repairable: false,
      }),
    );
    const out = await recordWorkerFailure(deps, { ...state, workerError: { Error: 'States.TaskFailed' } });
    expect(out).toMatchObject({ passed: false, repairable: false, failureCode: 'internal_error' });
    expect(out.lastFailure).toContain('lacks a usable Chromium');
    // VerifyArtifacts (the worker exited 0 locally, or a re-run) reaches the same decision.
    expect(await verifyArtifacts(deps, state)).toMatchObject({
      repairable: false,
      failureCode: 'internal_error',
    });
    await failRun(deps, out);
    const stored = await get(run.runId);
    expect(stored.failure).toMatchObject({ code: 'internal_error' });
    expect(toPublicRun(stored).status_message).toBe(FAILURE_SENTENCES.internal_error);
    expect(JSON.stringify(toPublicRun(stored))).not.toContain('Chromium');
  });

  it('classifies a timeout and a crash, and is idempotent', async () => {
    const { run, state } = await runningRun();
    const timeout = await recordWorkerFailure(deps, { ...state, workerError: { Error: 'States.Timeout' } });
    expect(timeout).toMatchObject({ repairable: true, failureCode: 'timeout' });
    const again = await recordWorkerFailure(deps, { ...state, workerError: { Error: 'States.Timeout' } });
    expect(again).toEqual(timeout);
    expect((await get(run.runId)).verification).toHaveLength(1);

    const crash = await recordWorkerFailure(deps, {
      ...state,
      workerError: {
        Error: 'States.TaskFailed',
        Cause: JSON.stringify({
          StoppedReason: 'Essential container in task exited',
          Containers: [{ Name: 'worker', ExitCode: 2 }],
        }),
      },
    });
    expect(crash).toMatchObject({ repairable: true, failureCode: 'worker_failed' });
    expect(crash.lastFailure).toContain('worker exit code 2');
  });
});

describe('infrastructure failures and stale workers', () => {
  const cloneFailed = JSON.stringify({
    ok: false,
    code: 'infrastructure',
    reason: 'the build branch could not be cloned',
    workerId: 'wkr_1',
  });

  it('a failed clone is retried with backoff and does not use up a repair attempt', async () => {
    const { run, state } = await runningRun();
    expect(state).toMatchObject({ attempt: 1, maxAttempts: 3 });
    artifacts.put('evidence', keys.workerResult(run.runId, 1), cloneFailed);
    const infra = { max: 2, baseSeconds: 10 };
    const out = await recordWorkerFailure(
      { ...deps, infraRetry: infra },
      { ...state, workerError: { Error: 'States.TaskFailed' } },
    );
    expect(out).toMatchObject({
      passed: false,
      repairable: false,
      retryInfrastructure: true,
      infraRetries: 1,
      retryDelaySeconds: 10,
      maxAttempts: 4, // the budget grows by the attempt the failed clone took
      failureCode: 'infrastructure',
    });
    // The coder is not handed "could not be cloned" as something to repair.
    expect(out.lastFailure).toBeUndefined();

    // Next attempt: the count carries on, the backoff doubles, the limit ends it as infrastructure.
    const second = await assignWorker(deps, out);
    expect(second).toMatchObject({ attempt: 2, maxAttempts: 4, infraRetries: 1 });
    artifacts.put('evidence', keys.workerResult(run.runId, 2), cloneFailed.replace('wkr_1', 'wkr_2'));
    const again = await recordWorkerFailure({ ...deps, infraRetry: infra }, second);
    expect(again).toMatchObject({ retryInfrastructure: true, infraRetries: 2, retryDelaySeconds: 20 });
    const third = await assignWorker(deps, again);
    artifacts.put('evidence', keys.workerResult(run.runId, 3), cloneFailed.replace('wkr_1', 'wkr_3'));
    const last = await recordWorkerFailure({ ...deps, infraRetry: infra }, third);
    expect(last.retryInfrastructure).toBeUndefined();
    expect(last).toMatchObject({ repairable: false, failureCode: 'infrastructure' });
    await failRun(deps, last);
    const stored = await get(run.runId);
    expect(stored.failure?.code).toBe('infrastructure');
    expect(toPublicRun(stored).status_message).toBe(FAILURE_SENTENCES.infrastructure);
    expect(FAILURE_SENTENCES.infrastructure).toMatch(/not a problem with your request/);
    expect(JSON.stringify(toPublicRun(stored))).not.toContain('cloned');
  });

  it('a task that never started (ECS TaskFailedToStart) is an infrastructure failure too', async () => {
    const { state } = await runningRun();
    const out = await recordWorkerFailure(deps, {
      ...state,
      workerError: {
        Error: 'States.TaskFailed',
        Cause: JSON.stringify({ StopCode: 'TaskFailedToStart', StoppedReason: 'CannotPullContainerError' }),
      },
    });
    expect(out).toMatchObject({ retryInfrastructure: true, failureCode: 'infrastructure' });
  });

  it('a task error the Retry gave up on (TransientError) fails the run as infrastructure', async () => {
    const { run, state } = await runningRun();
    await failRun(deps, { ...state, error: { Error: 'TransientError', Cause: 'dynamodb unreachable' } });
    expect((await get(run.runId)).failure?.code).toBe('infrastructure');
  });

  it("ignores the result of a stale worker (another worker id than the attempt's)", async () => {
    const { run, state } = await runningRun();
    expect(run.workerId).toBe('wkr_1');
    artifacts.put(
      'evidence',
      keys.workerResult(run.runId, 1),
      JSON.stringify({ ok: false, code: 'no_matching_recipe', reason: 'stale says no', workerId: 'wkr_old' }),
    );
    const out = await recordWorkerFailure(deps, { ...state, workerError: { Error: 'States.TaskFailed' } });
    // Not the stale worker's verdict (no_matching_recipe, not repairable): no result at all.
    expect(out).toMatchObject({ repairable: true, failureCode: 'worker_failed' });
    expect(out.lastFailure).not.toContain('stale says no');
  });
});

describe('VerifyArtifacts', () => {
  it('passes: artifact_pending, events, evidence report, verification on the run; scratch removed', async () => {
    const { run, state } = await runningRun();
    putCandidate(run.runId, 1);
    const out = await verifyArtifacts(deps, state);
    expect(out).toEqual({ runId: run.runId, attempt: 1, maxAttempts: 3, passed: true, repairable: false });
    expect(verifyCalls).toHaveLength(1);
    expect(verifyCalls[0]).toMatchObject({
      manifestPath: 'artifact-manifest.json',
      expectedArtifactType: 'both',
    });
    expect(verifyCalls[0]?.forbiddenStrings).toEqual(expect.arrayContaining([run.branch, run.taskRef]));
    const stored = await get(run.runId);
    expect(stored.phase).toBe('artifact_pending');
    expect(stored.verification.at(-1)).toMatchObject({ attempt: 1, passed: true });
    expect(stored.manifest?.artifacts.map((a) => a.artifact_id)).toEqual(['web', 'bin-linux-amd64']);
    expect(stored.evidence.at(-1)).toMatchObject({
      kind: 'verification',
      key: keys.verification(run.runId, 1),
    });
    expect(artifacts.json('evidence', keys.verification(run.runId, 1))).toMatchObject({
      runId: run.runId,
      attempt: 1,
      passed: true,
      download: { files: 5 },
    });
    const events = store.events.get(run.runId) ?? [];
    expect(events.find((e) => e.type === 'bus.build.artifact.submitted')?.data).toMatchObject({
      attempt: 1,
      artifactCount: 2,
    });
    expect(store.types(run.runId).slice(-2)).toEqual(['bus.build.artifact.submitted', 'progress:verifying']);
    expect(await readdir(scratch)).toEqual([]);
  });

  it('fails with an internal reason and the repair flags; a re-run returns the recorded result', async () => {
    const { run, state } = await runningRun();
    putCandidate(run.runId, 1);
    verifyOutcome = 'fail';
    const out = await verifyArtifacts(deps, state);
    expect(out).toMatchObject({ passed: false, repairable: true, failureCode: 'verification_failed' });
    expect(out.lastFailure).toContain('sha256 mismatch');
    const again = await verifyArtifacts(deps, state);
    expect(again).toEqual(out);
    expect(verifyCalls).toHaveLength(1);
    expect((await get(run.runId)).phase).toBe('artifact_pending');
    expect(store.types(run.runId).filter((t) => t === 'bus.build.artifact.submitted')).toHaveLength(1);
  });

  it('handles a worker that reported failure like RecordWorkerFailure (no verification)', async () => {
    const { run, state } = await runningRun();
    artifacts.put(
      'evidence',
      keys.workerResult(run.runId, 1),
      JSON.stringify({ ok: false, code: 'no_matching_recipe', reason: 'nothing fits' }),
    );
    const out = await verifyArtifacts(deps, state);
    expect(out).toMatchObject({ passed: false, repairable: false, failureCode: 'no_matching_recipe' });
    expect(verifyCalls).toHaveLength(0);
    expect((await get(run.runId)).phase).toBe('worker_running');
    expect(await verifyArtifacts(deps, state)).toEqual(out);
  });

  it('fails without running the verifier on unsafe keys or an empty candidate', async () => {
    const { run, state } = await runningRun();
    artifacts.put('staging', `${keys.candidatePrefix(run.runId, 1)}../../escape`, 'x');
    const out = await verifyArtifacts(deps, state);
    expect(out).toMatchObject({ passed: false, repairable: true });
    expect(out.lastFailure).toContain('not safe relative paths');
    expect(verifyCalls).toHaveLength(0);

    const other = await runningRun();
    const empty = await verifyArtifacts(deps, other.state);
    expect(empty.lastFailure).toContain('no candidate files');
  });

  it('fails a manifest that names another run', async () => {
    const { run, state } = await runningRun();
    const manifest = putCandidate(run.runId, 1);
    artifacts.put(
      'staging',
      keys.candidate(run.runId, 1, 'artifact-manifest.json'),
      JSON.stringify({ ...manifest, run_id: 'run_zzzzzzzzzzzzzzzzzzzzzzzzzz' }),
    );
    const out = await verifyArtifacts(deps, state);
    expect(out).toMatchObject({ passed: false, lastFailure: expect.stringContaining('another build run') });
  });

  describe('render evidence (RENDER_EVIDENCE=worker, no browser at the gate)', () => {
    const webDigest = (m: ArtifactManifest) => m.artifacts.find((a) => a.kind === 'web')!.sha256;
    const putResult = (runId: string, result: object) =>
      artifacts.put('evidence', keys.workerResult(runId, 1), JSON.stringify(result));
    /** The real gate without a browser; `mode` is the deployment's RENDER_EVIDENCE. */
    const useGate = (mode?: 'worker') => {
      deps.verify = async (opts) => {
        verifyCalls.push(opts);
        return verifyCandidate(opts);
      };
      deps.verifySettings = verifySettingsFrom(mode ? { RENDER_EVIDENCE: mode } : {});
      deps.verifySettings.smoke = { ...deps.verifySettings.smoke, browser: false };
    };
    const evidenceReport = (runId: string) =>
      artifacts.json('evidence', keys.verification(runId, 1)) as VerificationReport;

    it('passes with a passed worker render of the staged bytes and shows it in the evidence report', async () => {
      useGate('worker');
      const { run, state } = await runningRun('web');
      const manifest = putCandidate(run.runId, 1, { webOnly: true });
      const record = { artifact_id: 'web', status: 'passed', digest: webDigest(manifest) };
      putResult(run.runId, { ok: true, commit: 'a'.repeat(40), render: [record] });
      const out = await verifyArtifacts(deps, state);
      expect(out).toMatchObject({ passed: true });
      expect(verifyCalls[0]?.smoke).toMatchObject({ renderEvidence: 'worker', workerRenders: [record] });
      const checks = evidenceReport(run.runId).checks;
      expect(checks.find((c) => c.name === 'smoke.render')?.detail).toMatch(/^skipped/);
      expect(checks.find((c) => c.name === 'smoke.render_evidence')).toMatchObject({ passed: true });
      expect((await get(run.runId)).verification.at(-1)?.checks.map((c) => c.name)).toContain(
        'smoke.render_evidence',
      );
    });

    it('fails into the repair loop when the worker sent no render evidence', async () => {
      useGate('worker');
      const { run, state } = await runningRun('web');
      putCandidate(run.runId, 1, { webOnly: true });
      putResult(run.runId, { ok: true, commit: 'a'.repeat(40) });
      const out = await verifyArtifacts(deps, state);
      expect(out).toMatchObject({ passed: false, repairable: true, failureCode: 'verification_failed' });
      expect(out.lastFailure).toContain('smoke.render_evidence: no render evidence for web');
      expect((await get(run.runId)).manifest).toBeUndefined();
    });

    it('fails when the evidence digest is not the digest of the staged candidate', async () => {
      useGate('worker');
      const { run, state } = await runningRun('web');
      putCandidate(run.runId, 1, { webOnly: true });
      putResult(run.runId, {
        ok: true,
        render: [{ artifact_id: 'web', status: 'passed', digest: 'f'.repeat(64) }],
      });
      const out = await verifyArtifacts(deps, state);
      expect(out).toMatchObject({ passed: false, repairable: true, failureCode: 'verification_failed' });
      expect(out.lastFailure).toContain('render evidence digest does not match the candidate');
    });

    it('mode off: a skipped gate render passes as before, without reading evidence', async () => {
      useGate();
      const { run, state } = await runningRun('web');
      putCandidate(run.runId, 1, { webOnly: true });
      const out = await verifyArtifacts(deps, state);
      expect(out).toMatchObject({ passed: true });
      expect(verifyCalls[0]?.smoke?.renderEvidence).toBeUndefined();
      expect(evidenceReport(run.runId).checks.map((c) => c.name)).not.toContain('smoke.render_evidence');
    });

    it('reads RENDER_EVIDENCE from the environment (merged with the other smoke settings)', () => {
      expect(verifySettingsFrom({})).toEqual({});
      expect(verifySettingsFrom({ RENDER_EVIDENCE: 'none' })).toEqual({});
      expect(verifySettingsFrom({ RENDER_EVIDENCE: 'worker', VERIFY_SANDBOX: 'none' }).smoke).toEqual({
        sandbox: 'none',
        renderEvidence: 'worker',
      });
      expect(() => verifySettingsFrom({ RENDER_EVIDENCE: 'yes' })).toThrow(/RENDER_EVIDENCE/);
    });
  });

  it('refuses illegal phases', async () => {
    const run = await authorizedRun();
    await expect(
      verifyArtifacts(deps, { runId: run.runId, attempt: 0, maxAttempts: 3 }),
    ).rejects.toBeInstanceOf(TaskStateError);
  });
});

describe('Publish', () => {
  async function verifiedRun(): Promise<{ run: BuildRun; state: BuildState }> {
    const { run, state } = await runningRun();
    putCandidate(run.runId, 1);
    const verified = await verifyArtifacts(deps, state);
    return { run: await get(run.runId), state: verified };
  }

  it('publishes the verified files to immutable keys with content types and marks the run ready', async () => {
    const { run, state } = await verifiedRun();
    const out = await publish(deps, state);
    expect(out).toMatchObject({ passed: true, attempt: 1 });
    const stored = await get(run.runId);
    expect(stored.phase).toBe('artifact_ready');
    expect(stored.artifacts.map((a) => [a.artifact_id, a.published_key, a.content_type])).toEqual([
      ['web', keys.published(run.runId, 'web', 'index.html'), 'text/html; charset=utf-8'],
      [
        'bin-linux-amd64',
        keys.published(run.runId, 'bin-linux-amd64', 'tip-linux-amd64'),
        'application/octet-stream',
      ],
    ]);
    const pub = artifacts.objects.artifacts;
    expect([...pub.keys()].sort()).toEqual(
      [
        keys.published(run.runId, 'web', 'index.html'),
        keys.published(run.runId, 'web', 'app.js'),
        keys.published(run.runId, 'web', 'style.css'),
        keys.published(run.runId, 'bin-linux-amd64', 'tip-linux-amd64'),
      ].sort(),
    );
    expect(pub.get(keys.published(run.runId, 'web', 'app.js'))?.contentType).toBe(
      'text/javascript; charset=utf-8',
    );
    expect(pub.get(keys.published(run.runId, 'web', 'style.css'))?.contentType).toBe(
      'text/css; charset=utf-8',
    );
    expect(pub.get(keys.published(run.runId, 'bin-linux-amd64', 'tip-linux-amd64'))?.sha256).toBe(sha(BIN));
    const verifiedEvent = (store.events.get(run.runId) ?? []).find(
      (e) => e.type === 'bus.build.artifact.verified',
    );
    expect(verifiedEvent?.data).toEqual({
      artifactIds: ['web', 'bin-linux-amd64'],
      kinds: ['web', 'binary'],
    });
    expect(store.types(run.runId).slice(-4)).toEqual([
      'bus.build.artifact.verified',
      'progress:preview_ready',
      'progress:downloads_ready',
      'bus.build.version.published',
    ]);
    // A retried Publish is a no-op.
    const puts = artifacts.puts.length;
    expect(await publish(deps, state)).toEqual(out);
    expect(artifacts.puts.length).toBe(puts);
    expect(await readdir(scratch)).toEqual([]);
  });

  it('keeps objects a crashed earlier try already wrote (same bytes)', async () => {
    const { run, state } = await verifiedRun();
    artifacts.put('artifacts', keys.published(run.runId, 'bin-linux-amd64', 'tip-linux-amd64'), BIN, {
      sha256: sha(BIN),
    });
    await publish(deps, state);
    expect((await get(run.runId)).phase).toBe('artifact_ready');
  });

  it('never overwrites a published object with different bytes', async () => {
    const { run, state } = await verifiedRun();
    artifacts.put('artifacts', keys.published(run.runId, 'bin-linux-amd64', 'tip-linux-amd64'), 'old', {
      sha256: sha('old'),
    });
    await expect(publish(deps, state)).rejects.toBeInstanceOf(ImmutableObjectError);
    expect(artifacts.text('artifacts', keys.published(run.runId, 'bin-linux-amd64', 'tip-linux-amd64'))).toBe(
      'old',
    );
    expect((await get(run.runId)).phase).toBe('artifact_pending');
  });

  it('refuses a candidate changed after verification', async () => {
    const { run, state } = await verifiedRun();
    putCandidate(run.runId, 1, { tamper: true });
    await expect(publish(deps, state)).rejects.toBeInstanceOf(PublishIntegrityError);
    expect(
      artifacts.objects.artifacts.has(keys.published(run.runId, 'bin-linux-amd64', 'tip-linux-amd64')),
    ).toBe(false);
  });

  it('refuses to publish a failed verification', async () => {
    const { run, state } = await runningRun();
    putCandidate(run.runId, 1);
    verifyOutcome = 'fail';
    const failed = await verifyArtifacts(deps, state);
    await expect(publish(deps, failed)).rejects.toBeInstanceOf(TaskStateError);
    expect(artifacts.objects.artifacts.size).toBe(0);
  });
});

describe('FailRun', () => {
  it('fails the run with the loop code; the public side shows only the fixed sentence', async () => {
    const { run, state } = await runningRun();
    const out = await failRun(deps, {
      ...state,
      passed: false,
      repairable: true,
      failureCode: 'verification_failed',
      lastFailure: 'files.integrity: sha256 mismatch in /tmp/worktree/secret',
    });
    expect(out.failureCode).toBe('verification_failed');
    const stored = await get(run.runId);
    expect(stored.phase).toBe('failed');
    expect(stored.failure).toMatchObject({
      code: 'verification_failed',
      internalReason: 'files.integrity: sha256 mismatch in /tmp/worktree/secret',
    });
    const failed = (store.events.get(run.runId) ?? []).at(-1);
    expect(failed?.type).toBe('bus.build.run.failed');
    const publicRun = JSON.stringify(toPublicRun(stored));
    const publicEvent = failed ? toPublicEvent(failed) : null;
    expect(publicEvent?.message).toBe(FAILURE_SENTENCES.verification_failed);
    expect(toPublicRun(stored).status_message).toBe(FAILURE_SENTENCES.verification_failed);
    for (const text of [publicRun, JSON.stringify(publicEvent)]) {
      expect(text).not.toContain('worktree');
      expect(text).not.toContain('sha256 mismatch');
    }
  });

  it('uses the task error (Lambda cause) over the loop code, timeout for States.Timeout', async () => {
    const { run, state } = await runningRun();
    const cause = JSON.stringify({
      errorType: 'TaskStateError',
      errorMessage: 'Publish cannot run',
      trace: [],
    });
    await failRun(deps, {
      ...state,
      failureCode: 'verification_failed',
      error: { Error: 'TaskStateError', Cause: cause },
    });
    expect((await get(run.runId)).failure).toMatchObject({
      code: 'internal_error',
      internalReason: 'TaskStateError: Publish cannot run',
    });
    const other = await runningRun();
    await failRun(deps, { ...other.state, error: { Error: 'States.Timeout' } });
    expect((await get(other.run.runId)).failure?.code).toBe('timeout');
  });

  it('defaults to internal_error and is a no-op on failed, ready or delivered runs', async () => {
    const { run, state } = await runningRun();
    await failRun(deps, state);
    const failed = await get(run.runId);
    expect(failed.failure?.code).toBe('internal_error');
    await failRun(deps, { ...state, failureCode: 'timeout' });
    expect(await get(run.runId)).toEqual(failed);
    expect(store.types(run.runId).filter((t) => t === 'bus.build.run.failed')).toHaveLength(1);

    const ready = await runningRun();
    const cur = await get(ready.run.runId);
    const pending = transition(cur, 'artifact_pending', {}, cur.updatedAt);
    await store.saveRun(pending, cur);
    await store.saveRun(transition(pending, 'artifact_ready', {}, cur.updatedAt), pending);
    await failRun(deps, { ...ready.state, failureCode: 'verification_failed' });
    expect((await get(ready.run.runId)).phase).toBe('artifact_ready');
    // unknown run: logged, not retried forever
    expect(
      await failRun(deps, { runId: 'run_zzzzzzzzzzzzzzzzzzzzzzzzzz', attempt: 0, maxAttempts: 3 }),
    ).toMatchObject({
      runId: 'run_zzzzzzzzzzzzzzzzzzzzzzzzzz',
    });
  });
});

describe('verifier platform', () => {
  it('always builds the verifier platform for binaries, never for web-only runs', () => {
    const both = quotedRun('both');
    const windowsOnly = { ...both, spec: { ...both.spec!, platforms: ['windows-amd64'] } };
    expect(buildPlatforms(windowsOnly, 'linux-amd64')).toEqual(['windows-amd64', 'linux-amd64']);
    expect(buildPlatforms(both, 'linux-amd64')).toEqual(['linux-amd64']);
    expect(buildPlatforms(quotedRun('web'), 'linux-amd64')).toEqual([]);
    expect(buildPlatforms(windowsOnly, undefined)).toEqual(['windows-amd64']);
  });

  it('publishes only the platforms the visitor asked for; the smoke-only binary stays internal', async () => {
    const { run, state } = await runningRun();
    putCandidate(run.runId, 1);
    const verified = await verifyArtifacts(deps, state);
    const current = await get(run.runId);
    const darwinOnly = update(
      current,
      { spec: { ...current.spec!, platforms: ['darwin-arm64'] } },
      current.updatedAt,
    );
    await store.saveRun(darwinOnly, { phase: current.phase, version: current.version });
    await publish(deps, verified);
    const stored = await get(run.runId);
    expect(stored.phase).toBe('artifact_ready');
    expect(stored.artifacts.map((a) => a.artifact_id)).toEqual(['web']);
    expect([...artifacts.objects.artifacts.keys()].some((k) => k.includes('bin-linux-amd64'))).toBe(false);
  });
});

describe('VerifyArtifacts with the isolated smoke function (SMOKE_FUNCTION_NAME)', () => {
  /** Runs every binary entry through the runner verifyArtifacts passes, like verifyCandidate does. */
  async function runnerVerify(opts: VerifyCandidateOptions): Promise<VerificationReport> {
    verifyCalls.push(opts);
    const { readFile } = await import('node:fs/promises');
    const manifest: ArtifactManifest = JSON.parse(
      await readFile(path.join(opts.root, opts.manifestPath ?? ''), 'utf8'),
    );
    const results = [];
    for (const e of manifest.artifacts.filter((a) => a.kind === 'binary')) {
      results.push(await opts.smoke!.runBinary!(e, path.join(opts.root, e.path)));
    }
    const passed = results.every((r) => r.passed);
    return {
      passed,
      checks: [{ name: 'smoke.binary', passed }],
      publicSummary: 'The artifact passed verification.',
      artifacts: passed ? manifest.artifacts : [],
      ...(!passed && { internalReason: 'smoke.binary: failed' }),
    };
  }

  it('presigns the staged binary and invokes the function with the manifest sha256 and size', async () => {
    const lambda = mockClient(LambdaClient);
    try {
      const passed: BinarySmokeResult = {
        passed: true,
        problems: [],
        sandbox: 'isolated-lambda',
        attempts: [],
      };
      lambda
        .on(InvokeCommand)
        .resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(passed)) as never });
      const s3 = new S3Client({
        region: 'eu-north-1',
        credentials: { accessKeyId: 'AKIAEXAMPLEEXAMPLE', secretAccessKey: 'secret/example/key' },
      });
      const env = { SMOKE_FUNCTION_NAME: 'bus-build-test-smoke' };
      expect(remoteSmokeFrom(env, { staging: 'staging-bkt', evidence: 'e', artifacts: 'a' })).toBeInstanceOf(
        LambdaSmokeRunner,
      );
      expect(remoteSmokeFrom({}, { staging: 'staging-bkt', evidence: 'e', artifacts: 'a' })).toBeUndefined();
      // The adapter from the environment, with clients that work offline.
      deps.remoteSmoke = new LambdaSmokeRunner(
        new LambdaClient({ region: 'eu-north-1' }),
        s3,
        env.SMOKE_FUNCTION_NAME,
        'staging-bkt',
      );
      deps.verify = runnerVerify;
      deps.verifySettings = { smoke: { binaryTimeoutMs: 4_000 } };
      const { run, state } = await runningRun();
      const manifest = putCandidate(run.runId, 1);
      const out = await verifyArtifacts(deps, state);
      expect(out.passed).toBe(true);
      const calls = lambda.commandCalls(InvokeCommand);
      expect(calls).toHaveLength(1);
      const payload = JSON.parse(new TextDecoder().decode(calls[0]!.args[0].input.Payload as Uint8Array));
      const bin = manifest.artifacts.find((a) => a.kind === 'binary')!;
      expect(payload).toMatchObject({ sha256: bin.sha256, sizeBytes: bin.size_bytes, timeoutMs: 4_000 });
      const url = new URL(payload.url);
      expect(url.hostname).toBe('staging-bkt.s3.eu-north-1.amazonaws.com');
      expect(decodeURIComponent(url.pathname)).toBe(`/${keys.candidate(run.runId, 1, bin.path)}`);
      expect(url.searchParams.get('X-Amz-Expires')).toBe('120');
    } finally {
      lambda.restore();
    }
  });

  it('a smoke function error fails the task (retried by the state machine), not the candidate', async () => {
    deps.remoteSmoke = {
      run: async () => {
        throw new SmokeRunnerError('the smoke function failed (Unhandled)');
      },
    };
    deps.verify = verifyCandidate;
    deps.verifySettings = {
      checkBinaryFormat: false,
      hostPlatform: 'linux-amd64',
      smoke: { browser: false },
    };
    const { run, state } = await runningRun();
    putCandidate(run.runId, 1);
    await expect(verifyArtifacts(deps, state)).rejects.toThrow(SmokeRunnerError);
    const stored = await get(run.runId);
    expect(stored.verification.filter((v) => v.attempt === 1)).toEqual([]);
    expect(isTransient(new SmokeRunnerError('x'))).toBe(true);
  });

  it('without SMOKE_FUNCTION_NAME the gate runs binaries itself (no runner is passed)', async () => {
    const { run, state } = await runningRun();
    putCandidate(run.runId, 1);
    await verifyArtifacts(deps, state);
    expect(verifyCalls[0]?.smoke?.runBinary).toBeUndefined();
  });
});

describe('bus-build retry of a failed revision', () => {
  const V1 = 'a'.repeat(40);
  const V2 = 'b'.repeat(40);

  /** Versions 1 and 2 delivered; the change to version 3 failed after its attempts 3–5. */
  async function failedVersion3(): Promise<BuildRun> {
    const base = await authorizedRun('binary');
    const spec = base.spec as NonNullable<BuildRun['spec']>;
    const artifact = (n: number) => ({
      artifact_id: n === 1 ? 'linux-amd64' : `linux-amd64-v${n}`,
      kind: 'binary' as const,
      name: 'tip-linux-amd64',
      path: 'bin/tip-linux-amd64',
      sha256: `${n}`.repeat(64),
      size_bytes: 1000 + n,
      platform: 'linux-amd64',
      source_included: false as const,
      published_key: `runs/${base.runId}/v${n}/tip`,
      content_type: 'application/octet-stream',
      verified_at: base.createdAt,
    });
    const version = (n: number, commit: string, attempt: number) => ({
      number: n,
      spec,
      quoteVersion: n,
      amountCents: 4900,
      currency: 'eur',
      commit,
      attempt,
      artifacts: [artifact(n)],
      verifiedAt: base.createdAt,
      payment: { status: 'manual_approved', method: 'manual' },
    });
    const failed: BuildRun = {
      ...base,
      phase: 'failed',
      branch: `build/20261124/${base.runId}`,
      repoId: 'template',
      attempts: 5,
      artifacts: [artifact(2)],
      versions: [version(1, V1, 1), version(2, V2, 2)],
      revision: {
        number: 3,
        baseVersion: 2,
        retriesAtStart: 0,
        firstAttempt: 3,
        requestedAt: base.createdAt,
      },
      failure: { code: 'verification_failed', internalReason: 'check 2 failed', at: base.createdAt },
      endedAt: base.createdAt,
      version: base.version + 1,
    };
    await store.saveRun(failed, base);
    return failed;
  }

  it('rebuilds version 3 as `{run_id}-v3-retry-1` from version 2’s verified commit; version 2 stays delivered', async () => {
    const failed = await failedVersion3();
    const starter = new FakeStarter();
    const retry = await retryRun({ ...deps, starter }, failed.runId, 'cli:op');
    expect(retry).toMatchObject({
      started: true,
      checkoutRequired: false,
      executionName: `${failed.runId}-v3-retry-1`,
    });
    expect(starter.names).toEqual([`${failed.runId}-v3-retry-1`]);
    // Asking again starts nothing new.
    expect((await retryRun({ ...deps, starter }, failed.runId, 'cli:op')).alreadyStarted).toBe(true);
    expect(starter.names).toEqual([`${failed.runId}-v3-retry-1`]);

    // While it rebuilds, version 2 is what the visitor has.
    const reopened = await get(failed.runId);
    expect(reopened).toMatchObject({
      phase: 'authorized',
      retries: 1,
      revision: { number: 3, baseVersion: 2 },
    });
    expect(reopened.versions).toEqual(failed.versions);
    const pub = toPublicRun(reopened);
    expect(pub.version).toBe(2);
    expect(pub.artifacts.map((a) => a.artifact_id)).toEqual(['linux-amd64-v2']);

    // The retry execution: attempts continue (6, 7 …); its first attempt starts from v2's commit.
    const s0 = await prepareBranch(deps, BuildStateSchema.parse({ runId: failed.runId }));
    expect(s0).toEqual({ runId: failed.runId, attempt: 5, maxAttempts: 8 });
    const s1 = await assignWorker(deps, s0);
    expect(s1.attempt).toBe(6);
    expect(
      WorkerAssignmentSchema.parse(artifacts.json('staging', keys.assignment(failed.runId, 6))).revision,
    ).toEqual({
      version: 3,
      baseVersion: 2,
      baseCommit: V2,
      baseFeatures: reopened.spec?.features,
      basePlatforms: reopened.spec?.platforms,
      baseArtifactType: 'binary',
    });
    // Its repairs continue from their own work (no base commit), as within any build of a change.
    putCandidate(failed.runId, 6);
    verifyOutcome = 'fail';
    const verified = await verifyArtifacts(deps, s1);
    await assignWorker(deps, verified);
    const repair = WorkerAssignmentSchema.parse(artifacts.json('staging', keys.assignment(failed.runId, 7)));
    expect(repair.revision).toMatchObject({ version: 3, baseVersion: 2 });
    expect(repair.revision?.baseCommit).toBeUndefined();
  });
});
