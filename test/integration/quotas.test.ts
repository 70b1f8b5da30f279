import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, startTestStack, type TestStack } from './harness.ts';

/**
 * The quotas on anonymous use over real HTTP against the local stack (its gateway runs the same
 * handlers as API Gateway on AWS, with the counters in the local DynamoDB). Low limits through the
 * environment, as an operator would set them.
 */
describe('quotas (local stack over HTTP)', () => {
  let stack: TestStack;
  let visitor: ApiClient;
  let runId: string;
  beforeAll(async () => {
    stack = await startTestStack({
      env: {
        RUNS_PER_SOURCE_PER_HOUR: '6',
        RUNS_PER_SESSION_PER_HOUR: '3',
        MESSAGES_PER_SESSION_PER_MINUTE: '3',
        MESSAGES_PER_SOURCE_PER_MINUTE: '1000',
      },
    });
  }, 90_000);
  afterAll(async () => {
    await stack?.dispose();
  });

  const expectRateLimited = (
    res: { status: number; text: string; headers: Headers; body: unknown },
    max: number,
  ) => {
    expect(res.status, res.text).toBe(429);
    expect(res.body).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
    const retry = Number(res.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(max);
  };

  it('a flood of run creations gets 429 rate_limited with Retry-After, per session and per source', async () => {
    visitor = new ApiClient(stack.url);
    const statuses: number[] = [];
    // The first creation issues the session; the session's quota (3) counts the ones made with it.
    for (let i = 0; i < 4; i++) {
      const res = await visitor.post<{ run: { run_id: string } }>('/api/v1/build-runs', {});
      statuses.push(res.status);
      runId = res.body.run.run_id;
    }
    expect(statuses).toEqual([201, 201, 201, 201]);
    expectRateLimited(await visitor.post('/api/v1/build-runs', {}), 3600);
    // New sessions from the same source: the source quota (6; the refused call counted) ends it.
    const flood = await Promise.all(
      Array.from({ length: 5 }, () => new ApiClient(stack.url).post('/api/v1/build-runs', {})),
    );
    expect(flood.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of flood.filter((x) => x.status !== 201)) expectRateLimited(r, 3600);
  });

  it('a flood of messages gets 429 rate_limited with Retry-After; the refused ones are not stored', async () => {
    const results = [];
    for (let i = 0; i < 5; i++)
      results.push(
        await visitor.post(`/api/v1/build-runs/${runId}/messages`, { text: `I need a tip calculator ${i}` }),
      );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
    for (const r of results.slice(3)) expectRateLimited(r, 60);
    const run = await visitor.get<{ run: { messages: { role: string }[] } }>(`/api/v1/build-runs/${runId}`);
    expect(run.body.run.messages.filter((m) => m.role === 'visitor')).toHaveLength(3);
  });
});
