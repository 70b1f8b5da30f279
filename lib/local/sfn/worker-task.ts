import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { attemptScratchPrefix } from '../../domain/assignment.ts';
import { killProcessGroup } from '../../process.ts';
import { registerWorker, removeWorkerScratch, unregisterWorker } from '../worker-registry.ts';
import { AslTaskError } from './errors.ts';

/**
 * Local emulation of `arn:aws:states:::ecs:runTask.sync`: the worker container becomes a child
 * process running the worker program, with the container's environment contract (the base env
 * the stack provides + the task's `ContainerOverrides` environment: RUN_ID, ATTEMPT).
 *
 * Outcomes, as Step Functions reports them for an ECS task:
 * - exit 0 → the state succeeds with an ECS-like task description;
 * - a non-zero exit, or death by a signal (a crash; exit code 128 + signal number, like Docker) →
 *   `States.TaskFailed`, Cause = the stopped task as JSON (`StopCode: EssentialContainerExited`,
 *   `Containers[0].ExitCode`);
 * - the program cannot be started → `States.TaskFailed` with `StopCode: TaskFailedToStart`;
 * - the state's `TimeoutSeconds` elapsing → the runner raises `States.Timeout` and the process
 *   group gets SIGTERM, then SIGKILL after a grace period (ECS's stopTimeout).
 *
 * The child runs in its own process group (so a timeout or a stop also ends whatever the worker
 * spawned: git, go build, a coder), and the group is killed when the local stack's process exits.
 * stdout/stderr go to `<logDir>/worker-<runId>-<attempt>.log` (internal; never served).
 */

export interface WorkerProcessOptions {
  /** argv of the worker program. Default: Node + tsx running `<root>/worker-image/src/main.ts`. */
  command?: string[];
  /** The container's base environment. Default: this process's environment at spawn time. */
  env?: NodeJS.ProcessEnv | (() => NodeJS.ProcessEnv);
  /** Working directory. Default: root. */
  cwd?: string;
  /** SIGTERM → SIGKILL grace period, like ECS's stopTimeout. Default 30 000 ms. */
  killGraceMs?: number;
  /**
   * The local stack's data dir: each live worker has a pid file under `<dataDir>/workers/` so the
   * next start can reap it if this process dies without its exit hook (worker-registry.ts).
   */
  dataDir?: string;
}

export const DEFAULT_KILL_GRACE_MS = 30_000;

/** `node --import <tsx loader> <root>/worker-image/src/main.ts`: one process (no tsx CLI wrapper). */
export function defaultWorkerCommand(root: string): string[] {
  return [
    process.execPath,
    '--import',
    pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href,
    join(root, 'worker-image/src/main.ts'),
  ];
}

// Process groups of live workers; killed if this process exits without stopping them.
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of liveGroups) killProcessGroup(pid, 'SIGKILL');
  });
}

interface ContainerOverride {
  Name?: string;
  Environment?: { Name?: string; Value?: string }[];
}

export interface RunTaskParameters {
  Cluster?: string;
  TaskDefinition?: string;
  Overrides?: { ContainerOverrides?: ContainerOverride[] };
}

/** The container overrides' environment (the `worker` container's, else the first one's). */
export function overrideEnvironment(parameters: RunTaskParameters): Record<string, string> {
  const overrides = parameters.Overrides?.ContainerOverrides ?? [];
  const container = overrides.find((c) => c.Name === 'worker') ?? overrides[0];
  const env: Record<string, string> = {};
  for (const { Name, Value } of container?.Environment ?? []) {
    if (typeof Name === 'string' && Name !== '') env[Name] = String(Value ?? '');
  }
  return env;
}

function safeFilePart(value: string | undefined, fallback: string): string {
  const cleaned = (value ?? '').replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100);
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? fallback : cleaned;
}

interface StoppedTask {
  exitCode?: number;
  stopCode: 'EssentialContainerExited' | 'TaskFailedToStart' | 'UserInitiated';
  stoppedReason: string;
  containerReason?: string;
}

/**
 * One execution's worker slot: at most one worker process at a time. A new RunWorker waits for
 * the previous process (e.g. one still being killed after a timeout) to be gone before it spawns,
 * so a run never has two workers.
 */
export class WorkerSlot {
  private previous: Promise<void> = Promise.resolve();
  private stopCurrent: ((reason: string) => void) | undefined;
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly logDir: string,
    private readonly options: WorkerProcessOptions = {},
  ) {}

  /** Resolves once no worker process of this slot is alive. */
  idle(): Promise<void> {
    return this.previous;
  }

  /** Stops the live worker (SIGTERM, then SIGKILL after the grace period) and refuses new ones. */
  close(reason: string): void {
    this.closed = true;
    this.stopCurrent?.(reason);
  }

  /** Emulates one `ecs:runTask.sync`. `timeoutMs` is the state's TimeoutSeconds. */
  async runTask(parameters: RunTaskParameters, timeoutMs: number): Promise<unknown> {
    await this.previous;
    if (this.closed) throw new AslTaskError('States.Runtime', 'the execution is no longer running');
    let release!: () => void;
    this.previous = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      return await this.spawnWorker(parameters, timeoutMs);
    } finally {
      this.stopCurrent = undefined;
      release();
    }
  }

  private spawnWorker(parameters: RunTaskParameters, timeoutMs: number): Promise<unknown> {
    const overrides = overrideEnvironment(parameters);
    const baseEnv =
      typeof this.options.env === 'function' ? this.options.env() : (this.options.env ?? process.env);
    const env: NodeJS.ProcessEnv = { ...baseEnv, ...overrides };
    const [file, ...args] = this.options.command ?? defaultWorkerCommand(this.root);
    if (!file) throw new AslTaskError('States.Runtime', 'the worker command is empty');
    const graceMs = this.options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;

    mkdirSync(this.logDir, { recursive: true, mode: 0o700 });
    const logFile = join(
      this.logDir,
      `worker-${safeFilePart(overrides.RUN_ID, 'unknown')}-${safeFilePart(overrides.ATTEMPT, '0')}.log`,
    );
    const taskId = randomUUID().replaceAll('-', '');
    const cluster = parameters.Cluster ?? 'local';
    const clusterName = cluster.split('/').pop() ?? 'local';
    const taskArn = cluster.startsWith('arn:')
      ? `${cluster.replace(':cluster/', ':task/')}/${taskId}`
      : `arn:aws:ecs:local:000000000000:task/${clusterName}/${taskId}`;
    const startedAt = Date.now();
    const describe = (stopped: StoppedTask) => ({
      Attachments: [],
      ClusterArn: cluster,
      TaskArn: taskArn,
      TaskDefinitionArn: parameters.TaskDefinition,
      LaunchType: 'FARGATE',
      DesiredStatus: 'STOPPED',
      LastStatus: 'STOPPED',
      StartedAt: startedAt,
      StoppedAt: Date.now(),
      StopCode: stopped.stopCode,
      StoppedReason: stopped.stoppedReason,
      Containers: [
        {
          Name: 'worker',
          TaskArn: taskArn,
          LastStatus: 'STOPPED',
          ...(stopped.exitCode === undefined ? {} : { ExitCode: stopped.exitCode }),
          ...(stopped.containerReason === undefined ? {} : { Reason: stopped.containerReason }),
        },
      ],
      Overrides: parameters.Overrides ?? {},
    });

    appendFileSync(logFile, `# local RunWorker ${taskArn} started ${new Date(startedAt).toISOString()}\n`, {
      mode: 0o600,
    });
    const fd = openSync(logFile, 'a', 0o600);
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      let stopReason: 'timeout' | 'stopped' | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      const child = spawn(file, args, {
        cwd: this.options.cwd ?? this.root,
        env,
        stdio: ['ignore', fd, fd],
        detached: process.platform !== 'win32',
      });
      closeSync(fd);
      const pid = child.pid;
      if (pid !== undefined) {
        installExitHook();
        liveGroups.add(pid);
        if (this.options.dataDir) {
          registerWorker(this.options.dataDir, {
            pid,
            runId: overrides.RUN_ID ?? '',
            attempt: overrides.ATTEMPT ?? '',
            startedAt: new Date(startedAt).toISOString(),
          });
        }
      }

      const stop = (why: 'timeout' | 'stopped') => {
        if (settled || stopReason || pid === undefined) return;
        stopReason = why;
        killProcessGroup(pid, 'SIGTERM');
        killTimer = setTimeout(() => killProcessGroup(pid, 'SIGKILL'), graceMs);
      };
      const timeoutTimer = setTimeout(() => stop('timeout'), timeoutMs);
      this.stopCurrent = () => stop('stopped');
      if (this.closed) stop('stopped');

      const finish = (stopped: StoppedTask) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeoutTimer);
        clearTimeout(killTimer);
        if (pid !== undefined) {
          // The essential container exited: the task stops, and so does everything it started.
          killProcessGroup(pid, 'SIGKILL');
          liveGroups.delete(pid);
          if (this.options.dataDir) unregisterWorker(this.options.dataDir, pid);
        }
        // The worker removes its scratch directory itself, except when it was killed or stopped:
        // whatever of this attempt's scratch is left goes now that nothing of it is alive.
        if (env.WORK_DIR && overrides.RUN_ID && overrides.ATTEMPT) {
          try {
            removeWorkerScratch(env.WORK_DIR, attemptScratchPrefix(overrides.RUN_ID, overrides.ATTEMPT));
          } catch {
            // Best effort: the next start removes leftovers.
          }
        }
        const summary =
          stopped.exitCode === undefined ? stopped.stoppedReason : `exit code ${stopped.exitCode}`;
        try {
          appendFileSync(logFile, `\n# local RunWorker stopped ${new Date().toISOString()}: ${summary}\n`);
        } catch {
          // The log is best effort.
        }
        const task = describe(stopped);
        if (stopReason === 'timeout') {
          reject(
            new AslTaskError(
              'States.Timeout',
              `The worker did not finish within ${timeoutMs / 1000} s and was stopped.`,
            ),
          );
        } else if (stopped.exitCode === 0 && stopped.stopCode === 'EssentialContainerExited') {
          resolve(task);
        } else {
          reject(new AslTaskError('States.TaskFailed', JSON.stringify(task)));
        }
      };

      child.once('error', (err) => {
        if (pid !== undefined && !settled) {
          // An error after a successful spawn (e.g. a failed kill) is not the end of the process.
          return;
        }
        finish({
          stopCode: 'TaskFailedToStart',
          stoppedReason: `CannotStartContainerError: ${err.message}`,
          containerReason: `CannotStartContainerError: ${err.message}`,
        });
      });
      child.once('exit', (code, signal) => {
        const exitCode = code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1);
        finish({
          exitCode,
          stopCode: stopReason === 'stopped' ? 'UserInitiated' : 'EssentialContainerExited',
          stoppedReason:
            stopReason === 'stopped'
              ? 'Task stopped by the local Step Functions runner (execution stopped)'
              : stopReason === 'timeout'
                ? 'Task stopped by the local Step Functions runner (state timed out)'
                : 'Essential container in task exited',
        });
      });
    });
  }
}
