/**
 * Shared by the Go template tests: the host platform, an offline go environment with one shared
 * build cache, command runners and a copy of the template without its dist/. Skips are decided
 * by the caller (`GO` is undefined when `go` is not installed).
 */
import { spawnSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TEMPLATE = fileURLToPath(new URL('../../template-repo/', import.meta.url));
export const STEP_TIMEOUT_MS = 180_000;

export function goInfo(): { host: string; cache: string } | undefined {
  const r = spawnSync('go', ['env', 'GOOS', 'GOARCH', 'GOCACHE'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  const [goos, goarch, cache] = r.stdout.trim().split('\n');
  return { host: `${goos}-${goarch}`, cache: cache ?? '' };
}

export const GO = goInfo();
if (!GO) {
  console.warn('template tests: `go` is not installed; skipping the Go template tests (CI installs Go).');
}
export const HOST = GO?.host ?? 'linux-amd64';

/** Environment for every go command: offline, no toolchain download, one shared build cache. */
export function goEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CGO_ENABLED: '0', // matches the build command, so vet/test/build share one cache
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    GOWORK: 'off',
    GOFLAGS: '',
  };
  if (!GO?.cache || GO.cache === 'off') env.GOCACHE = path.join(tmpdir(), 'busdk-template-gocache');
  if (!process.env.HOME && !process.env.GOPATH) env.GOPATH = path.join(tmpdir(), 'busdk-template-gopath');
  delete env.PLATFORMS;
  delete env.ARTIFACT_TYPE;
  delete env.VERSION;
  return { ...env, ...extra };
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, stdin?: string): Run {
  const r = spawnSync(cmd, args, { cwd, env, input: stdin ?? '', encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function mustRun(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Run {
  const r = run(cmd, args, cwd, env);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

export function copyTemplate(dir: string): void {
  cpSync(TEMPLATE, dir, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(TEMPLATE, src);
      return rel !== 'dist' && !rel.startsWith(`dist${path.sep}`);
    },
  });
}
