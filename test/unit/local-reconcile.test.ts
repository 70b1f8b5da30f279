import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, describe, expect, it } from 'vitest';
import { transition } from '../../lib/domain/lifecycle.ts';
import { reconcileUnfinishedExecutions } from '../../lib/local/reconcile.ts';
import { type LocalStepFunctions, startLocalStepFunctions } from '../../lib/local/sfn/server.ts';
import { LOCAL_CREDENTIALS } from '../../lib/local/stack-info.ts';
import { clock, MemoryPublisher, MemoryRunStore, quotedRun } from './orchestrator-fakes.ts';

// An execution that really times out: one Task that never answers, an overall timeout of 1 s.
const HANGING_ASL = {
  StartAt: 'Hang',
  TimeoutSeconds: 1,
  States: {
    Hang: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: `\${HangFunctionArn}`, 'Payload.$': '$' },
      OutputPath: '$.Payload',
      End: true,
    },
  },
};

const dir = mkdtempSync(join(tmpdir(), 'local-reconcile-'));
let sfn: LocalStepFunctions | undefined;
afterAll(async () => {
  await sfn?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('local reconcile at start-up', () => {
  it('fails the run of a TIMED_OUT execution (not only ABORTED ones), once', async () => {
    await writeFile(join(dir, 'hang.asl.json'), JSON.stringify(HANGING_ASL));
    sfn = await startLocalStepFunctions({
      root: process.cwd(),
      dataDir: join(dir, 'data'),
      aslFile: join(dir, 'hang.asl.json'),
      tasks: [{ state: 'Hang', substitution: 'HangFunctionArn', entry: 'in-memory', timeout: 30 }],
      loadHandler: async () => () => new Promise(() => {}),
    });
    const store = new MemoryRunStore();
    const quoted = quotedRun();
    let run = transition(quoted, 'authorized', {}, quoted.createdAt);
    run = transition(run, 'repo_ready', {}, quoted.createdAt);
    run = transition(run, 'worker_running', { attempts: 1 }, quoted.createdAt);
    await store.createRun(run);

    const client = new SFNClient({ endpoint: sfn.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
    await client.send(
      new StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArn,
        name: run.runId,
        input: JSON.stringify({ runId: run.runId, attempt: 1, maxAttempts: 3 }),
      }),
    );
    client.destroy();
    await sfn.waitForIdle();

    const deps = { store, publisher: new MemoryPublisher(), now: clock() };
    expect(await reconcileUnfinishedExecutions(sfn.url, sfn.stateMachineArn, deps)).toBe(1);
    const failed = (await store.getRun(run.runId))!;
    expect(failed.phase).toBe('failed');
    expect(failed.failure?.code).toBe('timeout');
    // Idempotent: a second start-up finds nothing left to do.
    expect(await reconcileUnfinishedExecutions(sfn.url, sfn.stateMachineArn, deps)).toBe(0);
  }, 30_000);
});
