import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { killProcessGroup } from '../process.ts';

/** `linux-amd64`, `darwin-arm64`, `windows-amd64`… for this process, or undefined. */
export function detectHostPlatform(): string | undefined {
  const osName = { linux: 'linux', darwin: 'darwin', win32: 'windows' }[process.platform as string];
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch as string];
  return osName && arch ? `${osName}-${arch}` : undefined;
}

export interface NetworkSandbox {
  /** `unshare` flags that worked, or `none`. */
  kind: 'unshare -rnpf' | 'unshare -npf' | 'unshare -rn' | 'unshare -n' | 'none';
  /** Command prefix placed before the binary (empty for `none`). */
  prefix: string[];
}

let cachedSandbox: Promise<NetworkSandbox> | undefined;

/**
 * Finds a working network sandbox once per process: `unshare` with a new network namespace
 * (no interfaces but a down loopback), preferably also a user namespace (works unprivileged) and
 * a PID namespace with `--kill-child` (a timeout kills every process the binary started).
 * Each variant is probed by running `true` in it.
 */
export function detectNetworkSandbox(): Promise<NetworkSandbox> {
  cachedSandbox ??= Promise.resolve().then(() => {
    const none: NetworkSandbox = { kind: 'none', prefix: [] };
    if (process.platform !== 'linux') return none;
    const unshare = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p));
    const truePath = ['/usr/bin/true', '/bin/true'].find((p) => existsSync(p));
    if (!unshare || !truePath) return none;
    const variants: Array<[NetworkSandbox['kind'], string[]]> = [
      ['unshare -rnpf', ['-r', '-n', '-p', '-f', '--kill-child']],
      ['unshare -npf', ['-n', '-p', '-f', '--kill-child']],
      ['unshare -rn', ['-r', '-n']],
      ['unshare -n', ['-n']],
    ];
    for (const [kind, flags] of variants) {
      const probe = spawnSync(unshare, [...flags, truePath], { stdio: 'ignore', timeout: 3_000, env: {} });
      if (probe.status === 0) return { kind, prefix: [unshare, ...flags] };
    }
    return none;
  });
  return cachedSandbox;
}

/** Proxy variables pointing at a closed local port: the fallback when no namespace is available. */
export const UNREACHABLE_PROXY_ENV: Readonly<Record<string, string>> = {
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  ALL_PROXY: 'http://127.0.0.1:9',
  http_proxy: 'http://127.0.0.1:9',
  https_proxy: 'http://127.0.0.1:9',
  all_proxy: 'http://127.0.0.1:9',
  NO_PROXY: '',
  no_proxy: '',
};

export interface RunAttempt {
  args: string[];
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** stdout then stderr, each cut at `maxOutputBytes`. */
  output: string;
}

export interface BinarySmokeOptions {
  file: string;
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** `auto` (default): use a network namespace when one works; `none`: never (tests). */
  sandbox?: 'auto' | 'none';
}

/**
 * Where a binary smoke ran: a local network namespace (`unshare …`), no sandbox (`none`: only
 * unreachable proxy variables), or the isolated SmokeBinary function on AWS (`isolated-lambda`:
 * in the VPC's isolated subnets with HTTPS only to the S3 endpoint and a role without data
 * access; see lib/verify/isolated-smoke.ts).
 */
export type SmokeSandboxKind = NetworkSandbox['kind'] | 'isolated-lambda';

export const SMOKE_SANDBOX_KINDS = [
  'unshare -rnpf',
  'unshare -npf',
  'unshare -rn',
  'unshare -n',
  'none',
  'isolated-lambda',
] as const satisfies readonly SmokeSandboxKind[];

export interface BinarySmokeResult {
  passed: boolean;
  problems: string[];
  sandbox: SmokeSandboxKind;
  attempts: RunAttempt[];
}

/**
 * The runner of a binary smoke failed itself (the remote smoke function errored or timed out, an
 * invalid response): not the candidate's fault. `verifyCandidate` rethrows it instead of failing
 * the candidate, so the task fails and the state machine's Retry / Catch handle it.
 */
export class SmokeRunnerError extends Error {
  /** Read by the task wrapper's `isTransient`: the state machine retries the task. */
  readonly $retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SmokeRunnerError';
  }
}

function runOnce(
  command: string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs: number; maxOutputBytes: number },
): Promise<Omit<RunAttempt, 'args'>> {
  return new Promise((resolve) => {
    const [cmd, ...args] = command as [string, ...string[]];
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
      windowsHide: true,
    });
    const out: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
    const sizes = { stdout: 0, stderr: 0 };
    const collect = (which: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const room = opts.maxOutputBytes - sizes[which];
      if (room > 0) out[which].push(chunk.subarray(0, room));
      sizes[which] += chunk.length;
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    let timedOut = false;
    const kill = () => killProcessGroup(child.pid, 'SIGKILL');
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    let settled = false;
    const finish = (exitCode: number | null, signal: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      kill(); // leftovers in the process group
      const output = [Buffer.concat(out.stdout), Buffer.concat(out.stderr)]
        .map((b) => b.toString('utf8'))
        .filter((s) => s.length > 0)
        .join('\n');
      resolve({ exitCode, signal, timedOut, output });
    };
    child.on('error', (err) => {
      out.stderr.push(Buffer.from(`spawn failed: ${err.message}`));
      finish(null, null);
    });
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/**
 * Runtime smoke of one binary for the runner's platform. The binary is copied into a fresh
 * scratch directory, made executable and run there as `<bin> --help` (then `<bin> --version`
 * if that does not succeed; not after a timeout) with: stdin on /dev/null, an environment of
 * only `PATH=/usr/bin:/bin` and `HOME=<scratch>`, a timeout (default 10 s; the whole process
 * group is killed), output cut at `maxOutputBytes` (default 16 KiB), and no network (a fresh
 * network namespace via `unshare`; when none works, proxy variables point at an unreachable
 * address and the result says `sandbox: 'none'`). Passes when an attempt exits 0 and prints
 * something (stdout or stderr). The scratch directory is removed afterwards.
 */
export async function smokeBinary(opts: BinarySmokeOptions): Promise<BinarySmokeResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxOutputBytes = opts.maxOutputBytes ?? 16 * 1024;
  const sandbox: NetworkSandbox =
    opts.sandbox === 'none' ? { kind: 'none', prefix: [] } : await detectNetworkSandbox();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'busdk-smoke-'));
  const attempts: RunAttempt[] = [];
  try {
    const bin = path.join(scratch, path.basename(opts.file));
    await copyFile(opts.file, bin);
    await chmod(bin, 0o755);
    const env: Record<string, string> = { PATH: '/usr/bin:/bin', HOME: scratch };
    if (sandbox.kind === 'none') Object.assign(env, UNREACHABLE_PROXY_ENV);
    for (const args of [['--help'], ['--version']]) {
      const r = await runOnce([...sandbox.prefix, bin, ...args], {
        cwd: scratch,
        env,
        timeoutMs,
        maxOutputBytes,
      });
      attempts.push({ args, ...r });
      if (r.timedOut || (r.exitCode === 0 && r.output.trim() !== '')) break;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const ok = attempts.some((a) => !a.timedOut && a.exitCode === 0 && a.output.trim() !== '');
  const problems = ok
    ? []
    : attempts.map((a) => {
        const what = a.timedOut
          ? `timed out after ${timeoutMs} ms`
          : a.exitCode === 0
            ? 'exited 0 but printed nothing'
            : a.exitCode === null
              ? `was killed by ${a.signal ?? 'an error'}`
              : `exited ${a.exitCode}`;
        const out = a.output.trim().slice(0, 300);
        return `${a.args.join(' ')} ${what}${out ? `; output: ${JSON.stringify(out)}` : ''}`;
      });
  return { passed: ok, problems, sandbox: sandbox.kind, attempts };
}
