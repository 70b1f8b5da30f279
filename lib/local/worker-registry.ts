import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKER_SCRATCH_PREFIX } from '../domain/assignment.ts';
import { log } from '../log.ts';
import { isProcessAlive, killProcessGroup, machineId } from '../process.ts';

/**
 * Pid files of the local worker processes (`<dataDir>/workers/<pid>.json`), so that a local stack
 * that died without its exit hook (SIGKILL, a crash, a power cut) does not leave orphaned workers
 * behind: the next start reaps them (`reapLeftoverWorkers`) before any new execution runs.
 *
 * A pid alone is not an identity (the kernel recycles them), so each file also records the
 * process's start time (field 22 of `/proc/<pid>/stat`) and the kernel's boot id: a process is
 * killed only when all three still match, i.e. it is the very process this stack started.
 * The worker leads its own process group (spawned `detached`), so the whole group is killed:
 * git, go build, a coder's commands go with it.
 */

export interface WorkerRecord {
  pid: number;
  /** `/proc/<pid>/stat` start time (clock ticks since boot); undefined where there is no /proc. */
  startTime: string | undefined;
  machine: string;
  runId: string;
  attempt: string;
  startedAt: string;
}

export const workersDir = (dataDir: string) => join(dataDir, 'workers');

/** The kernel's start time of a process, or undefined (no such process, no /proc). */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: fields start after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

export function registerWorker(dataDir: string, record: Omit<WorkerRecord, 'startTime' | 'machine'>): void {
  const dir = workersDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const full: WorkerRecord = { ...record, startTime: processStartTime(record.pid), machine: machineId() };
  writeFileSync(join(dir, `${record.pid}.json`), `${JSON.stringify(full)}\n`, { mode: 0o600 });
}

export function unregisterWorker(dataDir: string, pid: number): void {
  rmSync(join(workersDir(dataDir), `${pid}.json`), { force: true });
}

/** Whether the recorded process is still the one that was registered (not a recycled pid). */
export function isSameProcess(record: WorkerRecord): boolean {
  if (record.machine !== machineId() || !isProcessAlive(record.pid)) return false;
  const now = processStartTime(record.pid);
  return record.startTime !== undefined && now === record.startTime;
}

/**
 * Kills (SIGKILL, whole process group) every registered worker that is still the process that
 * was registered, and removes all pid files. Returns how many were killed.
 */
export function reapLeftoverWorkers(dataDir: string): number {
  const dir = workersDir(dataDir);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return 0;
  }
  let killed = 0;
  for (const name of names) {
    const file = join(dir, name);
    try {
      const record = JSON.parse(readFileSync(file, 'utf8')) as WorkerRecord;
      if (Number.isInteger(record.pid) && record.pid > 1 && isSameProcess(record)) {
        killProcessGroup(record.pid, 'SIGKILL');
        killed++;
        log.warn('local stack: killed a worker left by a previous stack', {
          pid: record.pid,
          runId: record.runId,
          attempt: record.attempt,
        });
      }
    } catch {
      // An unreadable pid file names no process we can trust; it goes.
    }
    rmSync(file, { force: true });
  }
  return killed;
}

/**
 * Removes worker scratch directories under `workDir` whose names start with `prefix` (default:
 * every worker's). Only call it when no worker that could own one is alive. Returns how many.
 */
export function removeWorkerScratch(workDir: string, prefix = WORKER_SCRATCH_PREFIX): number {
  let names: string[];
  try {
    names = readdirSync(workDir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    rmSync(join(workDir, name), { recursive: true, force: true, maxRetries: 3 });
    removed++;
  }
  return removed;
}
