import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStepFunctions, startLocalStepFunctions } from '../../lib/local/sfn/server.ts';
import { LAMBDA_TASKS } from '../../state-machines/tasks.ts';

/**
 * The REAL build-run ASL on the local endpoint, with fake handler modules (written to a temp dir
 * and imported like the real ones) and a fake worker program (a node script whose behaviour per
 * attempt comes from plan.json). Everything is observed through the real SFN SDK.
 */

const WORKER_TIMEOUT_S = 3;
const KILL_GRACE_MS = 1_000;

let dir: string;
let sfn: LocalStepFunctions;
let client: SFNClient;

// Every fake handler logs its call and passes the state object on, like the real ones.
const HANDLERS: Record<string, string> = {
  PrepareBranch: "return { ...event, branch: 'build/local/' + event.runId };",
  AssignWorker:
    'const { workerError, error, passed, ...rest } = event; return { ...rest, attempt: event.attempt + 1 };',
  // Exit code 75 stands for a worker that reported an infrastructure failure (a failed clone):
  // the state the real handler returns then (workerFailureState, unit-tested on its own).
  RecordWorkerFailure: `
    const { workerError, ...rest } = event;
    let exit;
    try { exit = JSON.parse(workerError.Cause).Containers[0].ExitCode; } catch {}
    if (exit === 75) {
      return { ...rest, passed: false, repairable: false, retryInfrastructure: true,
        infraRetries: (event.infraRetries ?? 0) + 1, maxAttempts: event.maxAttempts + 1, retryDelaySeconds: 1 };
    }
    const { retryInfrastructure, retryDelaySeconds, ...left } = rest;
    return { ...left, repairable: true, lastFailure: workerError.Error, passed: false };`,
  VerifyArtifacts: `
    const key = 'verify-' + event.runId + '-' + event.attempt;
    if (event.transientVerify && !seen.has(key)) {
      seen.add(key);
      throw Object.assign(new Error('S3 hiccup'), { name: 'TransientError' });
    }
    return { ...event, passed: event.attempt >= event.passOnAttempt, repairable: true };`,
  Publish: 'return { ...event, published: true };',
  FailRun: "return { ...event, failureCode: 'verification_failed' };",
};

function handlerModule(state: string, body: string, callsFile: string): string {
  return `import { appendFileSync } from 'node:fs';
const seen = new Set();
export const handler = async (event, context) => {
  appendFileSync(${JSON.stringify(callsFile)}, JSON.stringify({ state: ${JSON.stringify(state)}, event, fn: context.functionName }) + '\\n');
  ${body}
};
`;
}

const WORKER = `
import { appendFileSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
const dir = process.env.FAKE_DIR;
const runId = process.env.RUN_ID;
const attempt = Number(process.env.ATTEMPT);
const plan = JSON.parse(readFileSync(dir + '/plan.json', 'utf8'))[runId] ?? ['ok'];
const mode = plan[Math.min(attempt - 1, plan.length - 1)];
const note = (o) => appendFileSync(dir + '/spawns.log', JSON.stringify({ runId, attempt: process.env.ATTEMPT, pid: process.pid, at: Date.now(), ...o }) + '\\n');
note({ event: 'start', mode, table: process.env.TABLE_NAME, secret: process.env.SHOULD_NOT_LEAK ?? null });
console.log('worker ' + runId + ' attempt ' + attempt + ' mode ' + mode);
if (mode === 'ok') process.exit(0);
if (mode === 'exit3') { console.error('recipe failed'); process.exit(3); }
if (mode === 'infra') { console.error('the build branch could not be cloned'); process.exit(75); }
if (mode === 'crash') process.kill(process.pid, 'SIGKILL');
if (mode === 'slow') setTimeout(() => process.exit(0), 1500);
if (mode === 'hang') {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  note({ event: 'grandchild', grandchildPid: child.pid });
  process.on('SIGTERM', () => note({ event: 'sigterm' }));
  setInterval(() => {}, 1000);
}
`;

interface Spawn {
  runId: string;
  attempt: string;
  pid: number;
  at: number;
  event: string;
  mode?: string;
  table?: string;
  secret?: string | null;
  grandchildPid?: number;
}

function lines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}
const spawns = (runId: string) => lines<Spawn>(join(dir, 'spawns.log')).filter((s) => s.runId === runId);
const calls = (runId: string) =>
  lines<{ state: string; event: Record<string, unknown>; fn: string }>(join(dir, 'calls.log')).filter(
    (c) => c.event.runId === runId,
  );

function setPlan(runId: string, plan: string[]): void {
  const file = join(dir, 'plan.json');
  const all = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  all[runId] = plan;
  writeFileSync(file, JSON.stringify(all));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by a container init) is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

async function start(runId: string, input: Record<string, unknown>) {
  return client.send(
    new StartExecutionCommand({
      stateMachineArn: sfn.stateMachineArn,
      name: runId,
      input: JSON.stringify({ runId, attempt: 0, maxAttempts: 3, passOnAttempt: 1, ...input }),
    }),
  );
}

async function runToEnd(runId: string, input: Record<string, unknown> = {}) {
  const { executionArn } = await start(runId, input);
  await sfn.waitForIdle();
  const described = await client.send(new DescribeExecutionCommand({ executionArn }));
  return { described, visited: await visited(executionArn!) };
}

async function visited(executionArn: string): Promise<string[]> {
  const history = await client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
  return (history.events ?? []).flatMap((e) =>
    e.stateEnteredEventDetails?.name ? [e.stateEnteredEventDetails.name] : [],
  );
}

function output(d: DescribeExecutionCommandOutput): Record<string, unknown> {
  return JSON.parse(d.output ?? 'null');
}

async function startServer(): Promise<LocalStepFunctions> {
  return startLocalStepFunctions({
    root: process.cwd(),
    dataDir: join(dir, 'data'),
    tasks: LAMBDA_TASKS.map((t) => ({ ...t, entry: join(dir, `${t.state}.mjs`) })),
    retryIntervalMs: 10,
    worker: {
      command: [process.execPath, join(dir, 'worker.mjs')],
      // The container's environment contract: what the stack passes + RUN_ID/ATTEMPT overrides.
      env: { PATH: process.env.PATH, FAKE_DIR: dir, TABLE_NAME: 'local-runs' },
      timeoutSeconds: WORKER_TIMEOUT_S,
      killGraceMs: KILL_GRACE_MS,
    },
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'local-sfn-it-'));
  for (const [state, body] of Object.entries(HANDLERS)) {
    writeFileSync(join(dir, `${state}.mjs`), handlerModule(state, body, join(dir, 'calls.log')));
  }
  writeFileSync(join(dir, 'worker.mjs'), WORKER);
  process.env.SHOULD_NOT_LEAK = 'parent-only';
  sfn = await startServer();
  client = new SFNClient({
    endpoint: sfn.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  delete process.env.SHOULD_NOT_LEAK;
  await sfn?.stop();
  client?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('build-run ASL on the local Step Functions endpoint', () => {
  it('happy path: one worker, verified, published, SUCCEEDED', async () => {
    setPlan('run_happy', ['ok']);
    const { described, visited: states } = await runToEnd('run_happy', { transientVerify: true });
    expect(described.status).toBe('SUCCEEDED');
    expect(states).toEqual([
      'PrepareBranch',
      'AssignWorker',
      'RunWorker',
      'VerifyArtifacts',
      'Verified',
      'Publish',
      'Done',
    ]);
    expect(output(described)).toMatchObject({
      runId: 'run_happy',
      attempt: 1,
      passed: true,
      published: true,
    });
    // VerifyArtifacts threw TransientError once and was retried per the ASL's Retry.
    expect(calls('run_happy').filter((c) => c.state === 'VerifyArtifacts')).toHaveLength(2);
    expect(calls('run_happy')[0]?.fn).toBe('local-PrepareBranch');

    // The worker got the container's environment contract, and only it.
    const [spawn] = spawns('run_happy');
    expect(spawns('run_happy')).toHaveLength(1);
    expect(spawn).toMatchObject({ attempt: '1', mode: 'ok', table: 'local-runs', secret: null });
    const log = readFileSync(join(dir, 'data', 'logs', 'worker-run_happy-1.log'), 'utf8');
    expect(log).toContain('worker run_happy attempt 1 mode ok');
    expect(log).toContain('exit code 0');
  });

  it('a non-zero exit and a crash take the RecordWorkerFailure path and the repair loop', async () => {
    setPlan('run_exit', ['exit3', 'crash', 'ok']);
    const { described, visited: states } = await runToEnd('run_exit', { passOnAttempt: 3 });
    expect(described.status).toBe('SUCCEEDED');
    expect(states).toEqual([
      'PrepareBranch',
      'AssignWorker',
      'RunWorker',
      'RecordWorkerFailure',
      'CanRepair',
      'AssignWorker',
      'RunWorker',
      'RecordWorkerFailure',
      'CanRepair',
      'AssignWorker',
      'RunWorker',
      'VerifyArtifacts',
      'Verified',
      'Publish',
      'Done',
    ]);
    const failures = calls('run_exit')
      .filter((c) => c.state === 'RecordWorkerFailure')
      .map((c) => c.event.workerError as { Error: string; Cause: string });
    expect(failures.map((f) => f.Error)).toEqual(['States.TaskFailed', 'States.TaskFailed']);
    const [exit3, crash] = failures.map((f) => JSON.parse(f.Cause));
    expect(exit3).toMatchObject({
      StopCode: 'EssentialContainerExited',
      Containers: [{ Name: 'worker', ExitCode: 3 }],
    });
    expect(crash).toMatchObject({ StopCode: 'EssentialContainerExited', Containers: [{ ExitCode: 137 }] });
    expect(spawns('run_exit').map((s) => s.attempt)).toEqual(['1', '2', '3']);
    expect(readFileSync(join(dir, 'data', 'logs', 'worker-run_exit-1.log'), 'utf8')).toContain(
      'recipe failed',
    );
  });

  it('an infrastructure failure waits (backoff) and is retried without using up a repair attempt', async () => {
    setPlan('run_infra', ['infra', 'exit3', 'exit3', 'ok']);
    const began = Date.now();
    const { described, visited: states } = await runToEnd('run_infra', { passOnAttempt: 4 });
    // maxAttempts 3: two repairs after the first real attempt; the failed clone did not count.
    expect(described.status).toBe('SUCCEEDED');
    expect(states.slice(0, 6)).toEqual([
      'PrepareBranch',
      'AssignWorker',
      'RunWorker',
      'RecordWorkerFailure',
      'CanRepair',
      'InfrastructureBackoff',
    ]);
    expect(states.filter((s) => s === 'RunWorker')).toHaveLength(4);
    expect(states.filter((s) => s === 'InfrastructureBackoff')).toHaveLength(1);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1000); // the Wait's SecondsPath
    expect(output(described)).toMatchObject({ attempt: 4, maxAttempts: 4, passed: true });
  });

  it('a worker past TimeoutSeconds is killed (SIGTERM, then SIGKILL, with its children) and takes the States.Timeout path', async () => {
    setPlan('run_timeout', ['hang', 'ok']);
    const { described, visited: states } = await runToEnd('run_timeout');
    expect(described.status).toBe('SUCCEEDED');
    expect(states.slice(0, 6)).toEqual([
      'PrepareBranch',
      'AssignWorker',
      'RunWorker',
      'RecordWorkerFailure',
      'CanRepair',
      'AssignWorker',
    ]);
    const failure = calls('run_timeout').find((c) => c.state === 'RecordWorkerFailure')!;
    expect((failure.event.workerError as { Error: string }).Error).toBe('States.Timeout');

    const events = spawns('run_timeout');
    const first = events.find((e) => e.event === 'start' && e.attempt === '1')!;
    const sigterm = events.find((e) => e.event === 'sigterm')!;
    const grandchild = events.find((e) => e.event === 'grandchild')!;
    const second = events.find((e) => e.event === 'start' && e.attempt === '2')!;
    expect(sigterm.at - first.at).toBeGreaterThanOrEqual(WORKER_TIMEOUT_S * 1000 - 500);
    // The hung worker ignored SIGTERM: the next attempt waited for the SIGKILL, never two workers at once.
    expect(second.at - sigterm.at).toBeGreaterThanOrEqual(KILL_GRACE_MS - 100);
    expect(alive(first.pid)).toBe(false);
    expect(alive(grandchild.grandchildPid!)).toBe(false);
  }, 30_000);

  it('the repair loop stops at maxAttempts and ends in FailRun → FAILED', async () => {
    setPlan('run_never', ['ok']);
    const { described, visited: states } = await runToEnd('run_never', { maxAttempts: 2, passOnAttempt: 99 });
    expect(described).toMatchObject({ status: 'FAILED', error: 'BuildRunFailed' });
    expect(states).toEqual([
      'PrepareBranch',
      'AssignWorker',
      'RunWorker',
      'VerifyArtifacts',
      'Verified',
      'CanRepair',
      'AssignWorker',
      'RunWorker',
      'VerifyArtifacts',
      'Verified',
      'CanRepair',
      'FailRun',
      'RunFailed',
    ]);
    expect(spawns('run_never')).toHaveLength(2);
    expect(calls('run_never').find((c) => c.state === 'FailRun')?.event).toMatchObject({
      attempt: 2,
      passed: false,
    });
  });

  it('a duplicate StartExecution never starts a second worker', async () => {
    setPlan('run_dup', ['slow']);
    const input = { passOnAttempt: 1 };
    const first = await start('run_dup', input);
    // Same name + same input while running: AWS returns the same execution (idempotent).
    const again = await start('run_dup', input);
    expect(again.executionArn).toBe(first.executionArn);
    // Same name, other input: refused.
    await expect(start('run_dup', { passOnAttempt: 2 })).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await sfn.waitForIdle();
    // Same name after the end: refused.
    await expect(start('run_dup', input)).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    expect(spawns('run_dup').filter((s) => s.event === 'start')).toHaveLength(1);
    expect(calls('run_dup').filter((c) => c.state === 'PrepareBranch')).toHaveLength(1);
  });

  it('StopExecution kills the running worker and runs no further state', async () => {
    setPlan('run_stop', ['hang']);
    const { executionArn } = await start('run_stop', {});
    const deadline = Date.now() + 5_000;
    while (!spawns('run_stop').some((s) => s.grandchildPid) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await client.send(
      new StopExecutionCommand({ executionArn, error: 'Operator', cause: 'stopped by a test' }),
    );
    await sfn.waitForIdle();
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({ status: 'ABORTED', error: 'Operator' });
    expect(await visited(executionArn!)).toEqual(['PrepareBranch', 'AssignWorker', 'RunWorker']);
    const [worker] = spawns('run_stop');
    expect(alive(worker!.pid)).toBe(false);
    expect(alive(spawns('run_stop').find((s) => s.grandchildPid)!.grandchildPid!)).toBe(false);
    expect(calls('run_stop').some((c) => c.state === 'RecordWorkerFailure')).toBe(false);
  }, 30_000);

  it('execution names survive a restart of the endpoint', async () => {
    await sfn.stop();
    sfn = await startServer();
    client.destroy();
    client = new SFNClient({
      endpoint: sfn.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await expect(start('run_happy', {})).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    const arn = `${sfn.stateMachineArn.replace(':stateMachine:', ':execution:')}:run_happy`;
    expect((await client.send(new DescribeExecutionCommand({ executionArn: arn }))).status).toBe('SUCCEEDED');
    expect(spawns('run_happy').filter((s) => s.event === 'start')).toHaveLength(1);
  });
});
