import { describe, expect, it } from 'vitest';
import { reconcileExecution } from '../../lib/app/orchestrator/reconcile-execution.ts';
import { transition } from '../../lib/domain/lifecycle.ts';
import { toPublicRun } from '../../lib/domain/projection.ts';
import { FAILURE_SENTENCES } from '../../lib/domain/status.ts';
import { clock, MemoryPublisher, MemoryRunStore, quotedRun } from './orchestrator-fakes.ts';

async function runningRun(store: MemoryRunStore) {
  const quoted = quotedRun();
  const now = quoted.createdAt;
  let run = transition(quoted, 'authorized', {}, now);
  run = transition(run, 'repo_ready', {}, now);
  run = transition(run, 'worker_running', { attempts: 1 }, now);
  await store.createRun(run);
  return run;
}

describe('reconciling executions that ended without FailRun', () => {
  it('fails a run whose execution timed out, with the timeout sentence publicly', async () => {
    const store = new MemoryRunStore();
    const deps = { store, publisher: new MemoryPublisher(), now: clock() };
    const run = await runningRun(store);
    const out = await reconcileExecution(deps, {
      status: 'TIMED_OUT',
      input: { runId: run.runId, attempt: 1, maxAttempts: 3 },
    });
    expect(out?.failureCode).toBe('timeout');
    const stored = (await store.getRun(run.runId))!;
    expect(stored.phase).toBe('failed');
    expect(stored.failure?.code).toBe('timeout');
    expect(toPublicRun(stored).status_message).toBe(FAILURE_SENTENCES.timeout);
  });

  it('fails an aborted one as internal_error, once; leaves verified runs and ignores foreign input', async () => {
    const store = new MemoryRunStore();
    const deps = { store, publisher: new MemoryPublisher(), now: clock() };
    const run = await runningRun(store);
    const input = { runId: run.runId };
    await reconcileExecution(deps, { status: 'ABORTED', input, error: 'LocalStackRestarted' });
    await reconcileExecution(deps, { status: 'ABORTED', input, error: 'LocalStackRestarted' });
    const stored = (await store.getRun(run.runId))!;
    expect(stored.failure?.code).toBe('internal_error');
    expect(stored.failure?.internalReason).toContain('LocalStackRestarted');
    const failedEvents = (await store.listEvents(run.runId, 0, 100)).events.filter(
      (e) => e.type === 'bus.build.run.failed',
    );
    expect(failedEvents).toHaveLength(1);
    expect(await reconcileExecution(deps, { status: 'ABORTED', input: { nope: 1 } })).toBeUndefined();
  });
});
