import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { WorkerAssignment } from '../../lib/domain/assignment.ts';
import type { CommandUser } from './command-user.ts';

/**
 * The environment of build and test commands. It is built from an allow-list, not inherited:
 * the commands run code the coder wrote (`go test` executes it), so AWS credentials, table and
 * bucket names and anything else of the worker's never reach them. Go runs offline
 * (`GOPROXY=off`; the template is standard library only) and without cgo.
 */
const PASS_THROUGH = [
  'PATH',
  'HOME',
  'TMPDIR',
  'LANG',
  'LC_ALL',
  'TZ',
  'XDG_CACHE_HOME',
  'GOROOT',
  'GOPATH',
  'GOCACHE',
  'GOMODCACHE',
];

export function commandEnv(
  assignment: Pick<WorkerAssignment, 'runId' | 'artifactType' | 'platforms'>,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of PASS_THROUGH) {
    const value = base[name];
    if (value) env[name] = value;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  Object.assign(env, {
    CGO_ENABLED: '0',
    GOPROXY: 'off',
    GOSUMDB: 'off',
    GOTOOLCHAIN: 'local',
    GOTELEMETRY: 'off',
    GIT_TERMINAL_PROMPT: '0',
    ARTIFACT_TYPE: assignment.artifactType,
    RUN_ID: assignment.runId,
  });
  if (assignment.platforms.length > 0) env.PLATFORMS = assignment.platforms.join(' ');
  return env;
}

/**
 * Go trims build-cache entries unused for five days, once a day, at the end of a go command. In a
 * container started from an image built more than five days ago, the first `go vet` would delete
 * the cache warmed at image build for every other platform. Recording "trimmed just now" in the
 * cache's `trim.txt` postpones trimming by a day, which outlives any worker. Best effort. With a
 * command user the file stays that user's (the cache is the commands', the worker runs as root).
 */
export async function holdGoCacheTrim(
  goCache: string | undefined,
  now = new Date(),
  user?: CommandUser,
): Promise<boolean> {
  if (!goCache) return false;
  try {
    if (!(await stat(goCache)).isDirectory()) return false;
    // The cache may be the command user's: never follow a link planted there.
    const handle = await open(
      path.join(goCache, 'trim.txt'),
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
      0o644,
    );
    try {
      await handle.writeFile(`${Math.floor(now.getTime() / 1000)}\n`);
      if (user) await handle.chown(user.uid, user.gid);
    } finally {
      await handle.close();
    }
    return true;
  } catch {
    return false;
  }
}
