import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { branchStoreFromEnv } from '../../functions/orchestrator/branch-store.ts';
import { newBuildRun } from '../../lib/domain/lifecycle.ts';

const dirs: string[] = [];
const temp = (p: string) => {
  const d = mkdtempSync(path.join(tmpdir(), p));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const run = () =>
  newBuildRun(
    { sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa', emailVerified: false },
    new Date().toISOString(),
  );

describe('PrepareBranch repository (self-seeding on AWS)', () => {
  it('seeds an empty bare repository from TEMPLATE_DIR, then branches from it', async () => {
    const template = temp('tpl-');
    writeFileSync(path.join(template, 'go.mod'), 'module artifact\n\ngo 1.19\n');
    const bare = path.join(temp('efs-'), 'template.git');
    const store = branchStoreFromEnv({ REPO_DIR: bare, TEMPLATE_DIR: template });
    const r = run();
    const out = await store.ensureBranch(r);
    expect(out.branch).toMatch(/^build\/\d{8}\/run_/);
    const files = execFileSync('git', ['--git-dir', bare, 'ls-tree', '--name-only', out.branch], {
      encoding: 'utf8',
    });
    expect(files.trim()).toBe('go.mod');
  });

  it('initialises the template once per container, and not at all without TEMPLATE_DIR', async () => {
    const calls: string[] = [];
    const fake = {
      initTemplate: async () => {
        calls.push('init');
        return {} as never;
      },
      ensureBranch: async () => {
        calls.push('branch');
        return { repoId: 'template', branch: 'b', commit: 'c', created: true };
      },
    };
    const seeded = branchStoreFromEnv(
      { REPO_DIR: '/efs/t.git', TEMPLATE_DIR: '/var/task/template-repo' },
      () => fake,
    );
    await seeded.ensureBranch(run());
    await seeded.ensureBranch(run());
    expect(calls).toEqual(['init', 'branch', 'branch']);
    calls.length = 0;
    const plain = branchStoreFromEnv({ REPO_DIR: '/efs/t.git' }, () => fake);
    await plain.ensureBranch(run());
    expect(calls).toEqual(['branch']);
    await expect(branchStoreFromEnv({}).ensureBranch(run())).rejects.toThrow(/REPO_DIR/);
  });
});
