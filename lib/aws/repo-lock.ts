import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Name of the lock directory inside the bare repository; git itself ignores unknown entries there. */
export const REPO_LOCK_NAME = 'busdk-refs.lock';

export class RepoLockTimeoutError extends Error {
  constructor(readonly gitdir: string) {
    super('timed out waiting for the repository ref lock');
    this.name = 'RepoLockTimeoutError';
  }
}

export interface RepoLockOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** A lock older than this is treated as left behind by a crashed process (default 60 s). */
  staleMs?: number;
}

/**
 * Runs `fn` while holding an exclusive lock on the repository's build refs.
 *
 * The lock is a directory created with `mkdir`, which is atomic on local file systems and on
 * NFSv4/EFS, so it serialises writers across processes and across Lambda instances sharing an
 * EFS mount, as well as concurrent calls inside one process. Every ref operation of the
 * orchestrator (template init, branch creation, pruning) takes it; the held time is milliseconds,
 * so a lock older than `staleMs` can only belong to a crashed holder and is removed.
 */
export async function withRepoLock<T>(
  gitdir: string,
  fn: () => Promise<T>,
  opts: RepoLockOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const staleMs = opts.staleMs ?? 60_000;
  const lockDir = join(gitdir, REPO_LOCK_NAME);
  const started = Date.now();
  let delay = 5;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const info = await stat(lockDir).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > staleMs) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() - started > timeoutMs) throw new RepoLockTimeoutError(gitdir);
    await sleep(delay + Math.floor(Math.random() * delay));
    delay = Math.min(delay * 2, 200);
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
