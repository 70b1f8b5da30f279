import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { WorkerAssignment } from '../../lib/domain/assignment.ts';

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
 * cache's `trim.txt` postpones trimming by a day, which outlives any worker. Best effort.
 */
export async function holdGoCacheTrim(goCache: string | undefined, now = new Date()): Promise<boolean> {
  if (!goCache) return false;
  try {
    if (!(await stat(goCache)).isDirectory()) return false;
    await writeFile(path.join(goCache, 'trim.txt'), `${Math.floor(now.getTime() / 1000)}\n`);
    return true;
  } catch {
    return false;
  }
}
