import fs from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import git from 'isomorphic-git';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_LOCK_NAME, RepoLockTimeoutError, withRepoLock } from '../../lib/aws/repo-lock.ts';
import {
  BASE_REF,
  initTemplateRepository,
  MAIN_REF,
  type PrunableRun,
  RepoNotInitializedError,
  RepoStore,
  TEMPLATE_AUTHOR,
  templateBareDir,
} from '../../lib/aws/repo-store.ts';

const RUN_A = `run_${'a'.repeat(26)}`;
const RUN_B = `run_${'b'.repeat(26)}`;
const RUN_C = `run_${'c'.repeat(26)}`;
const RUN_D = `run_${'d'.repeat(26)}`;
const RUN_E = `run_${'e'.repeat(26)}`;
const RUN_F = `run_${'f'.repeat(26)}`;

let root: string;
let templateDir: string;
let bareDir: string;

async function writeTemplate(dir: string): Promise<void> {
  await mkdir(join(dir, 'cmd', 'app'), { recursive: true });
  await mkdir(join(dir, 'web'), { recursive: true });
  await mkdir(join(dir, 'dist', 'bin'), { recursive: true });
  await mkdir(join(dir, '.git'), { recursive: true });
  await mkdir(join(dir, 'node_modules', 'x'), { recursive: true });
  await mkdir(join(dir, 'empty'), { recursive: true });
  await writeFile(join(dir, 'go.mod'), 'module example.com/tool\n\ngo 1.19\n');
  await writeFile(join(dir, 'AGENTS.md'), '# Worker instructions\n');
  await writeFile(join(dir, 'cmd', 'app', 'main.go'), 'package main\n\nfunc main() {}\n');
  await writeFile(join(dir, 'web', 'index.html'), '<!doctype html><title>t</title>\n');
  await writeFile(join(dir, 'web', 'debug.log'), 'ignored by nested .gitignore\n');
  await writeFile(join(dir, 'web', '.gitignore'), '*.log\n');
  await writeFile(join(dir, 'build.sh'), '#!/bin/sh\necho build\n');
  await chmod(join(dir, 'build.sh'), 0o755);
  await writeFile(join(dir, '.gitignore'), 'node_modules/\n*.tmp\n');
  await writeFile(join(dir, 'scratch.tmp'), 'ignored\n');
  await writeFile(join(dir, 'node_modules', 'x', 'index.js'), 'ignored\n');
  await writeFile(join(dir, 'dist', 'bin', 'tool'), 'build output\n');
  await writeFile(join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
}

async function treePaths(commit: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await git.walk({
    fs,
    gitdir: bareDir,
    trees: [git.TREE({ ref: commit })],
    map: async (filepath, [entry]) => {
      if (!entry || filepath === '.') return;
      if ((await entry.type()) === 'blob') out.set(filepath, (await entry.mode()).toString(8));
    },
  });
  return out;
}

const resolve = (ref: string) => git.resolveRef({ fs, gitdir: bareDir, ref });

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'repo-store-unit-'));
  templateDir = join(root, 'template-repo');
  bareDir = templateBareDir(join(root, '.data'));
  await mkdir(templateDir);
  await writeTemplate(templateDir);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('initTemplateRepository', () => {
  it('creates a bare repository with main and the base tag at the template snapshot', async () => {
    const result = await initTemplateRepository({ templateDir, bareDir });

    expect(bareDir).toBe(join(root, '.data', 'repos', 'template.git'));
    expect(result).toMatchObject({ repoId: 'template', baseRef: 'refs/tags/template-base', changed: true });
    expect(result.baseCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(await resolve(BASE_REF)).toBe(result.baseCommit);
    expect(await resolve(MAIN_REF)).toBe(result.baseCommit);
    expect(await git.currentBranch({ fs, gitdir: bareDir })).toBe('main');
    const config = await git.getConfig({ fs, gitdir: bareDir, path: 'core.bare' });
    expect(config).toBe(true);

    const { commit } = await git.readCommit({ fs, gitdir: bareDir, oid: result.baseCommit });
    expect(commit.parent).toEqual([]);
    expect(commit.tree).toBe(result.tree);
    expect(commit.author).toMatchObject(TEMPLATE_AUTHOR);
    expect(commit.committer).toMatchObject(TEMPLATE_AUTHOR);

    const files = await treePaths(result.baseCommit);
    expect([...files.keys()].sort()).toEqual([
      '.gitignore',
      'AGENTS.md',
      'build.sh',
      'cmd/app/main.go',
      'go.mod',
      'web/.gitignore',
      'web/index.html',
    ]);
    expect(files.get('build.sh')).toBe('100755');
    expect(files.get('go.mod')).toBe('100644');
  });

  it('keeps symbolic links as links', async () => {
    await symlink('go.mod', join(templateDir, 'link.mod'));
    const result = await initTemplateRepository({ templateDir, bareDir });
    const files = await treePaths(result.baseCommit);
    expect(files.get('link.mod')).toBe('120000');
    const { blob } = await git.readBlob({
      fs,
      gitdir: bareDir,
      oid: result.baseCommit,
      filepath: 'link.mod',
    });
    expect(Buffer.from(blob).toString()).toBe('go.mod');
  });

  it('does nothing when restarted with an unchanged template', async () => {
    const first = await initTemplateRepository({ templateDir, bareDir });
    // Touch files and change ignored content only: the tracked tree is the same.
    await utimes(join(templateDir, 'go.mod'), new Date(), new Date(Date.now() + 60_000));
    await writeFile(join(templateDir, 'dist', 'bin', 'tool'), 'other build output\n');
    await writeFile(join(templateDir, 'another.tmp'), 'ignored\n');

    const second = await initTemplateRepository({ templateDir, bareDir });

    expect(second.changed).toBe(false);
    expect(second.baseCommit).toBe(first.baseCommit);
    expect(second.tree).toBe(first.tree);
    expect(await resolve(BASE_REF)).toBe(first.baseCommit);
    const log = await git.log({ fs, gitdir: bareDir, ref: MAIN_REF });
    expect(log).toHaveLength(1);
  });

  it('commits a changed template on main and moves the tag; old branches keep their commit', async () => {
    const store = new RepoStore({ bareDir });
    const first = await store.initTemplate({ templateDir });
    const branch = await store.ensureBranch({ runId: RUN_A, createdAt: '2025-03-04T10:00:00Z' });

    await writeFile(join(templateDir, 'go.mod'), 'module example.com/tool\n\ngo 1.21\n');
    const second = await store.initTemplate({ templateDir });

    expect(second.changed).toBe(true);
    expect(second.baseCommit).not.toBe(first.baseCommit);
    expect(second.tree).not.toBe(first.tree);
    expect(await resolve(BASE_REF)).toBe(second.baseCommit);
    expect(await resolve(MAIN_REF)).toBe(second.baseCommit);
    const { commit } = await git.readCommit({ fs, gitdir: bareDir, oid: second.baseCommit });
    expect(commit.parent).toEqual([first.baseCommit]);
    expect(await resolve(`refs/heads/${branch.branch}`)).toBe(first.baseCommit);

    const next = await store.ensureBranch({ runId: RUN_B, createdAt: '2025-03-05T10:00:00Z' });
    expect(next.commit).toBe(second.baseCommit);
  });

  it('treats a change of the executable bit as a change', async () => {
    const first = await initTemplateRepository({ templateDir, bareDir });
    await chmod(join(templateDir, 'build.sh'), 0o644);
    const second = await initTemplateRepository({ templateDir, bareDir });
    expect(second.changed).toBe(true);
    expect(second.baseCommit).not.toBe(first.baseCommit);
  });

  it('restores a missing base tag without a new commit', async () => {
    const first = await initTemplateRepository({ templateDir, bareDir });
    await git.deleteRef({ fs, gitdir: bareDir, ref: BASE_REF });
    const second = await initTemplateRepository({ templateDir, bareDir });
    expect(second).toMatchObject({ baseCommit: first.baseCommit, changed: true });
    expect(await resolve(BASE_REF)).toBe(first.baseCommit);
  });

  it('serialises concurrent initialisations into one commit', async () => {
    const results = await Promise.all([1, 2, 3].map(() => initTemplateRepository({ templateDir, bareDir })));
    expect(new Set(results.map((r) => r.baseCommit)).size).toBe(1);
    expect(results.filter((r) => r.changed)).toHaveLength(1);
  });

  it('rejects a missing or empty template folder', async () => {
    await expect(initTemplateRepository({ templateDir: join(root, 'nope'), bareDir })).rejects.toThrow(
      /template folder not found/,
    );
    const empty = join(root, 'empty-template');
    await mkdir(join(empty, 'dist'), { recursive: true });
    await writeFile(join(empty, 'dist', 'x'), 'x');
    await expect(initTemplateRepository({ templateDir: empty, bareDir })).rejects.toThrow(/no files/);
  });
});

describe('RepoStore.ensureBranch', () => {
  it('creates build/{YYYYMMDD}/{run_id} at the base commit, once', async () => {
    const store = new RepoStore({ bareDir });
    const { baseCommit } = await store.initTemplate({ templateDir });

    const first = await store.ensureBranch({ runId: RUN_A, createdAt: '2025-12-31T23:59:59.000Z' });
    expect(first).toEqual({
      repoId: 'template',
      branch: `build/20251231/${RUN_A}`,
      commit: baseCommit,
      created: true,
    });
    expect(await resolve(`refs/heads/build/20251231/${RUN_A}`)).toBe(baseCommit);

    const second = await store.ensureBranch({ runId: RUN_A, createdAt: '2025-12-31T23:59:59.000Z' });
    expect(second).toEqual({ ...first, created: false });
  });

  it('uses the UTC date of creation', async () => {
    const store = new RepoStore({ bareDir });
    await store.initTemplate({ templateDir });
    const result = await store.ensureBranch({ runId: RUN_A, createdAt: '2025-01-01T01:30:00+03:00' });
    expect(result.branch).toBe(`build/20241231/${RUN_A}`);
  });

  it('never moves an existing branch, even after the template changed or the worker pushed', async () => {
    const store = new RepoStore({ bareDir });
    const { baseCommit } = await store.initTemplate({ templateDir });
    const run = { runId: RUN_A, createdAt: '2025-03-04T10:00:00Z' };
    await store.ensureBranch(run);

    await writeFile(join(templateDir, 'AGENTS.md'), '# changed\n');
    const changed = await store.initTemplate({ templateDir });
    expect((await store.ensureBranch(run)).commit).toBe(baseCommit);

    // Simulate a worker push: the branch now points elsewhere; ensureBranch returns it as is.
    await git.writeRef({
      fs,
      gitdir: bareDir,
      ref: `refs/heads/build/20250304/${RUN_A}`,
      value: changed.baseCommit,
      force: true,
    });
    expect(await store.ensureBranch(run)).toMatchObject({ commit: changed.baseCommit, created: false });
    expect(await store.branchCommit(run)).toBe(changed.baseCommit);
  });

  it('creates one branch for concurrent calls of the same run', async () => {
    const store = new RepoStore({ bareDir });
    const { baseCommit } = await store.initTemplate({ templateDir });
    const run = { runId: RUN_A, createdAt: '2025-03-04T10:00:00Z' };
    const other = new RepoStore({ bareDir });

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? store : other).ensureBranch(run)),
    );

    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.commit))).toEqual(new Set([baseCommit]));
    expect(await store.listBuildBranches()).toEqual([
      { branch: `build/20250304/${RUN_A}`, runId: RUN_A, commit: baseCommit },
    ]);
    await expect(readdir(bareDir)).resolves.not.toContain(REPO_LOCK_NAME);
  });

  it.each([
    ['upper case', `run_${'A'.repeat(26)}`],
    ['too short', 'run_abc'],
    ['path traversal', `run_${'a'.repeat(26)}/../../HEAD`],
    ['relative path', '../../../etc/passwd'],
    ['ref syntax', `run_${'a'.repeat(25)}~`],
    ['empty', ''],
    ['visitor text', 'my-cool-tool'],
  ])('rejects an invalid run id (%s) before touching refs', async (_label, runId) => {
    const store = new RepoStore({ bareDir });
    await store.initTemplate({ templateDir });
    await expect(store.ensureBranch({ runId, createdAt: '2025-03-04T10:00:00Z' })).rejects.toThrow(/run id/);
    expect(await store.listBuildBranches()).toEqual([]);
    expect(await git.listBranches({ fs, gitdir: bareDir })).toEqual(['main']);
  });

  it('rejects an invalid creation date', async () => {
    const store = new RepoStore({ bareDir });
    await store.initTemplate({ templateDir });
    await expect(store.ensureBranch({ runId: RUN_A, createdAt: 'yesterday' })).rejects.toThrow(/date/);
    await expect(
      store.ensureBranch({ runId: RUN_A, createdAt: '+275760-09-13T00:00:00.001Z' }),
    ).rejects.toThrow();
    expect(await store.listBuildBranches()).toEqual([]);
  });

  it('fails clearly before the template was initialised', async () => {
    const store = new RepoStore({ bareDir });
    await mkdir(bareDir, { recursive: true });
    await git.init({ fs, gitdir: bareDir, bare: true });
    await expect(
      store.ensureBranch({ runId: RUN_A, createdAt: '2025-03-04T10:00:00Z' }),
    ).rejects.toBeInstanceOf(RepoNotInitializedError);
    expect(await store.listBuildBranches()).toEqual([]);
  });
});

describe('RepoStore.pruneBranches', () => {
  const now = new Date('2025-06-30T12:00:00Z');
  const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();

  it('removes only the branches of runs that ended more than 30 days ago', async () => {
    const store = new RepoStore({ bareDir });
    const { baseCommit } = await store.initTemplate({ templateDir });
    const runs: PrunableRun[] = [
      { runId: RUN_A, createdAt: daysAgo(45), phase: 'delivered', endedAt: daysAgo(40) },
      { runId: RUN_B, createdAt: daysAgo(35), phase: 'failed', endedAt: daysAgo(31) },
      { runId: RUN_C, createdAt: daysAgo(35), phase: 'delivered', endedAt: daysAgo(5) },
      { runId: RUN_D, createdAt: daysAgo(60), phase: 'worker_running' },
      { runId: RUN_E, createdAt: daysAgo(60), phase: 'failed' },
      // Not terminal (ended earlier, then reopened by an operator): kept despite an old endedAt.
      { runId: RUN_F, createdAt: daysAgo(90), phase: 'authorized', endedAt: daysAgo(80) },
    ];
    for (const run of runs) await store.ensureBranch(run);
    await git.branch({ fs, gitdir: bareDir, ref: 'feature/keep', object: baseCommit });

    const removed = await store.pruneBranches({ runs, now });

    expect(removed).toEqual([
      {
        runId: RUN_A,
        branch: `build/${daysAgo(45).slice(0, 10).replaceAll('-', '')}/${RUN_A}`,
        commit: baseCommit,
      },
      {
        runId: RUN_B,
        branch: `build/${daysAgo(35).slice(0, 10).replaceAll('-', '')}/${RUN_B}`,
        commit: baseCommit,
      },
    ]);
    // Sorted by name, i.e. by creation date: F (90 days ago), D and E (60), C (35).
    expect((await store.listBuildBranches()).map((b) => b.runId)).toEqual([RUN_F, RUN_D, RUN_E, RUN_C]);
    expect((await git.listBranches({ fs, gitdir: bareDir })).sort()).toContain('feature/keep');
    expect(await resolve(MAIN_REF)).toBe(baseCommit);
    expect(await resolve(BASE_REF)).toBe(baseCommit);

    // Second run: nothing left to remove.
    expect(await store.pruneBranches({ runs, now })).toEqual([]);
  });

  it('honours a custom age and ignores runs whose branch never existed', async () => {
    const store = new RepoStore({ bareDir });
    await store.initTemplate({ templateDir });
    const withBranch: PrunableRun = {
      runId: RUN_A,
      createdAt: daysAgo(10),
      phase: 'delivered',
      endedAt: daysAgo(8),
    };
    const withoutBranch: PrunableRun = {
      runId: RUN_B,
      createdAt: daysAgo(10),
      phase: 'failed',
      endedAt: daysAgo(9),
    };
    await store.ensureBranch(withBranch);

    expect(await store.pruneBranches({ runs: [withBranch, withoutBranch], now })).toEqual([]);
    const removed = await store.pruneBranches({ runs: [withBranch, withoutBranch], olderThanDays: 7, now });
    expect(removed.map((r) => r.runId)).toEqual([RUN_A]);
    expect(await store.listBuildBranches()).toEqual([]);
    // The emptied date directory is gone too.
    await expect(readdir(join(bareDir, 'refs', 'heads'))).resolves.toEqual(['main']);
  });

  it('rejects a negative age and invalid run ids', async () => {
    const store = new RepoStore({ bareDir });
    await store.initTemplate({ templateDir });
    await expect(store.pruneBranches({ runs: [], olderThanDays: -1, now })).rejects.toThrow(/olderThanDays/);
    await expect(
      store.pruneBranches({
        runs: [{ runId: '../../main', createdAt: daysAgo(90), phase: 'delivered', endedAt: daysAgo(80) }],
        now,
      }),
    ).rejects.toThrow(/run id/);
    expect(await resolve(MAIN_REF)).toBeTruthy();
  });
});

describe('withRepoLock', () => {
  it('serialises holders and removes a stale lock', async () => {
    await mkdir(bareDir, { recursive: true });
    const order: string[] = [];
    await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        withRepoLock(bareDir, async () => {
          order.push(`${name}:in`);
          await new Promise((r) => setTimeout(r, 20));
          order.push(`${name}:out`);
        }),
      ),
    );
    for (let i = 0; i < order.length; i += 2) {
      expect(order[i]!.split(':')[0]).toBe(order[i + 1]!.split(':')[0]);
    }

    await mkdir(join(bareDir, REPO_LOCK_NAME));
    await expect(withRepoLock(bareDir, async () => 'x', { timeoutMs: 50 })).rejects.toBeInstanceOf(
      RepoLockTimeoutError,
    );
    const old = new Date(Date.now() - 120_000);
    await utimes(join(bareDir, REPO_LOCK_NAME), old, old);
    await expect(withRepoLock(bareDir, async () => 'x', { timeoutMs: 50 })).resolves.toBe('x');
  });
});
