import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, copyFile, mkdtemp, rm } from 'node:fs/promises';
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
  /** Run the binary as this unprivileged user (the worker's `COMMAND_USER`, in the coder's self-check). */
  runAs?: RunAs;
}

/** An unprivileged user a candidate runs as. */
export interface RunAs {
  uid: number;
  gid: number;
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

/** What one sandboxed run produced: each stream cut at the cap. */
export interface SandboxedRun {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** Set when the process could not be started at all. */
  spawnError?: string;
}

export interface SandboxedRunOptions {
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  /** Cap per stream. */
  maxOutputBytes: number;
  /** Written to the child's standard input, which is then closed; unset: /dev/null. */
  stdin?: string;
  runAs?: RunAs;
}

/**
 * Runs `command` (an argument array: no shell) as the leader of its own process group with the
 * given environment and working directory, kills the whole group on timeout and afterwards (a
 * leftover never outlives the run), and collects stdout and stderr up to the cap each. Put the
 * {@link NetworkSandbox} prefix in front of the command to run it without network.
 */
export function runSandboxed(command: string[], opts: SandboxedRunOptions): Promise<SandboxedRun> {
  return new Promise((resolve) => {
    const [cmd, ...args] = command as [string, ...string[]];
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
      windowsHide: true,
      ...(opts.runAs && { uid: opts.runAs.uid, gid: opts.runAs.gid }),
    });
    const out: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
    const sizes = { stdout: 0, stderr: 0 };
    const collect = (which: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const room = opts.maxOutputBytes - sizes[which];
      if (room > 0) out[which].push(chunk.subarray(0, room));
      sizes[which] += chunk.length;
    };
    child.stdout?.on('data', collect('stdout'));
    child.stderr?.on('data', collect('stderr'));
    if (child.stdin) {
      // A binary that exits without reading its input closes the pipe: not an error of the run.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.stdin);
    }
    let timedOut = false;
    let spawnError: string | undefined;
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
      resolve({
        exitCode,
        signal,
        timedOut,
        stdout: Buffer.concat(out.stdout).toString('utf8'),
        stderr: Buffer.concat(out.stderr).toString('utf8'),
        ...(spawnError !== undefined && { spawnError }),
      });
    };
    child.on('error', (err) => {
      spawnError = `spawn failed: ${err.message}`;
      finish(null, null);
    });
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** The environment a candidate binary runs with: `PATH`, `HOME`, and unreachable proxies without a namespace. */
export function sandboxEnv(sandbox: NetworkSandbox, home: string): Record<string, string> {
  const env: Record<string, string> = { PATH: '/usr/bin:/bin', HOME: home };
  if (sandbox.kind === 'none') Object.assign(env, UNREACHABLE_PROXY_ENV);
  return env;
}

/** The sandbox for a run: none when asked for `none`, else the detected one. */
export async function sandboxFor(mode: 'auto' | 'none' | undefined): Promise<NetworkSandbox> {
  return mode === 'none' ? { kind: 'none', prefix: [] } : detectNetworkSandbox();
}

/**
 * A fresh scratch directory holding an executable copy of `file` (the worker can no longer change
 * it); `use` runs with the copy's path and the directory, which is removed afterwards.
 */
export async function withScratchCopy<T>(
  file: string,
  use: (bin: string, scratch: string) => Promise<T>,
  runAs?: RunAs,
): Promise<T> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'busdk-smoke-'));
  try {
    const bin = path.join(scratch, path.basename(file));
    await copyFile(file, bin);
    await chmod(bin, 0o755);
    // The user the binary runs as owns its scratch directory (its HOME and working directory).
    if (runAs) {
      await chown(scratch, runAs.uid, runAs.gid);
      await chown(bin, runAs.uid, runAs.gid);
    }
    return await use(bin, scratch);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
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
  const sandbox = await sandboxFor(opts.sandbox);
  const attempts: RunAttempt[] = [];
  await withScratchCopy(
    opts.file,
    async (bin, scratch) => {
      const env = sandboxEnv(sandbox, scratch);
      for (const args of [['--help'], ['--version']]) {
        const r = await runSandboxed([...sandbox.prefix, bin, ...args], {
          cwd: scratch,
          env,
          timeoutMs,
          maxOutputBytes,
          ...(opts.runAs && { runAs: opts.runAs }),
        });
        const output = [r.stdout, r.stderr, r.spawnError ?? ''].filter((s) => s.length > 0).join('\n');
        attempts.push({ args, exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut, output });
        if (r.timedOut || (r.exitCode === 0 && output.trim() !== '')) break;
      }
    },
    opts.runAs,
  );
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
