import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AslTaskError } from '../../lib/local/sfn/errors.ts';
import { defaultWorkerCommand, overrideEnvironment, WorkerSlot } from '../../lib/local/sfn/worker-task.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'local-sfn-worker-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const params = (env: Record<string, string>) => ({
  Cluster: 'arn:aws:ecs:us-east-1:000000000000:cluster/local',
  TaskDefinition: 'arn:aws:ecs:us-east-1:000000000000:task-definition/local-worker:1',
  Overrides: {
    ContainerOverrides: [
      { Name: 'worker', Environment: Object.entries(env).map(([Name, Value]) => ({ Name, Value })) },
    ],
  },
});

describe('local RunWorker (ecs:runTask.sync as a child process)', () => {
  it('reads the worker container overrides', () => {
    expect(overrideEnvironment(params({ RUN_ID: 'run_1', ATTEMPT: '2' }))).toEqual({
      RUN_ID: 'run_1',
      ATTEMPT: '2',
    });
    expect(overrideEnvironment({})).toEqual({});
  });

  it('runs the default worker program with node + the tsx loader (one process)', () => {
    const [node, flag, loader, main] = defaultWorkerCommand('/repo');
    expect(node).toBe(process.execPath);
    expect(flag).toBe('--import');
    expect(loader).toBe('file:///repo/node_modules/tsx/dist/loader.mjs');
    expect(main).toBe('/repo/worker-image/src/main.ts');
  });

  it('returns an ECS-like stopped task on exit 0, with the env contract applied', async () => {
    const slot = new WorkerSlot(dir, join(dir, 'logs'), {
      command: [
        process.execPath,
        '-e',
        'console.log(process.env.RUN_ID, process.env.ATTEMPT, process.env.BASE)',
      ],
      env: { BASE: 'base-value' },
    });
    const task = (await slot.runTask(params({ RUN_ID: 'run_ok', ATTEMPT: '1' }), 10_000)) as Record<
      string,
      unknown
    >;
    expect(task).toMatchObject({ LastStatus: 'STOPPED', StopCode: 'EssentialContainerExited' });
    expect(task.Containers).toMatchObject([{ Name: 'worker', ExitCode: 0 }]);
    expect(readFileSync(join(dir, 'logs', 'worker-run_ok-1.log'), 'utf8')).toContain('run_ok 1 base-value');
  });

  it('removes the scratch of a killed worker and keeps a pid file only while it lives', async () => {
    const work = join(dir, 'work-killed');
    const data = join(dir, 'data-killed');
    const scratch = join(work, 'busdk-worker-run_killed-3-abc');
    const other = join(work, 'busdk-worker-run_killed-4-def');
    mkdirSync(other, { recursive: true });
    const slot = new WorkerSlot(dir, join(dir, 'logs'), {
      dataDir: data,
      env: { WORK_DIR: work },
      command: [
        process.execPath,
        '-e',
        `require('node:fs').mkdirSync(${JSON.stringify(join(scratch, 'repo'))}, { recursive: true });
         console.log(require('node:fs').readdirSync(${JSON.stringify(join(data, 'workers'))}).length);
         process.kill(process.pid, 'SIGKILL');`,
      ],
    });
    const err = await slot.runTask(params({ RUN_ID: 'run_killed', ATTEMPT: '3' }), 10_000).catch((e) => e);
    expect(err).toBeInstanceOf(AslTaskError);
    expect(JSON.parse((err as Error).message)).toMatchObject({ Containers: [{ ExitCode: 137 }] });
    expect(readFileSync(join(dir, 'logs', 'worker-run_killed-3.log'), 'utf8')).toMatch(/^1$/m);
    expect(existsSync(scratch)).toBe(false);
    expect(existsSync(other)).toBe(true); // another attempt's scratch is not this slot's to remove
    expect(readdirSync(join(data, 'workers'))).toEqual([]);
  });

  it('fails with States.TaskFailed / TaskFailedToStart when the program cannot start', async () => {
    const slot = new WorkerSlot(dir, join(dir, 'logs'), { command: [join(dir, 'no-such-program')] });
    const err = (await slot
      .runTask(params({ RUN_ID: 'run_missing', ATTEMPT: '1' }), 10_000)
      .catch((e) => e)) as Error;
    expect(err).toBeInstanceOf(AslTaskError);
    expect(err.name).toBe('States.TaskFailed');
    expect(JSON.parse(err.message)).toMatchObject({ StopCode: 'TaskFailedToStart' });
  });

  it('keeps the log file inside the logs folder whatever RUN_ID says', async () => {
    const logs = join(dir, 'logs-traversal');
    const slot = new WorkerSlot(dir, logs, { command: [process.execPath, '-e', ''] });
    await slot.runTask(params({ RUN_ID: '../../escape', ATTEMPT: '1/2' }), 10_000);
    expect(readdirSync(logs)).toEqual(['worker-.._.._escape-1_2.log']);
    expect(existsSync(join(dir, 'escape-1.log'))).toBe(false);
  });

  it('refuses to start a worker once the execution is closed', async () => {
    const slot = new WorkerSlot(dir, join(dir, 'logs'), { command: [process.execPath, '-e', ''] });
    slot.close('stopped');
    await expect(slot.runTask(params({ RUN_ID: 'run_closed', ATTEMPT: '1' }), 10_000)).rejects.toMatchObject({
      name: 'States.Runtime',
    });
  });
});
