import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  InvalidArn,
  InvalidExecutionInput,
  InvalidName,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LambdaHandler } from '../../lib/local/sfn/lambda-task.ts';
import { type LocalStepFunctions, startLocalStepFunctions } from '../../lib/local/sfn/server.ts';
import type { LambdaTaskDef } from '../../state-machines/tasks.ts';

// A tiny state machine with one lambda:invoke Task, to test the protocol and the Lambda emulation.
const TINY_ASL = {
  StartAt: 'Step',
  TimeoutSeconds: 60,
  States: {
    Step: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: `\${StepFunctionArn}`, 'Payload.$': '$' },
      OutputPath: '$.Payload',
      Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 30, MaxAttempts: 2 }],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
      Next: 'Done',
    },
    Caught: { Type: 'Pass', End: true },
    Done: { Type: 'Succeed' },
  },
};
const TASKS: LambdaTaskDef[] = [
  { state: 'Step', substitution: 'StepFunctionArn', entry: 'in-memory', timeout: 1 },
];

type Mode = 'ok' | 'throw' | 'named' | 'transient-once' | 'transient-always' | 'slow' | 'wait';
interface Payload {
  key: string;
  mode: Mode;
}

const calls = new Map<string, number>();
const gates = new Map<string, () => void>();
const fakeHandler: LambdaHandler = async (event, context) => {
  const e = event as Payload;
  const n = (calls.get(e.key) ?? 0) + 1;
  calls.set(e.key, n);
  const transient = () => Object.assign(new Error('try again'), { name: 'TransientError' });
  switch (e.mode) {
    case 'ok':
      return { ...e, function: context.functionName, remaining: context.getRemainingTimeInMillis() > 0 };
    case 'throw':
      throw new Error('boom');
    case 'named':
      throw Object.assign(new Error('bad spec'), { name: 'ValidationError' });
    case 'transient-once':
      if (n === 1) throw transient();
      return { ...e, calls: n };
    case 'transient-always':
      throw transient();
    case 'slow':
      await new Promise((r) => setTimeout(r, 2_500));
      return e;
    case 'wait':
      await new Promise<void>((r) => gates.set(e.key, r));
      return e;
  }
};

let dir: string;
let sfn: LocalStepFunctions;
let client: SFNClient;

async function start(dataDir: string): Promise<LocalStepFunctions> {
  return startLocalStepFunctions({
    root: process.cwd(),
    dataDir,
    aslFile: join(dir, 'tiny.asl.json'),
    tasks: TASKS,
    loadHandler: async () => fakeHandler,
    retryIntervalMs: 10,
  });
}

function sdk(url: string): SFNClient {
  return new SFNClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
}

async function run(name: string, payload: Payload) {
  const started = await client.send(
    new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn, name, input: JSON.stringify(payload) }),
  );
  await sfn.waitForIdle();
  return client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'local-sfn-protocol-'));
  await writeFile(join(dir, 'tiny.asl.json'), JSON.stringify(TINY_ASL));
  sfn = await start(join(dir, 'data'));
  client = sdk(sfn.url);
});

afterAll(async () => {
  await sfn?.stop();
  client?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('local Step Functions endpoint (AWS JSON 1.0, real SDK)', () => {
  it('starts an execution named by the caller and describes its result', async () => {
    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArn,
        name: 'run_ok',
        input: JSON.stringify({ key: 'ok', mode: 'ok' }),
      }),
    );
    expect(started.executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:build-run:run_ok');
    expect(started.startDate).toBeInstanceOf(Date);
    await sfn.waitForIdle();
    const described = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    expect(described).toMatchObject({
      status: 'SUCCEEDED',
      name: 'run_ok',
      stateMachineArn: sfn.stateMachineArn,
    });
    expect(described.stopDate).toBeInstanceOf(Date);
    expect(JSON.parse(described.input!)).toEqual({ key: 'ok', mode: 'ok' });
    // OutputPath $.Payload worked: the output is what the handler returned.
    expect(JSON.parse(described.output!)).toEqual({
      key: 'ok',
      mode: 'ok',
      function: 'local-Step',
      remaining: true,
    });

    const history = await client.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));
    expect(history.events?.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(history.events?.[1]?.stateEnteredEventDetails?.name).toBe('Step');
  });

  it('refuses a second start with the same name once the first has ended', async () => {
    const again = client.send(
      new StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArn,
        name: 'run_ok',
        input: JSON.stringify({ key: 'ok', mode: 'ok' }),
      }),
    );
    await expect(again).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await expect(again).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
      $metadata: { httpStatusCode: 400 },
    });
    expect(calls.get('ok')).toBe(1);
  });

  it('while running: same name + same input returns the same execution; other input is refused; stop aborts', async () => {
    const input = JSON.stringify({ key: 'wait', mode: 'wait' });
    const first = await client.send(
      new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn, name: 'run_wait', input }),
    );
    await until(() => gates.has('wait'));
    const same = await client.send(
      new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArn, name: 'run_wait', input }),
    );
    expect(same.executionArn).toBe(first.executionArn);
    expect(same.startDate?.getTime()).toBe(first.startDate?.getTime());
    await expect(
      client.send(
        new StartExecutionCommand({
          stateMachineArn: sfn.stateMachineArn,
          name: 'run_wait',
          input: '{"other":1}',
        }),
      ),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);

    const running = await client.send(
      new ListExecutionsCommand({ stateMachineArn: sfn.stateMachineArn, statusFilter: 'RUNNING' }),
    );
    expect(running.executions?.map((e) => e.name)).toEqual(['run_wait']);

    const stopped = await client.send(
      new StopExecutionCommand({ executionArn: first.executionArn, error: 'Operator', cause: 'cancelled' }),
    );
    expect(stopped.stopDate).toBeInstanceOf(Date);
    gates.get('wait')?.();
    await sfn.waitForIdle();
    const described = await client.send(new DescribeExecutionCommand({ executionArn: first.executionArn }));
    expect(described).toMatchObject({ status: 'ABORTED', error: 'Operator', cause: 'cancelled' });
    expect(calls.get('wait')).toBe(1);
  });

  it('maps a thrown error to the ASL error named like Lambda reports it, with the runtime payload as Cause', async () => {
    const thrown = await run('run_throw', { key: 'throw', mode: 'throw' });
    expect(thrown.status).toBe('SUCCEEDED');
    const { error } = JSON.parse(thrown.output!) as { error: { Error: string; Cause: string } };
    expect(error.Error).toBe('Error');
    const cause = JSON.parse(error.Cause) as { errorType: string; errorMessage: string; trace: string[] };
    expect(cause).toMatchObject({ errorType: 'Error', errorMessage: 'boom' });
    expect(Array.isArray(cause.trace)).toBe(true);

    const named = await run('run_named', { key: 'named', mode: 'named' });
    expect(JSON.parse(named.output!).error.Error).toBe('ValidationError');
  });

  it('retries TransientError per the Retry field (intervals shrunk for tests), then catches', async () => {
    const once = await run('run_transient_once', { key: 't1', mode: 'transient-once' });
    expect(once.status).toBe('SUCCEEDED');
    expect(JSON.parse(once.output!).calls).toBe(2);

    const always = await run('run_transient_always', { key: 't2', mode: 'transient-always' });
    expect(JSON.parse(always.output!).error.Error).toBe('TransientError');
    expect(calls.get('t2')).toBe(3); // the first call + MaxAttempts 2
  });

  it("enforces the function's own timeout as Sandbox.Timedout", async () => {
    const slow = await run('run_slow', { key: 'slow', mode: 'slow' });
    const { error } = JSON.parse(slow.output!) as { error: { Error: string; Cause: string } };
    expect(error.Error).toBe('Sandbox.Timedout');
    expect(JSON.parse(error.Cause).errorMessage).toMatch(/Task timed out after 1\.00 seconds/);
  });

  it('pages ListExecutions, newest first', async () => {
    const all = await client.send(new ListExecutionsCommand({ stateMachineArn: sfn.stateMachineArn }));
    const names = all.executions?.map((e) => e.name) ?? [];
    expect(names.length).toBeGreaterThanOrEqual(7);
    const first = await client.send(
      new ListExecutionsCommand({ stateMachineArn: sfn.stateMachineArn, maxResults: 2 }),
    );
    expect(first.executions?.map((e) => e.name)).toEqual(names.slice(0, 2));
    const second = await client.send(
      new ListExecutionsCommand({
        stateMachineArn: sfn.stateMachineArn,
        maxResults: 2,
        nextToken: first.nextToken,
      }),
    );
    expect(second.executions?.map((e) => e.name)).toEqual(names.slice(2, 4));
    const aborted = await client.send(
      new ListExecutionsCommand({ stateMachineArn: sfn.stateMachineArn, statusFilter: 'ABORTED' }),
    );
    expect(aborted.executions?.map((e) => e.name)).toEqual(['run_wait']);
  });

  it('answers bad requests with the errors the SDK models', async () => {
    const start = (stateMachineArn: string, name: string, input = '{}') =>
      client.send(new StartExecutionCommand({ stateMachineArn, name, input }));
    await expect(start(sfn.stateMachineArn, 'has space')).rejects.toBeInstanceOf(InvalidName);
    await expect(start(sfn.stateMachineArn, 'a'.repeat(81))).rejects.toBeInstanceOf(InvalidName);
    await expect(start(sfn.stateMachineArn, 'bad_input', '{nope')).rejects.toBeInstanceOf(
      InvalidExecutionInput,
    );
    await expect(
      start('arn:aws:states:us-east-1:000000000000:stateMachine:other', 'x'),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    await expect(start('not-an-arn', 'x')).rejects.toBeInstanceOf(InvalidArn);
    await expect(
      client.send(
        new DescribeExecutionCommand({
          executionArn: 'arn:aws:states:us-east-1:000000000000:execution:build-run:missing',
        }),
      ),
    ).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    await expect(client.send(new DescribeExecutionCommand({ executionArn: 'nope' }))).rejects.toBeInstanceOf(
      InvalidArn,
    );
    const described = await client.send(
      new DescribeStateMachineCommand({ stateMachineArn: sfn.stateMachineArn }),
    );
    expect(described).toMatchObject({ name: 'build-run', status: 'ACTIVE', type: 'STANDARD' });
  });

  it('answers an unknown operation with 400 UnknownOperationException', async () => {
    const res = await fetch(sfn.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AWSStepFunctions.CreateActivity',
      },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(await res.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('is reachable through AWS_ENDPOINT_URL_SFN with no code change', async () => {
    const previous = process.env.AWS_ENDPOINT_URL_SFN;
    process.env.AWS_ENDPOINT_URL_SFN = sfn.url;
    try {
      const viaEnv = new SFNClient({
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      });
      const out = await viaEnv.send(new ListExecutionsCommand({ stateMachineArn: sfn.stateMachineArn }));
      expect(out.executions?.length).toBeGreaterThan(0);
      viaEnv.destroy();
    } finally {
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_SFN;
      else process.env.AWS_ENDPOINT_URL_SFN = previous;
    }
  });
});

describe('local Step Functions persistence', () => {
  it('keeps names across a restart and marks executions that were running as ABORTED', async () => {
    const dataDir = join(dir, 'restart');
    const first = await start(dataDir);
    const c1 = sdk(first.url);
    const arn = (name: string) => `${first.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    await c1.send(
      new StartExecutionCommand({
        stateMachineArn: first.stateMachineArn,
        name: 'done_before',
        input: '{"key":"p1","mode":"ok"}',
      }),
    );
    await first.waitForIdle();
    await c1.send(
      new StartExecutionCommand({
        stateMachineArn: first.stateMachineArn,
        name: 'cut_off',
        input: '{"key":"p2","mode":"wait"}',
      }),
    );
    await until(() => gates.has('p2'));
    await first.stop();
    gates.get('p2')?.();
    c1.destroy();

    // A process that died mid-run leaves RUNNING records behind: simulate one.
    const file = join(dataDir, 'sfn', 'executions.json');
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    stored.executions.push({
      executionArn: arn('crashed'),
      stateMachineArn: first.stateMachineArn,
      name: 'crashed',
      status: 'RUNNING',
      input: '{}',
      startDate: Date.now(),
      history: [],
    });
    await mkdir(join(dataDir, 'sfn'), { recursive: true });
    writeFileSync(file, JSON.stringify(stored));

    const second = await start(dataDir);
    const c2 = sdk(second.url);
    try {
      const describe = (name: string) => c2.send(new DescribeExecutionCommand({ executionArn: arn(name) }));
      expect(await describe('done_before')).toMatchObject({ status: 'SUCCEEDED' });
      expect(await describe('cut_off')).toMatchObject({ status: 'ABORTED', error: 'LocalStackStopped' });
      expect(await describe('crashed')).toMatchObject({ status: 'ABORTED', error: 'LocalStackRestarted' });
      for (const name of ['done_before', 'cut_off', 'crashed']) {
        await expect(
          c2.send(new StartExecutionCommand({ stateMachineArn: second.stateMachineArn, name, input: '{}' })),
        ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
      }
    } finally {
      c2.destroy();
      await second.stop();
    }
  });
});
