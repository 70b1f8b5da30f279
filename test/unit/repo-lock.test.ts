import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  REPO_LOCK_NAME,
  REPO_LOCK_OWNER_FILE,
  RepoLockTimeoutError,
  withRepoLock,
} from '../../lib/aws/repo-lock.ts';
import { machineId } from '../../lib/process.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
let gitdir: string;
beforeEach(async () => {
  gitdir = await mkdtemp(join(tmpdir(), 'repo-lock-'));
});
afterEach(async () => {
  await rm(gitdir, { recursive: true, force: true });
});

const lockDir = () => join(gitdir, REPO_LOCK_NAME);

/** A real process that takes the lock and is then killed while holding it. */
async function lockHeldByKilledProcess(): Promise<number> {
  const script = `
    import { withRepoLock } from ${JSON.stringify(join(REPO_ROOT, 'lib/aws/repo-lock.ts'))};
    await withRepoLock(${JSON.stringify(gitdir)}, async () => {
      process.stdout.write('held\\n');
      await new Promise(() => {});
    });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((ok, fail) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && ok());
    child.once('exit', (code) => fail(new Error(`lock holder exited early (${code})`)));
  });
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGKILL');
  await exited;
  return child.pid!;
}

describe('withRepoLock', () => {
  it('records its holder while held and removes the lock afterwards', async () => {
    const seen = await withRepoLock(gitdir, async () =>
      JSON.parse(await readFile(join(lockDir(), REPO_LOCK_OWNER_FILE), 'utf8')),
    );
    expect(seen).toEqual({ machine: machineId(), pid: process.pid });
    expect(await readdir(gitdir)).toEqual([]);
  });

  it('takes over at once a lock whose holder on this machine was killed while holding it', async () => {
    const deadPid = await lockHeldByKilledProcess();
    const owner = JSON.parse(await readFile(join(lockDir(), REPO_LOCK_OWNER_FILE), 'utf8'));
    expect(owner.pid).toBe(deadPid);
    // Fresh (well inside staleMs), yet its holder is gone: no wait for the timeout.
    await expect(withRepoLock(gitdir, async () => 'ok', { timeoutMs: 1_000 })).resolves.toBe('ok');
    expect(await readdir(gitdir)).toEqual([]);
  }, 30_000);

  it('waits for a live holder on this machine, and for a holder on another machine, until stale', async () => {
    await mkdir(lockDir());
    const live = { machine: machineId(), pid: process.ppid };
    await writeFile(join(lockDir(), REPO_LOCK_OWNER_FILE), JSON.stringify(live));
    await expect(withRepoLock(gitdir, async () => 'x', { timeoutMs: 50 })).rejects.toBeInstanceOf(
      RepoLockTimeoutError,
    );

    // Another sandbox's pid says nothing about this machine's process table.
    const elsewhere = { machine: 'other-host/other-boot', pid: 999_999_999 };
    await writeFile(join(lockDir(), REPO_LOCK_OWNER_FILE), JSON.stringify(elsewhere));
    await expect(withRepoLock(gitdir, async () => 'x', { timeoutMs: 50 })).rejects.toBeInstanceOf(
      RepoLockTimeoutError,
    );
    const old = new Date(Date.now() - 120_000);
    await utimes(lockDir(), old, old);
    await expect(withRepoLock(gitdir, async () => 'x', { timeoutMs: 50 })).resolves.toBe('x');
  });

  it('lets exactly one of many waiters take over a dead holder’s lock at a time', async () => {
    await lockHeldByKilledProcess();
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withRepoLock(gitdir, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(await readdir(gitdir)).toEqual([]);
  }, 30_000);
});
