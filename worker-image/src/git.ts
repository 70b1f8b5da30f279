import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { BRANCH_PATTERN } from '../../lib/domain/branch.ts';
import { isRunId } from '../../lib/domain/ids.ts';

/**
 * Worker-side git: clone a build branch, commit the work, push it back.
 *
 * isomorphic-git's clone/fetch/push speak only the smart-HTTP transport (its remote helper table
 * holds `http` and `https`), so they cannot reach a bare repository by local path, as the worker
 * does locally (data dir) and on AWS (EFS mount). The worker is a container, not a Lambda, and has
 * the `git` binary, so this module shells out to it — with `execFile` (no shell) and a fixed
 * argument vector. The orchestrator's ref management stays on isomorphic-git (`lib/aws/repo-store.ts`).
 *
 * The clone directory is written by the coder, which may be a model or an external agent, so the
 * repository's own config is not trusted for anything that runs code or redirects a push: hooks
 * and fsmonitor are disabled on every command, and the push goes to the remote URL and branch
 * recorded at clone time in the caller, not to whatever `origin` says afterwards.
 *
 * With a separate git directory (`gitDir`; the worker uses one when untrusted commands run as
 * another user, see command-user.ts) the clone keeps its repository outside the worktree and the
 * worktree has no `.git` at all: every later command names `--git-dir` and `--work-tree`
 * explicitly, so git reads no config, hooks or index from anything the coder or the commands
 * wrote, and its "dubious ownership" check (a worktree owned by another uid) does not apply —
 * that check guards repository discovery, which an explicit `--git-dir` skips.
 */

export interface GitAuthor {
  name: string;
  email: string;
}

export class GitCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | string | null,
    readonly stderr: string,
  ) {
    super(`git ${args[0] ?? ''} failed (exit ${String(exitCode)})`);
    this.name = 'GitCommandError';
  }
}

/** Config forced on every command; `-c` on the command line wins over the repository's config. */
const SAFE_CONFIG = [
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'core.fsmonitor=false',
  '-c',
  'commit.gpgsign=false',
];

function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    ...extra,
  };
  // Credentials for an HTTPS remote, if configured, are passed through explicitly.
  for (const name of ['GIT_ASKPASS', 'GIT_SSL_CAINFO', 'HTTPS_PROXY', 'NO_PROXY']) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return env;
}

/** `--git-dir`/`--work-tree` for a worktree whose repository is kept apart (or nothing). */
function repoArgs(dir: string, gitDir: string | undefined): string[] {
  return gitDir ? [`--git-dir=${gitDir}`, `--work-tree=${dir}`] : [];
}

export async function runGit(
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; gitDir?: string } = {},
): Promise<string> {
  const repo = opts.gitDir && opts.cwd ? repoArgs(opts.cwd, opts.gitDir) : [];
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...SAFE_CONFIG, ...repo, ...args],
      {
        cwd: opts.cwd,
        env: gitEnv(opts.env),
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) {
          const code = (error as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
          reject(new GitCommandError(args, code, String(stderr)));
          return;
        }
        resolve(String(stdout));
      },
    );
  });
}

function assertBranch(branch: string): void {
  if (!BRANCH_PATTERN.test(branch)) throw new Error('invalid build branch name');
}

function assertAuthor(author: GitAuthor): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  const bad = /[<>\u0000-\u001f\u007f]/;
  if (!author.name.trim() || bad.test(author.name) || bad.test(author.email) || !author.email.includes('@')) {
    throw new Error('invalid git author');
  }
}

export interface CloneResult {
  dir: string;
  branch: string;
  commit: string;
}

/**
 * Clones exactly one build branch into `dir` (which must not exist or be empty). `url` is a local
 * path to the bare repository or an HTTPS remote; `bareDir` is an alias for the local case.
 */
export async function cloneBranch(opts: {
  url?: string;
  bareDir?: string;
  branch: string;
  dir: string;
  /** Keep the repository here instead of `dir/.git` (which is then not created at all). */
  gitDir?: string;
}): Promise<CloneResult> {
  assertBranch(opts.branch);
  const url = opts.url ?? opts.bareDir;
  if (!url) throw new Error('cloneBranch needs url or bareDir');
  await runGit([
    'clone',
    '--quiet',
    '--no-hardlinks',
    '--no-tags',
    '--single-branch',
    '--branch',
    opts.branch,
    ...(opts.gitDir ? [`--separate-git-dir=${opts.gitDir}`] : []),
    '--',
    url,
    opts.dir,
  ]);
  // --separate-git-dir leaves a `.git` file pointing at the repository; the worktree keeps none.
  if (opts.gitDir) await rm(path.join(opts.dir, '.git'), { force: true });
  const commit = (await runGit(['rev-parse', 'HEAD'], { cwd: opts.dir, gitDir: opts.gitDir })).trim();
  return { dir: opts.dir, branch: opts.branch, commit };
}

/**
 * Makes the clone's work tree and index exactly the tree of `commit` (an ancestor on the branch:
 * a delivered version), keeping HEAD at the branch tip, so the next commit on the branch says
 * "this version starts from that one" without rewriting history. Throws when the commit is not
 * on the branch.
 */
export async function restoreTree(opts: { dir: string; gitDir?: string; commit: string }): Promise<void> {
  if (!/^[0-9a-f]{40}$/.test(opts.commit)) throw new Error('invalid commit');
  const at = { cwd: opts.dir, gitDir: opts.gitDir };
  await runGit(['merge-base', '--is-ancestor', opts.commit, 'HEAD'], at);
  await runGit(['read-tree', '--reset', '-u', opts.commit], at);
}

export interface CommitPushResult {
  /** False when the working tree had no changes; nothing was committed or pushed. */
  committed: boolean;
  commit: string;
  branch: string;
}

/**
 * Stages everything (respecting `.gitignore`, so `dist/` stays out), commits with the given
 * author/committer and pushes the commit to the build branch. The push is never forced: if the
 * branch moved under the worker, it fails instead of overwriting.
 *
 * `branch` and `url` default to the clone's current branch and `origin`; pass the values from
 * `cloneBranch` to avoid trusting a config the coder could have edited.
 */
export async function commitAndPush(opts: {
  dir: string;
  message: string;
  author: GitAuthor;
  branch?: string;
  url?: string;
  /** The clone's separate git directory (`cloneBranch({ gitDir })`). */
  gitDir?: string;
  /** Push only while this repository lease is the attempt's (atomic with the lease's next commit). */
  lease?: RepoLease;
}): Promise<CommitPushResult> {
  assertAuthor(opts.author);
  if (!opts.message.trim()) throw new Error('commit message is empty');
  const at = { cwd: opts.dir, gitDir: opts.gitDir };
  const branch = opts.branch ?? (await runGit(['symbolic-ref', '--short', 'HEAD'], at)).trim();
  assertBranch(branch);

  await runGit(['add', '--all'], at);
  // Never descend into a nested repository the coder or a command may have created.
  const status = await runGit(['status', '--porcelain', '--ignore-submodules=all'], at);
  if (status.trim() === '') {
    const commit = (await runGit(['rev-parse', 'HEAD'], at)).trim();
    return { committed: false, commit, branch };
  }
  await runGit(['commit', '--quiet', '--no-verify', '-m', opts.message], {
    ...at,
    env: {
      GIT_AUTHOR_NAME: opts.author.name,
      GIT_AUTHOR_EMAIL: opts.author.email,
      GIT_COMMITTER_NAME: opts.author.name,
      GIT_COMMITTER_EMAIL: opts.author.email,
    },
  });
  const commit = (await runGit(['rev-parse', 'HEAD'], at)).trim();
  const remote = opts.url ?? 'origin';
  if (opts.lease) {
    // One atomic push: the branch moves only if the repository lease is still this attempt's.
    const next = await leaseCommit(opts.dir, opts.gitDir, `push ${opts.lease.holder}`);
    await runGit(
      [
        'push',
        '--quiet',
        '--no-verify',
        '--atomic',
        `--force-with-lease=${opts.lease.ref}:${opts.lease.token}`,
        '--',
        remote,
        `HEAD:refs/heads/${branch}`,
        `${next}:${opts.lease.ref}`,
      ],
      at,
    ).catch((err: unknown) => {
      if (err instanceof GitCommandError && /stale info|rejected/.test(err.stderr))
        throw new StaleRepoLeaseError(err);
      throw err;
    });
    opts.lease.token = next;
  } else {
    await runGit(['push', '--quiet', '--no-verify', '--', remote, `HEAD:refs/heads/${branch}`], at);
  }
  return { committed: true, commit, branch };
}

/**
 * The repository side of "one worker per attempt": a fencing ref per run,
 * `refs/busdk/leases/<run_id>`. A worker whose attempt is current takes it right after its clone
 * (compare-and-swap from whatever it pointed at to a fresh commit object naming the attempt), and
 * every push of the build branch is one atomic push together with the next lease commit,
 * conditional on the lease still being the one this worker took (`--force-with-lease`; the
 * receiving side checks the old value under its ref lock). A later attempt that took the lease
 * therefore makes every push of an older attempt fail as a whole: the branch never moves for a
 * stale worker, whatever its own clock or checks said.
 */
export interface RepoLease {
  ref: string;
  /** The lease commit this worker last wrote; the next push expects it. */
  token: string;
  /** `run <run_id> attempt <n> worker <id>` (recorded in the lease commits). */
  holder: string;
}

export class StaleRepoLeaseError extends Error {
  constructor(readonly gitError: GitCommandError) {
    super('the repository lease is held by a newer attempt');
    this.name = 'StaleRepoLeaseError';
  }
}

export const repoLeaseRef = (runId: string) => {
  if (!isRunId(runId)) throw new Error('invalid run id');
  return `refs/busdk/leases/${runId}`;
};

/** A parentless commit of HEAD's tree naming the lease holder (objects the remote mostly has). */
async function leaseCommit(dir: string, gitDir: string | undefined, message: string): Promise<string> {
  const at = { cwd: dir, gitDir };
  const stamp = `${message} at ${new Date().toISOString()} ${process.pid}`;
  return (
    await runGit(['commit-tree', 'HEAD^{tree}', '-m', stamp], {
      ...at,
      env: {
        GIT_AUTHOR_NAME: 'BusDK Lease',
        GIT_AUTHOR_EMAIL: 'lease@busdk.invalid',
        GIT_COMMITTER_NAME: 'BusDK Lease',
        GIT_COMMITTER_EMAIL: 'lease@busdk.invalid',
      },
    })
  ).trim();
}

/** Takes the run's repository lease for this attempt (see `RepoLease`); call it after the clone. */
export async function takeRepoLease(opts: {
  dir: string;
  gitDir?: string;
  url: string;
  runId: string;
  holder: string;
}): Promise<RepoLease> {
  const ref = repoLeaseRef(opts.runId);
  const at = { cwd: opts.dir, gitDir: opts.gitDir };
  const listed = (await runGit(['ls-remote', '--', opts.url, ref], at)).trim();
  const current = listed.split(/\s+/)[0] ?? '';
  const token = await leaseCommit(opts.dir, opts.gitDir, `lease ${opts.holder}`);
  await runGit(
    [
      'push',
      '--quiet',
      '--no-verify',
      `--force-with-lease=${ref}:${current}`,
      '--',
      opts.url,
      `${token}:${ref}`,
    ],
    at,
  );
  return { ref, token, holder: opts.holder };
}
