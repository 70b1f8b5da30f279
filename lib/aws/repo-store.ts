import fs from 'node:fs';
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import git from 'isomorphic-git';
import { BRANCH_PATTERN, branchName } from '../domain/branch.ts';
import { TERMINAL_PHASES } from '../domain/phases.ts';
import type { BuildRun } from '../domain/run.ts';
import { withRepoLock } from './repo-lock.ts';
import { snapshotTemplate, writeSnapshot } from './repo-tree.ts';

/** The stable id of the template repository (stored on each run as `repoId`). */
export const TEMPLATE_REPO_ID = 'template';
/** Lightweight tag every build branch starts from; it moves only when the template changes. */
export const BASE_TAG = 'template-base';
export const BASE_REF = `refs/tags/${BASE_TAG}`;
/** History of template snapshots: each change is one commit on `main`, parent = previous. */
export const MAIN_REF = 'refs/heads/main';
const BUILD_REF_PREFIX = 'refs/heads/';
export const TEMPLATE_AUTHOR = { name: 'BusDK Template', email: 'template@busdk.invalid' } as const;
/** Default age, in days after a run ended, after which its build branch is pruned. */
export const DEFAULT_PRUNE_AFTER_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Where the local stack keeps the template's bare repository under its data dir. */
export function templateBareDir(dataDir: string): string {
  return join(dataDir, 'repos', 'template.git');
}

export class RepoNotInitializedError extends Error {
  constructor() {
    super('the template repository has no base ref; run initTemplateRepository first');
    this.name = 'RepoNotInitializedError';
  }
}

export interface RepoStoreOptions {
  /** Path of the bare repository (local data dir, or the EFS mount on AWS). */
  bareDir: string;
  repoId?: string;
  /** Clock for template commit timestamps (tests). */
  now?: () => Date;
}

export interface TemplateInitResult {
  repoId: string;
  /** Full ref name of the base tag, e.g. `refs/tags/template-base`. */
  baseRef: string;
  baseCommit: string;
  /** Id of the template's root tree: the content hash compared across restarts. */
  tree: string;
  /** True when the base tag was created or moved by this call. */
  changed: boolean;
}

export interface EnsuredBranch {
  repoId: string;
  branch: string;
  commit: string;
  /** False when the branch already existed; it is returned as is and never moved. */
  created: boolean;
}

export interface BuildBranch {
  branch: string;
  runId: string;
  commit: string;
}

/** What pruning needs to know about a run. */
export type PrunableRun = Pick<BuildRun, 'runId' | 'createdAt' | 'phase'> & { endedAt?: string | undefined };

export interface PrunedBranch {
  runId: string;
  branch: string;
  commit: string;
}

type RefRun = Pick<BuildRun, 'runId' | 'createdAt'>;

function validatedBranch(run: RefRun): string {
  // branchName validates the run id and the date; the pattern check is the last gate before refs.
  const branch = branchName(run.runId, run.createdAt);
  if (!BRANCH_PATTERN.test(branch)) throw new Error('invalid branch name');
  return branch;
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: string } | undefined)?.code === 'NotFoundError';
}

/**
 * The template repository and its build branches, operated on a bare repository with
 * isomorphic-git (pure JavaScript, no `git` binary needed, so it runs in Lambda over EFS and in the
 * local process alike). Only the orchestrator writes refs here; the worker clones a build branch
 * and pushes back to it with the git CLI (`worker-image/src/git.ts`).
 *
 * Ref names come only from a validated run id and the run's creation date (`branchName`); no text
 * a visitor typed reaches a ref name or a path.
 */
export class RepoStore {
  readonly bareDir: string;
  readonly repoId: string;
  private readonly now: () => Date;

  constructor(opts: RepoStoreOptions) {
    this.bareDir = opts.bareDir;
    this.repoId = opts.repoId ?? TEMPLATE_REPO_ID;
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * Turns the template folder into (or updates) the bare repository. Idempotent across restarts:
   * the template's tree id is its content hash; when it equals the tree of `main`, nothing is
   * written and the base tag does not move. When the template changed, the new tree is committed on
   * `main` (parent = the previous snapshot) and the base tag moves to it. Existing build branches
   * keep pointing at the commit they were created from.
   */
  async initTemplate(opts: { templateDir: string; message?: string }): Promise<TemplateInitResult> {
    const templateInfo = await stat(opts.templateDir).catch(() => undefined);
    if (!templateInfo?.isDirectory()) throw new Error('template folder not found');
    await mkdir(this.bareDir, { recursive: true });
    return withRepoLock(this.bareDir, async () => {
      if (!(await this.isInitialized())) {
        await git.init({ fs, gitdir: this.bareDir, bare: true, defaultBranch: 'main' });
      }
      const snapshot = await snapshotTemplate(opts.templateDir, this.bareDir);
      if (snapshot.entries.length === 0) throw new Error('template folder has no files to commit');

      const head = await this.resolve(MAIN_REF);
      let commit = head;
      if (
        !head ||
        (await git.readCommit({ fs, gitdir: this.bareDir, oid: head })).commit.tree !== snapshot.oid
      ) {
        const tree = await writeSnapshot(this.bareDir, snapshot);
        const date = this.now();
        const signature = {
          ...TEMPLATE_AUTHOR,
          timestamp: Math.floor(date.getTime() / 1000),
          timezoneOffset: 0,
        };
        commit = await git.writeCommit({
          fs,
          gitdir: this.bareDir,
          commit: {
            message: `${opts.message ?? 'Template snapshot'}\n\nTree: ${tree}\n`,
            tree,
            parent: head ? [head] : [],
            author: signature,
            committer: signature,
          },
        });
        await git.writeRef({ fs, gitdir: this.bareDir, ref: MAIN_REF, value: commit, force: true });
      }
      if (!commit) throw new Error('template commit missing');
      const tagged = await this.resolve(BASE_REF);
      if (tagged !== commit) {
        await git.writeRef({ fs, gitdir: this.bareDir, ref: BASE_REF, value: commit, force: true });
      }
      return {
        repoId: this.repoId,
        baseRef: BASE_REF,
        baseCommit: commit,
        tree: snapshot.oid,
        changed: tagged !== commit,
      };
    });
  }

  /** The commit new build branches start from. */
  async baseCommit(): Promise<string> {
    const commit = await this.resolve(BASE_REF);
    if (!commit) throw new RepoNotInitializedError();
    return commit;
  }

  /**
   * Creates `build/{YYYYMMDD}/{run_id}` at the base commit. Idempotent: when the branch exists it
   * is returned with its current commit and not moved (the worker may already have pushed to it).
   * Concurrent calls for one run create one branch: exactly one of them reports `created: true`.
   */
  async ensureBranch(run: RefRun): Promise<EnsuredBranch> {
    const branch = validatedBranch(run);
    const ref = BUILD_REF_PREFIX + branch;
    return withRepoLock(this.bareDir, async () => {
      const existing = await this.resolve(ref);
      if (existing) return { repoId: this.repoId, branch, commit: existing, created: false };
      const commit = await this.baseCommit();
      await git.writeRef({ fs, gitdir: this.bareDir, ref, value: commit, force: false });
      return { repoId: this.repoId, branch, commit, created: true };
    });
  }

  /** Current commit of a run's build branch, or undefined when it does not exist. */
  async branchCommit(run: RefRun): Promise<string | undefined> {
    return this.resolve(BUILD_REF_PREFIX + validatedBranch(run));
  }

  /** All build branches (`build/{YYYYMMDD}/{run_id}`), sorted by name; other branches are ignored. */
  async listBuildBranches(): Promise<BuildBranch[]> {
    if (!(await this.isInitialized())) return [];
    const names = await git.listBranches({ fs, gitdir: this.bareDir });
    const out: BuildBranch[] = [];
    for (const branch of names.filter((name) => BRANCH_PATTERN.test(name)).sort()) {
      const commit = await this.resolve(BUILD_REF_PREFIX + branch);
      if (commit) out.push({ branch, runId: branch.slice(branch.lastIndexOf('/') + 1), commit });
    }
    return out;
  }

  /**
   * Branch retention policy: the build branch of a run is removed once the run has ENDED (phase
   * `delivered` or `failed`, with `endedAt`) more than `olderThanDays` days ago — 30 days by
   * default (`DEFAULT_PRUNE_AFTER_DAYS`). Runs still live, ended recently, or without `endedAt`
   * keep their branch. Only refs under `refs/heads/build/` whose name matches `BRANCH_PATTERN` are
   * ever deleted; `main` and the base tag are never touched.
   *
   * Pruning deletes the git ref only. The run's internal evidence in S3 (the evidence bucket's
   * per-run prefix: worker logs, verification reports, manifests) and its verified artifacts are
   * retained and governed by their own bucket lifecycle rules, so a pruned run stays auditable.
   * Objects no longer reachable from any ref are left for `git gc` to collect.
   *
   * A failed run that an operator reopens after its branch was pruned gets a fresh branch from the
   * current base on its next `ensureBranch`.
   */
  async pruneBranches(opts: {
    runs: readonly PrunableRun[];
    olderThanDays?: number;
    now?: Date;
    /** List what the policy selects (branches that exist) without deleting anything. */
    dryRun?: boolean;
  }): Promise<PrunedBranch[]> {
    const days = opts.olderThanDays ?? DEFAULT_PRUNE_AFTER_DAYS;
    if (!Number.isFinite(days) || days < 0) throw new Error('olderThanDays must be a non-negative number');
    const cutoff = (opts.now ?? new Date()).getTime() - days * DAY_MS;
    const candidates: { runId: string; branch: string }[] = [];
    for (const run of opts.runs) {
      if (!TERMINAL_PHASES.includes(run.phase) || !run.endedAt) continue;
      const ended = Date.parse(run.endedAt);
      if (Number.isNaN(ended) || ended >= cutoff) continue;
      candidates.push({ runId: run.runId, branch: validatedBranch(run) });
    }
    if (candidates.length === 0 || !(await this.isInitialized())) return [];
    if (opts.dryRun) {
      const selected: PrunedBranch[] = [];
      for (const { runId, branch } of candidates) {
        const commit = await this.resolve(BUILD_REF_PREFIX + branch);
        if (commit) selected.push({ runId, branch, commit });
      }
      return selected;
    }
    return withRepoLock(this.bareDir, async () => {
      const removed: PrunedBranch[] = [];
      for (const { runId, branch } of candidates) {
        const ref = BUILD_REF_PREFIX + branch;
        const commit = await this.resolve(ref);
        if (!commit) continue;
        await git.deleteRef({ fs, gitdir: this.bareDir, ref });
        await this.removeEmptyRefDirs(ref);
        removed.push({ runId, branch, commit });
      }
      return removed;
    });
  }

  private async isInitialized(): Promise<boolean> {
    return (await stat(join(this.bareDir, 'HEAD')).catch(() => undefined))?.isFile() ?? false;
  }

  private async resolve(ref: string): Promise<string | undefined> {
    try {
      return await git.resolveRef({ fs, gitdir: this.bareDir, ref });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Removes `refs/heads/build/{date}` (and `build`) once empty, so the ref tree does not grow. */
  private async removeEmptyRefDirs(ref: string): Promise<void> {
    const stop = join(this.bareDir, 'refs', 'heads');
    let dir = dirname(join(this.bareDir, ref));
    while (dir.startsWith(stop) && dir !== stop) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty (or already gone): keep it
      }
      dir = dirname(dir);
    }
  }
}

/** Convenience wrapper used at start-up: `new RepoStore({ bareDir, repoId }).initTemplate(...)`. */
export async function initTemplateRepository(opts: {
  templateDir: string;
  bareDir: string;
  repoId?: string;
  message?: string;
}): Promise<TemplateInitResult> {
  const store = new RepoStore({ bareDir: opts.bareDir, repoId: opts.repoId });
  return store.initTemplate({ templateDir: opts.templateDir, message: opts.message });
}
