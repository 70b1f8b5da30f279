import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_LOCK_NAME, REPO_LOCK_OWNER_FILE } from '../../lib/aws/repo-lock.ts';
import { templateBareDir } from '../../lib/aws/repo-store.ts';
import { machineId } from '../../lib/process.ts';
import { ApiClient, makeTempDataDir, startTestStack, type TestStack } from './harness.ts';
import { busBuild, chatToQuote, type PublicRun, sharedGoCache } from './pipeline-helpers.ts';

const dataDir = makeTempDataDir();
let stack: TestStack | undefined;
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a build cut off by stopping the local stack', () => {
  it('is failed with a customer-safe reason on the next start (nothing stays building) and can be retried', async () => {
    const env = { GOCACHE: sharedGoCache() };
    stack = await startTestStack({ dataDir, env });
    const client = new ApiClient(stack.url);
    const { runId } = await chatToQuote(
      client,
      ['I need a tip calculator web app and a command line program for Linux', 'both please'],
      dataDir,
    );
    expect((await busBuild(dataDir, 'approve', runId)).code).toBe(0);
    await stack.stop(); // mid-build: the execution is aborted with the stack

    // A stack stopped while PrepareBranch held the repository's ref lock leaves the lock behind
    // (it may or may not have, depending on timing): make sure it did, so that the restart
    // proves it takes over its dead predecessor's lock instead of waiting it out.
    const lockDir = join(templateBareDir(dataDir), REPO_LOCK_NAME);
    mkdirSync(lockDir, { recursive: true });
    writeFileSync(
      join(lockDir, REPO_LOCK_OWNER_FILE),
      JSON.stringify({ machine: machineId(), pid: stack.pid }),
    );

    stack = await startTestStack({ dataDir, env });
    const after = new ApiClient(stack.url);
    after.cookies.clear();
    for (const [k, v] of client.cookies) after.cookies.set(k, v);
    const res = await after.get<{ run: PublicRun }>(`/api/v1/build-runs/${runId}`);
    expect(res.status).toBe(200);
    expect(res.body.run.phase).toBe('failed');
    expect(res.body.run.status_message).toMatch(/went wrong on our side/);
    expect(res.text).not.toMatch(/LocalStack|execution|ABORTED/);

    const retry = await busBuild(dataDir, 'retry', runId);
    expect(retry.code).toBe(0);
  }, 240_000);
});
