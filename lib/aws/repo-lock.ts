import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive, machineId } from '../process.ts';

/** Name of the lock directory inside the bare repository; git itself ignores unknown entries there. */
export const REPO_LOCK_NAME = 'busdk-refs.lock';
/** The holder's record inside the lock directory. */
export const REPO_LOCK_OWNER_FILE = 'owner.json';

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

interface LockOwner {
  machine: string;
  pid: number;
}

/**
 * Runs `fn` while holding an exclusive lock on the repository's build refs.
 *
 * The lock is a directory created with `mkdir`, which is atomic on local file systems and on
 * NFSv4/EFS, so it serialises writers across processes and across Lambda instances sharing an
 * EFS mount, as well as concurrent calls inside one process. Every ref operation of the
 * orchestrator (template init, branch creation, pruning) takes it.
 *
 * A holder that dies leaves the directory behind. Its owner record (machine id and pid) lets a
 * waiter on the same machine see at once that the holder is gone (a local stack stopped in the
 * middle of a branch creation, then started again); a holder elsewhere (another Lambda sandbox)
 * cannot be checked, and since the held time is milliseconds, a lock older than `staleMs` can
 * only belong to a crashed holder and is removed.
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
    if (await tryAcquire(lockDir)) break;
    if (await isStale(lockDir, staleMs)) {
      await removeStale(lockDir);
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

async function tryAcquire(lockDir: string): Promise<boolean> {
  try {
    await mkdir(lockDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  const owner: LockOwner = { machine: machineId(), pid: process.pid };
  await writeFile(join(lockDir, REPO_LOCK_OWNER_FILE), JSON.stringify(owner));
  return true;
}

async function isStale(lockDir: string, staleMs: number): Promise<boolean> {
  const info = await stat(lockDir).catch(() => undefined);
  if (!info) return false; // released meanwhile: the next mkdir decides
  if (Date.now() - info.mtimeMs > staleMs) return true;
  const owner = await readOwner(lockDir);
  // No record yet: the holder is between its mkdir and its write; only age can tell.
  if (!owner || owner.machine !== machineId()) return false;
  return owner.pid !== process.pid && !isProcessAlive(owner.pid);
}

async function readOwner(lockDir: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(lockDir, REPO_LOCK_OWNER_FILE), 'utf8')) as unknown;
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      typeof (parsed as LockOwner).machine === 'string' &&
      Number.isInteger((parsed as LockOwner).pid)
    )
      return parsed as LockOwner;
  } catch {
    // missing or half-written
  }
  return undefined;
}

/**
 * Moves the stale directory aside before deleting it: of several waiters that judged the same
 * directory stale, only one rename succeeds and the others go back to `mkdir`. (A waiter that
 * judged it stale and renames only after another waiter removed it and a third took a new lock
 * would still move the new one; the window is one rename wide and needs a dead holder to open.)
 */
async function removeStale(lockDir: string): Promise<void> {
  const aside = `${lockDir}.stale-${randomUUID()}`;
  try {
    await rename(lockDir, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await rm(aside, { recursive: true, force: true });
}
