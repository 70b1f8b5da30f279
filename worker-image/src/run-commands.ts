import { type ChildProcess, spawn } from 'node:child_process';
import { killProcessGroup } from '../../lib/process.ts';
import { type CommandUser, endCommandUserProcesses, spawnIdentity } from './command-user.ts';
import type { WorkerLog } from './log.ts';

/**
 * Runs assignment commands: argv arrays, never a shell, each in its own process group so that a
 * timeout or a worker stop kills the whole tree (`go run` and `go test` start children of their
 * own). Output (stdout and stderr, interleaved as it arrives) is captured into the internal log,
 * truncated in the middle when it is long. With a command user (`COMMAND_USER`) the command runs
 * as that uid/gid, and once it has ended every process of that user is killed, so nothing it
 * started outside its process group keeps running while the worker (root) works in the worktree.
 */

export interface CommandResult {
  argv: readonly string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The command could not be started (e.g. the program does not exist). */
  spawnError?: string;
  durationMs: number;
  /** Captured output, truncated to `maxOutputBytes` (head and tail kept). */
  output: string;
  ok: boolean;
}

export interface RunCommandOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  log: WorkerLog;
  /** Output bytes kept per command (default 256 KiB). */
  maxOutputBytes?: number;
  /** Grace period between SIGTERM and SIGKILL on timeout (default 5 s). */
  killGraceMs?: number;
  /** Run as this unprivileged user (the worker must be root); default: the worker's own user. */
  user?: CommandUser;
}

const running = new Set<ChildProcess>();
let stopping = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  killProcessGroup(child.pid, signal);
}

/** Kills every running command's process group and refuses new ones (worker timeout / SIGTERM). */
export function killAllCommands(signal: NodeJS.Signals = 'SIGKILL'): number {
  stopping = true;
  let count = 0;
  for (const child of running) {
    killGroup(child, signal);
    count++;
  }
  return count;
}

/** Keeps the first and last part of a long output. */
class OutputBuffer {
  private head: Buffer[] = [];
  private headSize = 0;
  private tail: Buffer[] = [];
  private tailSize = 0;
  private dropped = 0;

  constructor(
    private readonly headLimit: number,
    private readonly tailLimit: number,
  ) {}

  push(chunk: Buffer): void {
    if (this.tail.length === 0 && this.headSize < this.headLimit) {
      const take = Math.min(chunk.length, this.headLimit - this.headSize);
      this.head.push(chunk.subarray(0, take));
      this.headSize += take;
      chunk = chunk.subarray(take);
      if (chunk.length === 0) return;
    }
    this.tail.push(chunk);
    this.tailSize += chunk.length;
    while (this.tailSize > this.tailLimit) {
      const first = this.tail[0]!;
      const excess = this.tailSize - this.tailLimit;
      if (first.length <= excess) {
        this.tail.shift();
        this.tailSize -= first.length;
        this.dropped += first.length;
      } else {
        this.tail[0] = first.subarray(excess);
        this.tailSize -= excess;
        this.dropped += excess;
      }
    }
  }

  toString(): string {
    const head = Buffer.concat(this.head).toString('utf8');
    const tail = Buffer.concat(this.tail).toString('utf8');
    return this.dropped > 0 ? `${head}\n… ${this.dropped} bytes of output omitted …\n${tail}` : head + tail;
  }
}

export async function runCommand(argv: readonly string[], opts: RunCommandOptions): Promise<CommandResult> {
  const started = Date.now();
  const label = argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
  const max = opts.maxOutputBytes ?? 256 * 1024;
  const output = new OutputBuffer(Math.floor(max / 4), max - Math.floor(max / 4));
  const program = argv[0];
  const fail = (spawnError: string): CommandResult => {
    opts.log.line(`$ ${label}: could not start (${spawnError})`);
    return {
      argv,
      exitCode: null,
      signal: null,
      timedOut: false,
      spawnError,
      durationMs: Date.now() - started,
      output: '',
      ok: false,
    };
  };
  if (!program) return fail('empty command');
  if (stopping) return fail('the worker is stopping');

  opts.log.line(`$ ${label}`);
  return new Promise<CommandResult>((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(program, argv.slice(1), {
        cwd: opts.cwd,
        env: opts.env,
        shell: false,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
        ...spawnIdentity(opts.user),
      });
    } catch (err) {
      resolve(fail(err instanceof Error ? err.message : String(err)));
      return;
    }
    running.add(child);
    let timedOut = false;
    let spawnError: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), opts.killGraceMs ?? 5000);
    }, opts.timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
    child.on('error', (err) => {
      spawnError = (err as NodeJS.ErrnoException).code ?? err.message;
    });
    child.on('exit', () => {
      // Anything the command left running in its group goes with it (and releases the pipes).
      killProcessGroup(child.pid, 'SIGKILL');
    });
    child.on('close', async (exitCode, signal) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      await endCommandUserProcesses(opts.user);
      running.delete(child);
      const text = output.toString();
      opts.log.block(text);
      const durationMs = Date.now() - started;
      const result: CommandResult = {
        argv,
        exitCode,
        signal,
        timedOut,
        durationMs,
        output: text,
        ok: exitCode === 0 && !timedOut && !spawnError,
      };
      if (spawnError) result.spawnError = spawnError;
      opts.log.line(
        `$ ${label}: ${
          spawnError
            ? `could not start (${spawnError})`
            : timedOut
              ? `timed out after ${opts.timeoutMs} ms`
              : signal
                ? `killed by ${signal}`
                : `exit ${exitCode}`
        } in ${durationMs} ms`,
      );
      resolve(result);
    });
  });
}

/** The last `lines` lines (at most `maxChars` characters) of a command's output, for a failure reason. */
export function outputTail(output: string, lines = 40, maxChars = 4000): string {
  const tail = output.replace(/\s+$/, '').split(/\r?\n/).slice(-lines).join('\n');
  return tail.length > maxChars ? tail.slice(tail.length - maxChars) : tail;
}

/** One line describing how a command ended, for a failure reason. */
export function describeFailure(result: CommandResult): string {
  const cmd = result.argv.join(' ');
  if (result.spawnError) return `${cmd} could not start (${result.spawnError})`;
  if (result.timedOut) return `${cmd} timed out`;
  if (result.signal) return `${cmd} was killed by ${result.signal}`;
  return `${cmd} exited with code ${result.exitCode}`;
}
