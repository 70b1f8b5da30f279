import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** Whether a process with this id exists (EPERM: it exists but belongs to another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let cachedMachineId: string | undefined;

/**
 * Names the kernel this process runs on: the host name plus the kernel's boot id. Two processes
 * with the same machine id share a process table, so one can tell whether the other's pid is
 * alive; processes in different Lambda sandboxes, containers or hosts get different ids (each
 * Firecracker micro-VM boots its own kernel, containers on one host differ by host name).
 */
export function machineId(): string {
  if (cachedMachineId === undefined) {
    let bootId = 'no-boot-id';
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || bootId;
    } catch {
      // not Linux: the host name alone
    }
    cachedMachineId = `${hostname()}/${bootId}`;
  }
  return cachedMachineId;
}

/**
 * Signals a child's whole process group (the child was spawned `detached`, so it leads one):
 * whatever it started goes with it and releases its pipes. Falls back to the child alone where
 * there are no process groups (Windows) or the group is already gone; never throws.
 */
export function killProcessGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(process.platform === 'win32' ? pid : -pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // ESRCH: already gone
    }
  }
}
