import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BASE_REF, RepoStore, templateBareDir } from '../../lib/aws/repo-store.ts';
import { cloneBranch, commitAndPush, GitCommandError } from '../../worker-image/src/git.ts';

const RUN_A = `run_${'a'.repeat(26)}`;
const RUN_B = `run_${'b'.repeat(26)}`;
const WORKER = { name: 'BusDK Worker', email: 'worker@busdk.invalid' };

let root: string;
let templateDir: string;
let bareDir: string;
let store: RepoStore;

/** Real git, isolated from the developer's config. */
function git(...args: string[]): string {
  return execFileSync('git', args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: root, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' },
  }).trim();
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'repo-store-int-'));
  templateDir = join(root, 'template-repo');
  bareDir = templateBareDir(join(root, '.data'));
  await mkdir(join(templateDir, 'web'), { recursive: true });
  await mkdir(join(templateDir, 'dist'), { recursive: true });
  await writeFile(join(templateDir, 'go.mod'), 'module example.com/tool\n\ngo 1.19\n');
  await writeFile(join(templateDir, 'main.go'), 'package main\n\nfunc main() {}\n');
  await writeFile(join(templateDir, 'web', 'index.html'), '<!doctype html><title>tool</title>\n');
  await writeFile(join(templateDir, 'build.sh'), '#!/bin/sh\necho build\n');
  await chmod(join(templateDir, 'build.sh'), 0o755);
  await writeFile(join(templateDir, '.gitignore'), 'dist/\n*.log\n');
  await writeFile(join(templateDir, 'dist', 'stale'), 'not part of the template\n');
  await writeFile(join(templateDir, 'notes.log'), 'not part of the template\n');
  store = new RepoStore({ bareDir });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('bare repository written by isomorphic-git, read by the git CLI', () => {
  it('is a valid repository with main, the base tag and build branches', async () => {
    const init = await store.initTemplate({ templateDir });
    const branch = await store.ensureBranch({ runId: RUN_A, createdAt: '2025-03-04T10:00:00Z' });

    git('--git-dir', bareDir, 'fsck', '--strict', '--no-dangling');
    expect(git('--git-dir', bareDir, 'rev-parse', '--is-bare-repository')).toBe('true');
    expect(git('--git-dir', bareDir, 'rev-parse', 'template-base', 'main')).toBe(
      `${init.baseCommit}\n${init.baseCommit}`,
    );
    expect(git('--git-dir', bareDir, 'log', '--format=%H %an <%ae>', `build/20250304/${RUN_A}`)).toBe(
      `${init.baseCommit} BusDK Template <template@busdk.invalid>`,
    );
    expect(git('--git-dir', bareDir, 'rev-parse', `${init.baseCommit}^{tree}`)).toBe(init.tree);
    expect(git('--git-dir', bareDir, 'ls-tree', '-r', '--name-only', branch.branch).split('\n')).toEqual([
      '.gitignore',
      'build.sh',
      'go.mod',
      'main.go',
      'web/index.html',
    ]);
    expect(git('--git-dir', bareDir, 'ls-tree', branch.branch, 'build.sh')).toMatch(/^100755 blob /);
  });

  it('computes the same tree id as `git add` + `git write-tree` on the template', async () => {
    const init = await store.initTemplate({ templateDir });
    const scratch = join(root, 'scratch');
    git('init', '--quiet', scratch);
    execFileSync('cp', ['-a', `${templateDir}/.`, scratch]);
    git('-C', scratch, 'add', '--all');
    expect(git('-C', scratch, 'write-tree')).toBe(init.tree);
  });

  it('sees branches after the git CLI packs the refs, and prunes packed refs', async () => {
    await store.initTemplate({ templateDir });
    const run = { runId: RUN_A, createdAt: '2025-03-04T10:00:00Z' };
    const { commit } = await store.ensureBranch(run);
    git('--git-dir', bareDir, 'pack-refs', '--all', '--prune');
    await expect(stat(join(bareDir, 'refs', 'heads', 'build', '20250304', RUN_A))).rejects.toThrow();

    expect(await store.listBuildBranches()).toEqual([
      { branch: `build/20250304/${RUN_A}`, runId: RUN_A, commit },
    ]);
    expect(await store.ensureBranch(run)).toMatchObject({ commit, created: false });

    const removed = await store.pruneBranches({
      runs: [{ ...run, phase: 'delivered', endedAt: '2025-03-05T00:00:00Z' }],
      now: new Date('2025-06-01T00:00:00Z'),
    });
    expect(removed.map((r) => r.branch)).toEqual([`build/20250304/${RUN_A}`]);
    expect(git('--git-dir', bareDir, 'branch', '--list', 'build/*')).toBe('');
    expect(git('--git-dir', bareDir, 'rev-parse', 'main')).toBe(commit);
  });
});

describe('worker clone, commit and push (git CLI)', () => {
  it('round-trips: template files arrive, the commit lands on the build branch only', async () => {
    const init = await store.initTemplate({ templateDir });
    const run = { runId: RUN_A, createdAt: '2025-03-04T10:00:00Z' };
    const { branch } = await store.ensureBranch(run);
    const other = await store.ensureBranch({ runId: RUN_B, createdAt: '2025-03-04T11:00:00Z' });
    const dir = join(root, 'work');

    const clone = await cloneBranch({ bareDir, branch, dir });

    expect(clone).toEqual({ dir, branch, commit: init.baseCommit });
    expect(await readFile(join(dir, 'go.mod'), 'utf8')).toContain('go 1.19');
    expect(await readFile(join(dir, 'web', 'index.html'), 'utf8')).toContain('<title>tool</title>');
    expect((await stat(join(dir, 'build.sh'))).mode & 0o111).not.toBe(0);
    expect((await readdir(dir)).sort()).toEqual([
      '.git',
      '.gitignore',
      'build.sh',
      'go.mod',
      'main.go',
      'web',
    ]);
    expect(git('-C', dir, 'branch', '--show-current')).toBe(branch);
    expect(git('-C', dir, 'tag', '--list')).toBe('');

    // The coder works: a change, a new file and build output that .gitignore keeps out.
    await writeFile(join(dir, 'main.go'), 'package main\n\nfunc main() { println("hi") }\n');
    await writeFile(join(dir, 'tool.go'), 'package main\n');
    await mkdir(join(dir, 'dist', 'bin'), { recursive: true });
    await writeFile(join(dir, 'dist', 'bin', 'tool-linux-amd64'), 'binary');

    const pushed = await commitAndPush({
      dir,
      message: 'Build tool for run',
      author: WORKER,
      branch,
      url: bareDir,
    });

    expect(pushed).toMatchObject({ committed: true, branch });
    expect(pushed.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(git('--git-dir', bareDir, 'log', '--format=%H %P %an <%ae> %s', branch).split('\n')).toEqual([
      `${pushed.commit} ${init.baseCommit} BusDK Worker <worker@busdk.invalid> Build tool for run`,
      `${init.baseCommit}  BusDK Template <template@busdk.invalid> Template snapshot`,
    ]);
    const files = git('--git-dir', bareDir, 'ls-tree', '-r', '--name-only', branch).split('\n');
    expect(files).toContain('tool.go');
    expect(files.some((f) => f.startsWith('dist/'))).toBe(false);
    expect(git('--git-dir', bareDir, 'show', `${branch}:main.go`)).toContain('println("hi")');

    // Nothing else moved; the orchestrator sees the pushed commit and does not reset it.
    expect(git('--git-dir', bareDir, 'rev-parse', 'main', BASE_REF, other.branch)).toBe(
      [init.baseCommit, init.baseCommit, init.baseCommit].join('\n'),
    );
    expect(await store.branchCommit(run)).toBe(pushed.commit);
    expect(await store.ensureBranch(run)).toMatchObject({ commit: pushed.commit, created: false });
    git('--git-dir', bareDir, 'fsck', '--strict', '--no-dangling');

    // A second commitAndPush with no changes is a no-op.
    const again = await commitAndPush({ dir, message: 'nothing', author: WORKER });
    expect(again).toEqual({ committed: false, commit: pushed.commit, branch });
  });

  it('clones a branch the orchestrator made after the worker image was built from an older base', async () => {
    await store.initTemplate({ templateDir });
    await writeFile(join(templateDir, 'go.mod'), 'module example.com/tool\n\ngo 1.21\n');
    const changed = await store.initTemplate({ templateDir });
    const { branch } = await store.ensureBranch({ runId: RUN_A, createdAt: '2025-03-04T10:00:00Z' });
    const clone = await cloneBranch({ url: bareDir, branch, dir: join(root, 'work') });
    expect(clone.commit).toBe(changed.baseCommit);
    expect(await readFile(join(root, 'work', 'go.mod'), 'utf8')).toContain('go 1.21');
  });

  it('never force-pushes over a branch that moved', async () => {
    await store.initTemplate({ templateDir });
    const { branch } = await store.ensureBranch({ runId: RUN_A, createdAt: '2025-03-04T10:00:00Z' });
    const first = join(root, 'w1');
    const second = join(root, 'w2');
    await cloneBranch({ bareDir, branch, dir: first });
    await cloneBranch({ bareDir, branch, dir: second });
    await writeFile(join(first, 'a.go'), 'package main\n');
    await writeFile(join(second, 'b.go'), 'package main\n');
    const winner = await commitAndPush({ dir: first, message: 'first', author: WORKER });

    await expect(commitAndPush({ dir: second, message: 'second', author: WORKER })).rejects.toBeInstanceOf(
      GitCommandError,
    );
    expect(git('--git-dir', bareDir, 'rev-parse', branch)).toBe(winner.commit);
  });

  it('ignores hooks and a redirected origin written into the clone by the coder', async () => {
    await store.initTemplate({ templateDir });
    const { branch } = await store.ensureBranch({ runId: RUN_A, createdAt: '2025-03-04T10:00:00Z' });
    const dir = join(root, 'work');
    await cloneBranch({ bareDir, branch, dir });
    const marker = join(root, 'hook-ran');
    for (const hook of ['pre-commit', 'commit-msg', 'post-commit', 'pre-push']) {
      await writeFile(join(dir, '.git', 'hooks', hook), `#!/bin/sh\ntouch ${marker}\n`);
      await chmod(join(dir, '.git', 'hooks', hook), 0o755);
    }
    const decoy = join(root, 'decoy.git');
    git('init', '--quiet', '--bare', decoy);
    git('-C', dir, 'remote', 'set-url', 'origin', decoy);
    await writeFile(join(dir, 'x.go'), 'package main\n');

    const pushed = await commitAndPush({ dir, message: 'work', author: WORKER, branch, url: bareDir });

    await expect(stat(marker)).rejects.toThrow();
    expect(git('--git-dir', bareDir, 'rev-parse', branch)).toBe(pushed.commit);
    expect(git('--git-dir', decoy, 'branch', '--list')).toBe('');
  });

  it('rejects invalid branch names and authors before running git', async () => {
    const dir = join(root, 'work');
    for (const branch of [
      'main',
      '--upload-pack=touch /tmp/x',
      `build/2025/${RUN_A}`,
      `build/20250304/${RUN_A}/..`,
    ]) {
      await expect(cloneBranch({ bareDir, branch, dir })).rejects.toThrow(/invalid build branch/);
    }
    await expect(stat(dir)).rejects.toThrow();
    await expect(
      commitAndPush({
        dir,
        message: 'x',
        author: { name: 'a\nb', email: 'a@b' },
        branch: `build/20250304/${RUN_A}`,
      }),
    ).rejects.toThrow(/invalid git author/);
    await expect(
      commitAndPush({ dir, message: 'x', author: WORKER, branch: 'refs/heads/main' }),
    ).rejects.toThrow(/invalid build branch/);
  });
});

const REAL_TEMPLATE = resolve('template-repo');
const realTemplateHasFiles = await readdir(REAL_TEMPLATE)
  .then((names) => names.some((n) => n !== 'dist' && n !== '.gitignore'))
  .catch(() => false);

describe.skipIf(!realTemplateHasFiles)('the project template-repo/', () => {
  it('initialises into a bare repository without build output', async () => {
    const init = await store.initTemplate({ templateDir: REAL_TEMPLATE });
    const again = await store.initTemplate({ templateDir: REAL_TEMPLATE });
    expect(again).toMatchObject({ baseCommit: init.baseCommit, changed: false });
    const files = git('--git-dir', bareDir, 'ls-tree', '-r', '--name-only', 'template-base').split('\n');
    expect(files.length).toBeGreaterThan(0);
    expect(files.some((f) => f.startsWith('dist/') || f.startsWith('.git/'))).toBe(false);
  });
});
