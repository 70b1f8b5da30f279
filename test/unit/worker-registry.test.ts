import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attemptScratchPrefix } from '../../lib/domain/assignment.ts';
import {
  reapLeftoverWorkers,
  registerWorker,
  removeWorkerScratch,
  workersDir,
} from '../../lib/local/worker-registry.ts';

const dir = mkdtempSync(join(tmpdir(), 'worker-registry-'));
const children: number[] = [];
afterAll(() => {
  for (const pid of children) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

function sleeper() {
  const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  children.push(child.pid!);
  const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
  return { pid: child.pid!, exited };
}

describe('local worker pid files', () => {
  it('reaps a registered worker (its process group) and never a recycled pid', async () => {
    const worker = sleeper();
    registerWorker(dir, {
      pid: worker.pid,
      runId: 'run_x',
      attempt: '1',
      startedAt: new Date().toISOString(),
    });
    // A pid file whose start time does not match: the pid now names another process.
    const other = sleeper();
    writeFileSync(
      join(workersDir(dir), `${other.pid}.json`),
      JSON.stringify({
        pid: other.pid,
        startTime: '1',
        machine: 'x',
        runId: 'run_y',
        attempt: '1',
        startedAt: '',
      }),
    );
    expect(reapLeftoverWorkers(dir)).toBe(1);
    expect(await worker.exited).toBe('SIGKILL');
    expect(() => process.kill(other.pid, 0)).not.toThrow();
    expect(readdirSync(workersDir(dir))).toEqual([]);
  });

  it("removes an attempt's scratch, or every worker's, and nothing else", () => {
    const work = join(dir, 'work');
    for (const name of [
      `${attemptScratchPrefix('run_a', 1)}x`,
      `${attemptScratchPrefix('run_a', 2)}y`,
      'keep',
    ]) {
      mkdirSync(join(work, name, 'repo'), { recursive: true });
    }
    expect(removeWorkerScratch(work, attemptScratchPrefix('run_a', 1))).toBe(1);
    expect(readdirSync(work).sort()).toEqual([`${attemptScratchPrefix('run_a', 2)}y`, 'keep']);
    expect(removeWorkerScratch(work)).toBe(1);
    expect(readdirSync(work)).toEqual(['keep']);
  });
});
