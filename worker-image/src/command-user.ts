import { execFile } from 'node:child_process';
import { chmod, chown, lchown, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * `COMMAND_USER`: the unprivileged identity untrusted commands run as (the template's test and
 * build commands, `go test` executing code a model wrote, and the external agent of
 * `CODER=command`). The worker itself runs as root so that it can switch to that user; a command
 * running as another uid cannot read the worker's `/proc/<pid>/environ` (the ECS credentials URI,
 * API keys), its memory or its root-only files, and cannot signal it.
 *
 * Layout of one attempt when the user is set (`scratch` is the attempt's `mkdtemp` directory):
 *
 *   scratch/        root 0711  traversable, not listable: the user reaches only names it knows
 *   scratch/git/    root 0700  the clone's git directory (`--separate-git-dir`); the worktree has
 *                              no `.git`, so nothing the user writes is ever read as git config,
 *                              hooks or attributes drivers by the worker's (root) git
 *   scratch/repo/   user       the worktree (sources, dist/)
 *   scratch/home/   user 0700  HOME of the commands; home/tmp is their TMPDIR
 */

export interface CommandUser {
  uid: number;
  gid: number;
}

/** Where one attempt's commands run as the command user (see the layout above). */
export interface CommandSandbox extends CommandUser {
  /** HOME of the commands (owned by the user). */
  home: string;
  /** TMPDIR of the commands (owned by the user). */
  tmp: string;
}

const MAX_ID = 2 ** 31 - 2;

/** `uid:gid` → ids; `undefined` for an empty value. Root (0) is refused: it would isolate nothing. */
export function parseCommandUser(raw: string | undefined): CommandUser | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  const match = /^(\d{1,10}):(\d{1,10})$/.exec(value);
  if (!match) throw new Error('COMMAND_USER must be uid:gid (numbers, e.g. 10002:10002)');
  const uid = Number(match[1]);
  const gid = Number(match[2]);
  if (uid < 1 || gid < 1 || uid > MAX_ID || gid > MAX_ID) {
    throw new Error('COMMAND_USER must name a non-root uid and gid');
  }
  return { uid, gid };
}

/** Spawn options that run a child as the user (Node drops the supplementary groups too). */
export function spawnIdentity(user: CommandUser | undefined): { uid?: number; gid?: number } {
  return user ? { uid: user.uid, gid: user.gid } : {};
}

/** The command environment with the sandbox's HOME, TMPDIR and cache base (nothing of root's). */
export function sandboxEnv(env: NodeJS.ProcessEnv, sandbox: CommandSandbox | undefined): NodeJS.ProcessEnv {
  if (!sandbox) return env;
  return {
    ...env,
    HOME: sandbox.home,
    TMPDIR: sandbox.tmp,
    XDG_CACHE_HOME: path.join(sandbox.home, '.cache'),
  };
}

/**
 * Prepares `scratch` (a fresh root-owned directory) for an attempt: makes it traversable only and
 * creates the user's HOME and TMPDIR. The worktree is handed over after the clone
 * ({@link giveToCommandUser}).
 */
export async function prepareSandbox(scratch: string, user: CommandUser): Promise<CommandSandbox> {
  await chmod(scratch, 0o711);
  const home = path.join(scratch, 'home');
  const tmp = path.join(home, 'tmp');
  await mkdir(home, { mode: 0o700 });
  await mkdir(tmp, { mode: 0o700 });
  await chown(home, user.uid, user.gid);
  await chown(tmp, user.uid, user.gid);
  return { ...user, home, tmp };
}

/**
 * Gives every entry below (and including) `dir` that is not yet the user's to the user, without
 * following symbolic links (they are left as they are) and skipping regular files with more than
 * one link (a hard link the user made to a file of root's must not become the user's). Run only
 * while no process of the user is alive ({@link endCommandUserProcesses}), so nothing can swap a
 * directory for a link during the walk.
 */
export async function giveToCommandUser(dir: string, user: CommandUser): Promise<number> {
  let changed = 0;
  const visit = async (abs: string): Promise<void> => {
    const info = await lstat(abs);
    if (info.isSymbolicLink()) return;
    if (info.isFile() && info.nlink > 1) return;
    if (!info.isFile() && !info.isDirectory()) return;
    if (info.uid !== user.uid || info.gid !== user.gid) {
      await lchown(abs, user.uid, user.gid);
      changed++;
    }
    if (info.isDirectory()) {
      for (const name of await readdir(abs)) await visit(path.join(abs, name));
    }
  };
  await visit(dir);
  return changed;
}

/**
 * Kills every process of the user except the killer itself (`kill -KILL -1` run as the user: the
 * kernel signals exactly the processes that user may signal). A command that left its process
 * group (setsid, a daemon) does not outlive the command. Never throws.
 */
export function endCommandUserProcesses(user: CommandUser | undefined): Promise<void> {
  if (!user) return Promise.resolve();
  return new Promise((resolve) => {
    execFile(
      '/bin/sh',
      ['-c', 'kill -9 -1 2>/dev/null; exit 0'],
      { ...spawnIdentity(user), env: { PATH: '/usr/bin:/bin' }, cwd: '/', timeout: 10_000 },
      () => resolve(),
    );
  });
}
