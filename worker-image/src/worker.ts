import { lstat, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { keys } from '../../lib/aws/keys.ts';
import { attemptScratchPrefix, type WorkerAssignment } from '../../lib/domain/assignment.ts';
import type { WorkerLease } from '../../lib/domain/worker-lease.ts';
import { renderCheck } from '../../lib/verify/render-check.ts';
import { AssignmentError, fetchAssignment, manifestRelativePath } from './assignment.ts';
import type { Coder, CoderReport, CoderResult } from './coder/coder.ts';
import { failureReport } from './command-report.ts';
import {
  type CommandSandbox,
  endCommandUserProcesses,
  giveToCommandUser,
  prepareSandbox,
  sandboxEnv,
} from './command-user.ts';
import type { WorkerConfig } from './config.ts';
import {
  cloneBranch,
  commitAndPush,
  GitCommandError,
  type RepoLease,
  restoreTree,
  StaleRepoLeaseError,
  takeRepoLease,
} from './git.ts';
import { commandEnv, holdGoCacheTrim } from './go-env.ts';
import type { WorkerLog } from './log.ts';
import { implementingStage, type ProgressReporter } from './progress.ts';
import { renderWebArtifacts } from './render.ts';
import type { WorkerFailureCode, WorkerResult } from './result.ts';
import { describeFailure, runCommand } from './run-commands.ts';
import {
  CandidateRefusedError,
  clearCandidatePrefix,
  readRegularFile,
  s3Put,
  uploadCandidate,
} from './upload.ts';

export const WORKER_AUTHOR = { name: 'BusDK Worker', email: 'worker@busdk.invalid' } as const;
/** Time kept back from the hard deadline so a hung command still leaves room to report. */
const DEADLINE_RESERVE_MS = 15_000;
const MAX_REASON_CHARS = 6000;

export interface WorkerDeps {
  config: WorkerConfig;
  s3: S3Client;
  coder: Coder;
  progress: ProgressReporter;
  log: WorkerLog;
  /** Epoch ms of the hard deadline (main enforces it; commands get what is left). */
  deadline: number;
  /** True once the worker is being stopped (timeout or SIGTERM): no further steps start. */
  isStopping: () => boolean;
  /** Base environment for build/test commands (default: process.env, filtered). */
  env?: NodeJS.ProcessEnv;
  /** The render check (tests replace it); default `lib/verify/render-check.ts`. */
  renderCheck?: typeof renderCheck;
  /**
   * Why the attempt's lease is stale (a newer attempt, or the run ended), or undefined while it
   * is current (main.ts reads the run store). Checked before any effect: the start, the upload,
   * every push. Unset (tests): always current.
   */
  checkLease?: (lease: WorkerLease) => Promise<string | undefined>;
  /** Called once the lease is known (main.ts checks it again before writing the result). */
  onLease?: (lease: WorkerLease) => void;
}

/** A step failed in a known way; becomes the attempt's result. */
class StepFailure extends Error {
  constructor(
    readonly code: WorkerFailureCode,
    readonly reason: string,
    /** False: no repair attempt can fix it (the worker's environment is at fault). */
    readonly repairable = true,
  ) {
    super(reason);
  }
}

class Stopped extends Error {}

/** The attempt's lease is stale: it stops without pushing, uploading or reporting success. */
class StaleAttempt extends Error {}

/** Throws StaleAttempt when the lease is no longer current (an unreadable store: infrastructure). */
async function assertLease(deps: WorkerDeps, lease: WorkerLease, before: string): Promise<void> {
  if (!deps.checkLease) return;
  let reason: string | undefined;
  try {
    reason = await deps.checkLease(lease);
  } catch {
    throw new StepFailure('infrastructure', `the attempt lease could not be checked before ${before}`);
  }
  if (reason) throw new StaleAttempt(`stale attempt before ${before}: ${reason}`);
}

function clamp(text: string, max = MAX_REASON_CHARS): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Failures of the work itself: the repair attempt starts from that work, not from scratch. */
const KEPT_ON_FAILURE: ReadonlySet<WorkerFailureCode> = new Set([
  'coder_failed',
  'tests_failed',
  'build_failed',
]);

/**
 * Commits and pushes a failed attempt's worktree to the build branch: the next (repair) attempt
 * clones it and fixes the code instead of starting over, and the branch keeps every attempt as
 * internal evidence. Build outputs stay out (the template ignores `dist/`). Best effort: a push
 * that fails is logged and the attempt's own failure is what counts.
 */
async function keepFailedWork(
  deps: WorkerDeps,
  work: AttemptWork,
  code: WorkerFailureCode,
): Promise<string | undefined> {
  try {
    await assertLease(deps, work.lease, 'keeping the failed work');
    const pushed = await commitAndPush({
      dir: work.worktree,
      message: `Build attempt ${work.attempt} for ${deps.config.runId} (failed: ${code})\n\nCoder: ${deps.coder.name}\nKept for the repair attempt.\n`,
      author: WORKER_AUTHOR,
      branch: work.branch,
      url: deps.config.repoUrl,
      lease: work.repoLease,
      ...(work.gitDir && { gitDir: work.gitDir }),
    });
    deps.log.line(
      pushed.committed
        ? `worker: kept the failed attempt's work at ${pushed.commit}`
        : `worker: the failed attempt changed nothing (${pushed.commit})`,
    );
    return pushed.committed ? pushed.commit : undefined;
  } catch (err) {
    if (err instanceof GitCommandError) deps.log.block(err.stderr);
    if (err instanceof StaleAttempt || err instanceof StaleRepoLeaseError) {
      deps.log.line(`worker: ${err.message}; the failed attempt's work was not pushed`);
      return undefined;
    }
    deps.log.line("worker: the failed attempt's work could not be pushed");
    return undefined;
  }
}

interface AttemptWork {
  worktree: string;
  branch: string;
  attempt: number;
  gitDir?: string;
  lease: WorkerLease;
  repoLease: RepoLease;
}

/**
 * One attempt: assignment → clone → code → test → build → manifest check → upload → push.
 * Returns the result instead of throwing; `main.ts` writes it and sets the exit code.
 */
export async function runWorker(deps: WorkerDeps): Promise<WorkerResult> {
  const { config, log } = deps;
  let scratch: string | undefined;
  /** The model/command coder's account of the attempt (steps, tokens, budget), for result.json. */
  let coderReport: CoderReport | undefined;
  /** Set once the branch is cloned: where a failed attempt's work is kept for the repair. */
  let attemptWork: AttemptWork | undefined;
  let workerId: string | undefined;
  const checkpoint = () => {
    if (deps.isStopping()) throw new Stopped();
  };
  try {
    log.line(`worker: run ${config.runId} attempt ${config.attempt}, coder ${deps.coder.name}`);
    if (await holdGoCacheTrim(config.goCache, new Date(), config.commandUser)) {
      log.line('worker: go build cache trim postponed');
    }

    let assignment: WorkerAssignment;
    try {
      assignment = await fetchAssignment(deps.s3, config.stagingBucket, config.runId, config.attempt);
    } catch (err) {
      throw new StepFailure(
        'internal',
        err instanceof AssignmentError ? err.message : 'the assignment failed',
      );
    }
    const lease: WorkerLease = {
      runId: config.runId,
      attempt: config.attempt,
      workerId: assignment.workerId,
    };
    workerId = lease.workerId;
    deps.onLease?.(lease);
    await assertLease(deps, lease, 'the start');
    log.line(
      `worker: assignment ${assignment.taskRef} (${assignment.artifactType}, platforms ${
        assignment.platforms.join(' ') || 'default'
      }, attempt ${assignment.attempt}/${assignment.maxAttempts})`,
    );
    const manifestRel = manifestRelativePath(assignment.manifestPath);
    checkpoint();
    await deps.progress.post(
      implementingStage(assignment.artifactType),
      `attempt ${assignment.attempt}/${assignment.maxAttempts}, coder ${deps.coder.name}`,
    );

    // A fresh directory per attempt; the branch carries the earlier attempts' work (kept on failure).
    scratch = await mkdtemp(path.join(config.workDir, attemptScratchPrefix(config.runId, config.attempt)));
    const worktree = path.join(scratch, 'repo');
    // With COMMAND_USER the untrusted commands run as that user: they get the worktree, a HOME
    // and a TMPDIR; the repository (git directory) and everything else stay root's (command-user.ts).
    const user = config.commandUser;
    let sandbox: CommandSandbox | undefined;
    const gitDir = user ? path.join(scratch, 'git') : undefined;
    let baseCommit: string;
    try {
      if (user) sandbox = await prepareSandbox(scratch, user);
      baseCommit = (
        await cloneBranch({
          url: config.repoUrl,
          branch: assignment.branch,
          dir: worktree,
          ...(gitDir && { gitDir }),
        })
      ).commit;
      if (user) await giveToCommandUser(worktree, user);
    } catch (err) {
      if (err instanceof GitCommandError) log.block(err.stderr);
      throw new StepFailure('infrastructure', 'the build branch could not be cloned');
    }
    log.line(`worker: cloned the build branch at ${baseCommit}`);
    // The repository side of the lease: from here on, only this attempt can move the branch.
    await assertLease(deps, lease, 'taking the repository lease');
    let repoLease: RepoLease;
    try {
      repoLease = await takeRepoLease({
        dir: worktree,
        url: config.repoUrl,
        runId: config.runId,
        holder: `run ${config.runId} attempt ${config.attempt} worker ${lease.workerId}`,
        ...(gitDir && { gitDir }),
      });
    } catch (err) {
      if (err instanceof GitCommandError) log.block(err.stderr);
      throw new StepFailure('infrastructure', 'the repository lease could not be taken');
    }
    // A change to a delivered tool starts from that version's verified commit, not from whatever
    // later failed attempts left on the branch (repairs of the change continue from the tip).
    const revision = assignment.revision;
    if (revision?.baseCommit && revision.baseCommit !== baseCommit) {
      try {
        await restoreTree({ dir: worktree, commit: revision.baseCommit, ...(gitDir && { gitDir }) });
        if (user) await giveToCommandUser(worktree, user);
      } catch (err) {
        if (err instanceof GitCommandError) log.block(err.stderr);
        throw new StepFailure(
          'internal',
          `version ${revision.baseVersion}'s commit is not on the build branch`,
          false,
        );
      }
      log.line(
        `worker: version ${revision.version} starts from version ${revision.baseVersion} (${revision.baseCommit})`,
      );
    }
    if (user) log.line(`worker: commands run as uid ${user.uid} gid ${user.gid}`);
    attemptWork = {
      worktree,
      branch: assignment.branch,
      attempt: assignment.attempt,
      lease,
      repoLease,
      ...(gitDir && { gitDir }),
    };
    checkpoint();

    // The coder's own progress reaches the visitor only as validated feature numbers and stages.
    const channel = deps.coder.reportsProgress ? await deps.progress.openCoderChannel?.() : undefined;
    const coderInput = {
      worktree,
      spec: assignment.spec,
      attempt: assignment.attempt,
      log: (line: string) => log.line(`coder: ${line}`),
      ...(assignment.previousFailure ? { previousFailure: assignment.previousFailure } : {}),
      ...(revision && {
        revision: {
          version: revision.version,
          baseVersion: revision.baseVersion,
          baseFeatures: revision.baseFeatures,
          basePlatforms: revision.basePlatforms,
          baseArtifactType: revision.baseArtifactType,
          fromBase: Boolean(revision.baseCommit),
        },
      }),
      ...(sandbox && { sandbox }),
      ...(gitDir && { gitDir }),
      ...(channel && { progress: (r: Parameters<typeof channel.report>[0]) => channel.report(r) }),
    };
    const coded: CoderResult = await deps.coder
      .code(coderInput)
      .catch((err: unknown) => {
        log.line(`coder: crashed (${err instanceof Error ? err.message : String(err)})`);
        return { ok: false as const, code: 'coder_failed' as const, reason: 'the coder crashed' };
      })
      .finally(() => channel?.close());
    if (coded.report) coderReport = coded.report;
    if (!coded.ok) throw new StepFailure(coded.code, coded.reason);
    log.line(`coder: ${coded.summary}`);
    // Files the worker wrote as root (offline recipes) become the command user's; the coder's
    // commands have ended with all the user's processes (run-commands.ts), so the walk is stable.
    if (user) await giveToCommandUser(worktree, user);
    checkpoint();

    await deps.progress.post('building', `attempt ${assignment.attempt}/${assignment.maxAttempts}`);
    const env = sandboxEnv(commandEnv(assignment, deps.env), sandbox);
    const run = async (argv: readonly string[], failure: WorkerFailureCode) => {
      checkpoint();
      const timeoutMs = Math.max(1000, deps.deadline - Date.now() - DEADLINE_RESERVE_MS);
      const result = await runCommand(argv, {
        cwd: worktree,
        env,
        timeoutMs,
        log,
        ...(user && { user }),
      });
      checkpoint();
      if (!result.ok) {
        throw new StepFailure(
          failure,
          clamp(log.redact(failureReport(describeFailure(result), result.output, 4000))),
        );
      }
    };
    for (const argv of assignment.testCommands) await run(argv, 'tests_failed');
    for (const argv of assignment.buildCommands) await run(argv, 'build_failed');

    // Existence and shape only; the verification gate checks the manifest against the files.
    const manifestAbs = path.join(worktree, assignment.manifestPath);
    const manifestInfo = await lstat(manifestAbs).catch(() => undefined);
    if (!manifestInfo?.isFile()) {
      throw new StepFailure('build_failed', `the build did not write ${assignment.manifestPath}`);
    }
    let manifest: unknown;
    try {
      manifest = JSON.parse((await readRegularFile(manifestAbs)).toString('utf8'));
    } catch {
      throw new StepFailure('build_failed', `${assignment.manifestPath} is not valid JSON`);
    }
    const artifacts = (manifest as { artifacts?: unknown } | null)?.artifacts;
    if (!Array.isArray(artifacts) || artifacts.length === 0) {
      throw new StepFailure('build_failed', `${assignment.manifestPath} lists no artifacts`);
    }
    log.line(`worker: manifest lists ${artifacts.length} artifact(s)`);
    checkpoint();

    // Render check in headless Chromium where the worker image carries it (on AWS the
    // VerifyArtifacts Lambda has no browser): a web app that renders blank or throws fails the
    // attempt with the reason, which the repair loop hands to the next attempt. With
    // RENDER_CHECK=required a missing browser fails the attempt (not repairable). The records
    // (status + digest of the rendered files) go into result.json as the gate's render evidence.
    // With COMMAND_USER the browser runs as that user too (it executes the model's page), and
    // nothing it started outlives the render while the worker uploads the worktree.
    const render = await renderWebArtifacts(
      path.dirname(manifestAbs),
      artifacts,
      deps.renderCheck ?? renderCheck,
      {
        mode: config.renderCheck,
        ...(user && { runAs: user }),
      },
    );
    await endCommandUserProcesses(user);
    for (const line of render.log) log.line(`render: ${line}`);
    if (render.failure) {
      throw new StepFailure(render.failure.code, render.failure.reason, render.failure.repairable);
    }
    checkpoint();

    await assertLease(deps, lease, 'the upload');
    let uploaded: Awaited<ReturnType<typeof uploadCandidate>>;
    try {
      const prefix = keys.candidatePrefix(config.runId, config.attempt);
      const stale = await clearCandidatePrefix(deps.s3, config.stagingBucket, prefix);
      if (stale > 0) log.line(`upload: removed ${stale} object(s) left by an earlier run of this attempt`);
      uploaded = await uploadCandidate({
        worktree,
        runId: config.runId,
        attempt: config.attempt,
        manifestRel,
        put: s3Put(deps.s3, config.stagingBucket),
        log: (line) => log.line(`upload: ${line}`),
      });
    } catch (err) {
      if (err instanceof CandidateRefusedError) throw new StepFailure('build_failed', err.message);
      log.line(`upload: failed (${(err as { name?: string }).name ?? 'Error'})`);
      throw new StepFailure('infrastructure', 'the candidate could not be uploaded');
    }
    log.line(`worker: uploaded ${uploaded.files} files (${uploaded.bytes} bytes) to ${uploaded.prefix}`);
    checkpoint();

    await assertLease(deps, lease, 'the push');
    let commit: string;
    try {
      const pushed = await commitAndPush({
        dir: worktree,
        message: `Build attempt ${assignment.attempt} for ${config.runId}\n\nCoder: ${deps.coder.name}\n${coded.summary}\n`,
        author: WORKER_AUTHOR,
        branch: assignment.branch,
        url: config.repoUrl,
        lease: repoLease,
        ...(gitDir && { gitDir }),
      });
      commit = pushed.commit;
      log.line(pushed.committed ? `worker: pushed ${commit}` : `worker: no changes to commit (${commit})`);
    } catch (err) {
      if (err instanceof StaleRepoLeaseError)
        throw new StaleAttempt(`stale attempt at the push: ${err.message}`);
      if (err instanceof GitCommandError) log.block(err.stderr);
      throw new StepFailure('infrastructure', 'the work could not be pushed to the build branch');
    }
    return {
      ok: true,
      workerId: lease.workerId,
      summary: clamp(coded.summary, 1000),
      commit,
      ...(render.records.length > 0 && { render: render.records }),
      ...(coderReport && { coder: coderReport }),
    };
  } catch (err) {
    const who = workerId ? { workerId } : {};
    if (err instanceof Stopped)
      return { ok: false, code: 'internal', reason: 'the worker was stopped', ...who };
    if (err instanceof StaleAttempt) {
      log.line(`worker: ${err.message}; stopping without effect`);
      return { ok: false, code: 'stale_attempt', reason: clamp(err.message), ...who };
    }
    if (err instanceof StepFailure) {
      log.line(`worker: failed (${err.code})`);
      const kept =
        attemptWork && err.repairable && KEPT_ON_FAILURE.has(err.code) && !deps.isStopping()
          ? await keepFailedWork(deps, attemptWork, err.code)
          : undefined;
      return {
        ok: false,
        code: err.code,
        reason: clamp(log.redact(err.reason)),
        ...(!err.repairable && { repairable: false }),
        ...(kept && { commit: kept }),
        ...who,
        ...(coderReport && { coder: coderReport }),
      };
    }
    log.line(
      `worker: unexpected error (${err instanceof Error ? `${err.name}: ${err.message}` : String(err)})`,
    );
    return { ok: false, code: 'internal', reason: 'unexpected worker error', ...who };
  } finally {
    if (scratch && !deps.isStopping()) {
      await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
