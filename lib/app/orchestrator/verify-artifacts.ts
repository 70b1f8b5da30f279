import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { keys } from '../../aws/keys.ts';
import { checksFor } from '../../domain/acceptance.ts';
import { newEvent } from '../../domain/events.ts';
import { transition, update } from '../../domain/lifecycle.ts';
import type { ArtifactManifest, ManifestEntry } from '../../domain/manifest.ts';
import type { BuildRun, VerificationResult } from '../../domain/run.ts';
import {
  type AcceptanceOptions,
  DEFAULT_VERIFY_LIMITS,
  PUBLIC_SUMMARIES,
  parseManifest,
  type VerificationReport,
  verifyCandidate,
} from '../../verify/index.ts';
import type { VerifyArtifactsDeps } from './deps.ts';
import type { AcceptanceRunners, ArtifactStore, DownloadLimits, DownloadResult } from './ports.ts';
import { recordedWorkerFailure, saveWorkerFailure, workerFailureState } from './record-worker-failure.ts';
import { commit, loadTaskRun, TaskStateError } from './run-ops.ts';
import { type BuildState, clip } from './state.ts';
import { classifyWorkerFailure, readWorkerResult, type WorkerResult } from './worker-result.ts';

/** The manifest's path inside a candidate (the worker uploads `dist/`'s content). */
export const CANDIDATE_MANIFEST = 'artifact-manifest.json';

export const DEFAULT_DOWNLOAD_LIMITS: DownloadLimits = {
  maxFiles: DEFAULT_VERIFY_LIMITS.maxFileCount + 1,
  maxBytes: DEFAULT_VERIFY_LIMITS.maxTotalBytes,
};

/** The full internal verification record written to the evidence bucket. */
export interface VerificationEvidence extends Omit<VerificationReport, 'acceptance'> {
  runId: string;
  attempt: number;
  at: string;
  download: { files: number; bytes: number; rejected: string[]; overLimit: boolean };
  /** Every acceptance check's outcome (with its internal detail) and where the screenshots are. */
  acceptance?: {
    outcomes: NonNullable<VerificationReport['acceptance']>['outcomes'];
    screenshots: Array<{ artifactId: string; key: string; bytes: number }>;
  };
}

/** The approved checks that apply, bound to this run's runners (none: a spec from before checks). */
function acceptanceFor(
  run: BuildRun,
  artifactType: NonNullable<BuildRun['artifactType']>,
  attempt: number,
  runners: AcceptanceRunners | undefined,
): AcceptanceOptions | undefined {
  const checks = checksFor(run.spec?.checks ?? [], artifactType);
  if (checks.length === 0) return undefined;
  const runId = run.runId;
  return {
    checks,
    ...(runners && {
      runCli: (entry, file, cli) => runners.cli({ runId, attempt, entry, path: file, checks: cli }),
      runWeb: (entry, dir, web, o) =>
        runners.web({ runId, attempt, entry, path: dir, checks: web, screenshot: o.screenshot }),
    }),
  };
}

/** Stores each web check screenshot in the evidence bucket; returns where. */
async function saveScreenshots(
  artifacts: ArtifactStore,
  scratch: string,
  runId: string,
  attempt: number,
  shots: NonNullable<VerificationReport['acceptance']>['screenshots'],
): Promise<Array<{ artifactId: string; key: string; bytes: number }>> {
  const out: Array<{ artifactId: string; key: string; bytes: number }> = [];
  for (const shot of shots) {
    const key = keys.checkScreenshot(runId, attempt, shot.artifactId);
    const file = path.join(scratch, `screenshot-${shot.artifactId}.png`);
    await writeFile(file, shot.png);
    await artifacts.putFile('evidence', key, file, {
      contentType: 'image/png',
      sha256: createHash('sha256').update(shot.png).digest('hex'),
      size: shot.png.length,
    });
    out.push({ artifactId: shot.artifactId, key, bytes: shot.png.length });
  }
  return out;
}

function stateFromRecord(state: BuildState, v: VerificationResult): BuildState {
  const base = {
    runId: state.runId,
    attempt: state.attempt,
    maxAttempts: state.maxAttempts,
    ...(state.infraRetries !== undefined && { infraRetries: state.infraRetries }),
  };
  if (v.passed) return { ...base, passed: true, repairable: false };
  return {
    ...base,
    passed: false,
    repairable: true,
    lastFailure: clip(v.internalReason ?? 'verification failed'),
    failureCode: 'verification_failed',
  };
}

function failedReport(name: string, problems: string[]): VerificationReport {
  const detail = problems.join('; ');
  return {
    passed: false,
    checks: [{ name, passed: false, detail }],
    internalReason: clip(`${name}: ${detail}`),
    publicSummary: PUBLIC_SUMMARIES.files,
    artifacts: [],
  };
}

/** The downloaded candidate manifest, read and parsed once; undefined when missing or invalid. */
async function readCandidateManifest(file: string): Promise<ArtifactManifest | undefined> {
  try {
    const parsed = parseManifest(await readFile(file, 'utf8'));
    return parsed.ok ? parsed.manifest : undefined;
  } catch {
    return undefined;
  }
}

/** Ties the candidate to this run: a manifest naming another run fails. */
function runIdProblem(manifest: ArtifactManifest | undefined, runId: string): string | undefined {
  if (manifest?.run_id !== undefined && manifest.run_id !== runId) {
    return 'the manifest names another build run';
  }
  return undefined;
}

/**
 * VerifyArtifacts: the gate between a worker's candidate and anything a customer sees.
 * `worker_running → artifact_pending` (events `artifact.submitted` + progress `verifying`), then the
 * candidate prefix is downloaded to a fresh scratch directory and verified; the full report goes to
 * the evidence bucket and a summary onto the run. Idempotent per attempt: a recorded result is
 * returned as is. A worker that reported failure (result `ok: false`) is handled like
 * RecordWorkerFailure (no verification, no phase change).
 */
export async function verifyArtifacts(deps: VerifyArtifactsDeps, state: BuildState): Promise<BuildState> {
  const attempt = state.attempt;
  if (attempt < 1) throw new TaskStateError('VerifyArtifacts needs an attempt');
  let run = await loadTaskRun(deps, state.runId);
  if (run.attempts !== attempt) {
    throw new TaskStateError(`the run is at attempt ${run.attempts}, the execution at ${attempt}`);
  }
  const recorded = run.verification.find((v) => v.attempt === attempt);
  if (recorded) {
    const workerFailure = recordedWorkerFailure(recorded);
    if (workerFailure) return workerFailureState(state, workerFailure, deps.infraRetry);
    if (run.phase === 'artifact_pending' || run.phase === 'artifact_ready' || run.phase === 'delivered') {
      return stateFromRecord(state, recorded);
    }
  }
  if (run.phase !== 'worker_running' && run.phase !== 'artifact_pending') {
    throw new TaskStateError(`VerifyArtifacts cannot run in phase ${run.phase}`);
  }
  const artifactType = run.spec?.artifactType ?? run.artifactType;
  if (!artifactType) throw new TaskStateError('the run has no artifact type');

  // The worker's result: a reported failure ends here; its render evidence may stand in for a
  // render check this runner cannot do (`smoke.renderEvidence: 'worker'`).
  const evidenceMode = deps.verifySettings?.smoke?.renderEvidence ?? 'none';
  let result: WorkerResult | undefined;
  if (run.phase === 'worker_running' || evidenceMode === 'worker') {
    result = await readWorkerResult(deps.artifacts, run.runId, attempt, run.workerId);
  }
  if (run.phase === 'worker_running') {
    if (result && !result.ok) {
      const failure = classifyWorkerFailure(result, undefined);
      await saveWorkerFailure(deps, run, attempt, failure, result);
      return workerFailureState(state, failure, deps.infraRetry);
    }
  }

  const scratch = await mkdtemp(path.join(deps.tempDir ?? tmpdir(), 'verify-'));
  try {
    const root = path.join(scratch, 'candidate');
    const download: DownloadResult = await deps.artifacts.downloadPrefix(
      'staging',
      keys.candidatePrefix(run.runId, attempt),
      root,
      deps.downloadLimits ?? DEFAULT_DOWNLOAD_LIMITS,
    );
    const candidate = await readCandidateManifest(path.join(root, CANDIDATE_MANIFEST));

    if (run.phase === 'worker_running') {
      const next = transition(run, 'artifact_pending', {}, deps.now());
      run = await commit(deps, run, next, [
        newEvent('bus.build.artifact.submitted', {
          attempt,
          artifactCount: candidate?.artifacts.length ?? 0,
          manifestKey: keys.candidate(run.runId, attempt, CANDIDATE_MANIFEST),
        }),
        newEvent('bus.build.progress.updated', { stage: 'verifying' }),
      ]);
    }

    let report: VerificationReport;
    if (download.rejected.length > 0) {
      report = failedReport('paths.keys', [
        `${download.rejected.length} candidate object key(s) are not safe relative paths`,
      ]);
    } else if (download.overLimit) {
      report = failedReport('limits', [
        `the candidate exceeds ${download.files} files or ${download.bytes} bytes while downloading`,
      ]);
    } else if (download.files === 0) {
      report = failedReport('files.present', ['the worker uploaded no candidate files']);
    } else {
      const verify = deps.verify ?? verifyCandidate;
      const smoke = deps.verifySettings?.smoke;
      const remote = deps.remoteSmoke;
      const remoteRender = deps.remoteRender;
      const runId = run.runId;
      report = await verify({
        ...deps.verifySettings,
        smoke: {
          ...smoke,
          ...(evidenceMode === 'worker' && {
            renderEvidence: 'worker' as const,
            workerRenders: result?.render ?? [],
          }),
          // The remote smoke runs the staged object; it checks the bytes against the manifest
          // entry this verification has just checked against the downloaded copy.
          ...(remote && {
            runBinary: (entry: ManifestEntry) =>
              remote.run({
                key: keys.candidate(runId, attempt, entry.path),
                sha256: entry.sha256,
                sizeBytes: entry.size_bytes,
                timeoutMs: smoke?.binaryTimeoutMs,
                maxOutputBytes: smoke?.maxOutputBytes,
              }),
          }),
          ...(remoteRender && {
            runRender: (entry: ManifestEntry, dir: string) =>
              remoteRender.render({ runId, attempt, entry, path: dir }),
          }),
        },
        root,
        manifestPath: CANDIDATE_MANIFEST,
        expectedArtifactType: artifactType,
        acceptance: acceptanceFor(run, artifactType, attempt, deps.acceptanceRunners),
        forbiddenStrings: [
          ...(deps.verifySettings?.forbiddenStrings ?? []),
          ...(run.branch ? [run.branch] : []),
          run.taskRef,
        ],
      });
      if (report.passed) {
        const problem = runIdProblem(candidate, run.runId);
        if (problem) report = failedReport('manifest.run_id', [problem]);
      }
    }

    const at = deps.now();
    const evidenceKey = keys.verification(run.runId, attempt);
    const { acceptance, ...reportFields } = report;
    const screenshots = acceptance
      ? await saveScreenshots(deps.artifacts, scratch, run.runId, attempt, acceptance.screenshots)
      : [];
    const evidence: VerificationEvidence = {
      ...reportFields,
      ...(acceptance && { acceptance: { outcomes: acceptance.outcomes, screenshots } }),
      runId: run.runId,
      attempt,
      at,
      download: {
        files: download.files,
        bytes: download.bytes,
        rejected: download.rejected.slice(0, 20),
        overLimit: download.overLimit,
      },
    };
    await deps.artifacts.putJson('evidence', evidenceKey, evidence);

    const record: VerificationResult = {
      attempt,
      passed: report.passed,
      checks: report.checks.map((c) =>
        c.detail === undefined
          ? { name: c.name, passed: c.passed }
          : { name: c.name, passed: c.passed, detail: clip(c.detail, 1_000) },
      ),
      at,
    };
    if (acceptance) record.outcomes = acceptance.outcomes.map((o) => ({ ...o }));
    const shot = screenshots[0];
    if (shot) record.screenshot = { artifactId: shot.artifactId, key: shot.key };
    if (!report.passed) record.internalReason = clip(report.internalReason ?? 'verification failed');
    if (result?.commit) record.commit = result.commit; // the version's commit, if it is published
    const manifest: ArtifactManifest | undefined = report.passed
      ? { schema_version: 1, run_id: run.runId, artifacts: report.artifacts }
      : run.manifest;
    const next: BuildRun = update(
      run,
      {
        verification: [...run.verification.filter((v) => v.attempt !== attempt), record],
        evidence: [...run.evidence, { kind: 'verification', key: evidenceKey, at }],
        manifest,
      },
      at,
    );
    await commit(deps, run, next);
    return stateFromRecord(state, record);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
