import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WorkerLog } from '../../worker-image/src/log.ts';
import { describeFailure, outputTail, runCommand } from '../../worker-image/src/run-commands.ts';

let dir: string;
let log: WorkerLog;
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

function processRunning(args: string): boolean {
  return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .some((line) => line.trim() === args);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'worker-cmd-'));
  log = new WorkerLog({ secrets: ['top-secret-value'], echo: null });
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('runCommand', () => {
  it('runs argv without a shell and captures output into the log', async () => {
    const result = await runCommand(['echo', '$(id)', '; rm -rf /', 'top-secret-value'], {
      cwd: dir,
      env,
      timeoutMs: 10_000,
      log,
    });
    expect(result).toMatchObject({ ok: true, exitCode: 0, timedOut: false });
    expect(result.output).toBe('$(id) ; rm -rf / top-secret-value\n');
    expect(log.text()).toContain('  | $(id) ; rm -rf / [redacted]');
    expect(log.text()).not.toContain('top-secret-value');
  });

  it('runs in the given directory with exactly the given environment', async () => {
    const result = await runCommand(['sh', '-c', 'pwd; echo "[$HOME][$PLATFORMS]"'], {
      cwd: dir,
      env: { ...env, PLATFORMS: 'linux-amd64' },
      timeoutMs: 10_000,
      log,
    });
    expect(result.output).toBe(`${dir}\n[][linux-amd64]\n`);
  });

  it('reports a non-zero exit with the tail of the output', async () => {
    const result = await runCommand(['sh', '-c', 'for i in 1 2 3 4 5; do echo line $i; done; exit 7'], {
      cwd: dir,
      env,
      timeoutMs: 10_000,
      log,
    });
    expect(result).toMatchObject({ ok: false, exitCode: 7 });
    expect(describeFailure(result)).toBe(
      'sh -c for i in 1 2 3 4 5; do echo line $i; done; exit 7 exited with code 7',
    );
    expect(outputTail(result.output, 2)).toBe('line 4\nline 5');
    expect(log.text()).toMatch(/exit 7 in \d+ ms/);
  });

  it('reports a program that does not exist', async () => {
    const result = await runCommand(['no-such-program-xyz'], { cwd: dir, env, timeoutMs: 10_000, log });
    expect(result.ok).toBe(false);
    expect(result.spawnError).toBe('ENOENT');
    expect(describeFailure(result)).toContain('could not start (ENOENT)');
  });

  it('kills the whole process group on timeout', async () => {
    const marker = '543.21';
    const started = Date.now();
    const result = await runCommand(['sh', '-c', `sleep ${marker} & sleep ${marker}; echo never`], {
      cwd: dir,
      env,
      timeoutMs: 500,
      killGraceMs: 500,
      log,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result).toMatchObject({ ok: false, timedOut: true });
    expect(describeFailure(result)).toContain('timed out');
    expect(processRunning(`sleep ${marker}`)).toBe(false);
  });

  it('does not wait for background processes the command left behind', async () => {
    const marker = '432.1';
    const started = Date.now();
    const result = await runCommand(['sh', '-c', `sleep ${marker} & echo started`], {
      cwd: dir,
      env,
      timeoutMs: 20_000,
      log,
    });
    expect(result).toMatchObject({ ok: true, timedOut: false });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(processRunning(`sleep ${marker}`)).toBe(false);
  });

  it('truncates long output in the middle', async () => {
    const result = await runCommand(
      ['sh', '-c', 'echo BEGIN; head -c 200000 /dev/zero | tr "\\0" x; echo; echo END'],
      {
        cwd: dir,
        env,
        timeoutMs: 10_000,
        log,
        maxOutputBytes: 4096,
      },
    );
    expect(result.ok).toBe(true);
    expect(result.output.startsWith('BEGIN\n')).toBe(true);
    expect(result.output.endsWith('END\n')).toBe(true);
    expect(result.output).toMatch(/… \d+ bytes of output omitted …/);
    expect(result.output.length).toBeLessThan(4300);
  });
});
