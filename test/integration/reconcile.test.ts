import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
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
    const { runId } = await chatToQuote(client, [
      'I need a tip calculator web app and a command line program for Linux',
      'both please',
    ]);
    expect((await busBuild(dataDir, 'approve', runId)).code).toBe(0);
    await stack.stop(); // mid-build: the execution is aborted with the stack

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
