import { beforeEach, describe, expect, it } from 'vitest';
import { type ApproveDeps, approveRun } from '../../lib/app/approve-run.ts';
import { retryRun } from '../../lib/app/retry-run.ts';
import { executionName } from '../../lib/app/start-execution.ts';
import { ConflictError, DomainError, NotFoundError } from '../../lib/domain/errors.ts';
import { newBuildRun, transition } from '../../lib/domain/lifecycle.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import {
  clock,
  FakeStarter,
  MemoryPublisher,
  MemoryRunStore,
  OWNER,
  quotedRun,
  T0,
} from './orchestrator-fakes.ts';

let store: MemoryRunStore;
let starter: FakeStarter;
let deps: ApproveDeps;

beforeEach(() => {
  store = new MemoryRunStore();
  starter = new FakeStarter();
  deps = { store, publisher: new MemoryPublisher(), starter, now: clock() };
});

const approve = (runId: string) => approveRun(deps, runId, { actor: 'operator@busdk.com', method: 'manual' });

async function failedRun(): Promise<BuildRun> {
  const q = quotedRun();
  const a = transition(q, 'authorized', { payment: { status: 'manual_approved', method: 'manual' } }, T0);
  const r = transition(a, 'repo_ready', { branch: `build/20261124/${q.runId}`, repoId: 'template' }, T0);
  const w = transition(r, 'worker_running', { attempts: 3, workerId: 'wkr_1' }, T0);
  const f = transition(
    w,
    'failed',
    { failure: { code: 'verification_failed', internalReason: 'x', at: T0 } },
    T0,
  );
  await store.createRun(f);
  return f;
}

describe('approveRun', () => {
  it('authorizes a quoted run, records the event and starts the execution named after the run', async () => {
    const run = quotedRun();
    await store.createRun(run);
    const res = await approve(run.runId);
    expect(res).toMatchObject({ started: true, alreadyStarted: false });
    expect(res.run.phase).toBe('authorized');
    const stored = await store.getRun(run.runId);
    expect(stored?.phase).toBe('authorized');
    expect(stored?.payment).toMatchObject({ status: 'manual_approved', method: 'manual' });
    expect(store.events.get(run.runId)?.map((e) => [e.type, e.data])).toEqual([
      ['bus.build.run.authorized', { method: 'manual', actor: 'operator@busdk.com', quoteVersion: 1 }],
    ]);
    expect(starter.names).toEqual([run.runId]);
  });

  it('is idempotent: a second approval neither transitions nor starts a second execution', async () => {
    const run = quotedRun();
    await store.createRun(run);
    await approve(run.runId);
    const versionAfterFirst = (await store.getRun(run.runId))?.version;
    const again = await approve(run.runId);
    expect(again).toMatchObject({ started: false, alreadyStarted: true });
    expect((await store.getRun(run.runId))?.version).toBe(versionAfterFirst);
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized']);
    expect(starter.names).toEqual([run.runId]); // ExecutionAlreadyExists on the second start
    expect(starter.calls).toBe(2);
  });

  it('re-attempts the start when the first approval crashed after authorizing', async () => {
    const run = quotedRun();
    await store.createRun(run);
    const crashing: ApproveDeps = {
      ...deps,
      starter: {
        start: async () => {
          throw new Error('network down');
        },
      },
    };
    await expect(approveRun(crashing, run.runId, { actor: 'op', method: 'manual' })).rejects.toThrow(
      'network down',
    );
    expect((await store.getRun(run.runId))?.phase).toBe('authorized');
    const res = await approve(run.runId);
    expect(res).toMatchObject({ started: true, alreadyStarted: false });
    expect(starter.names).toEqual([run.runId]);
  });

  it('does not start again once the execution has moved the run on', async () => {
    const run = quotedRun();
    await store.createRun(run);
    await approve(run.runId);
    const cur = (await store.getRun(run.runId)) as BuildRun;
    await store.saveRun(transition(cur, 'repo_ready', {}, T0), cur);
    const res = await approve(run.runId);
    expect(res).toMatchObject({ started: false, alreadyStarted: true });
    expect(starter.calls).toBe(1);
  });

  it('of concurrent approvals exactly one transitions and only one execution exists', async () => {
    const run = quotedRun();
    await store.createRun(run);
    const results = await Promise.all(Array.from({ length: 5 }, () => approve(run.runId)));
    expect(results.filter((r) => r.started)).toHaveLength(1);
    expect(results.filter((r) => r.alreadyStarted)).toHaveLength(4);
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized']);
    expect((await store.getRun(run.runId))?.version).toBe(run.version + 1);
    expect(starter.names).toEqual([run.runId]);
  });

  it('a losing concurrent writer re-reads and reports the start as already done', async () => {
    const run = quotedRun();
    await store.createRun(run);
    // Another approval wins between our read and our conditional write.
    store.beforeSave = async () => {
      store.beforeSave = undefined;
      await approve(run.runId);
    };
    const res = await approve(run.runId);
    expect(res).toMatchObject({ started: false, alreadyStarted: true });
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized']);
    expect(starter.names).toEqual([run.runId]);
  });

  it('refuses runs without a quote and unknown runs', async () => {
    const drafting = newBuildRun(OWNER, T0);
    await store.createRun(drafting);
    await expect(approve(drafting.runId)).rejects.toMatchObject({ code: 'not_approvable', status: 409 });
    await expect(approve('run_zzzzzzzzzzzzzzzzzzzzzzzzzz')).rejects.toBeInstanceOf(NotFoundError);
    expect(starter.calls).toBe(0);
    expect((await store.getRun(drafting.runId))?.phase).toBe('drafting');
  });

  it('treats a failed run that was approved before as already started', async () => {
    const run = await failedRun();
    expect(await approve(run.runId)).toMatchObject({ started: false, alreadyStarted: true });
    expect((await store.getRun(run.runId))?.phase).toBe('failed');
  });

  it('propagates a conflict that did not come from another approval', async () => {
    const run = quotedRun();
    await store.createRun(run);
    store.beforeSave = () => {
      throw new ConflictError();
    };
    await expect(approve(run.runId)).rejects.toBeInstanceOf(ConflictError);
    expect(starter.calls).toBe(0);
  });
});

describe('retryRun', () => {
  it('reopens a failed run with a new execution named {run_id}-retry-{n}', async () => {
    const run = await failedRun();
    const first = await retryRun(deps, run.runId, 'op');
    expect(first).toMatchObject({
      started: true,
      alreadyStarted: false,
      executionName: `${run.runId}-retry-1`,
    });
    const stored = (await store.getRun(run.runId)) as BuildRun;
    expect(stored.phase).toBe('authorized');
    expect(stored.failure).toBeUndefined();
    expect(stored.endedAt).toBeUndefined();
    expect(stored.retries).toBe(1);
    expect(stored.attempts).toBe(3); // attempt numbering continues
    expect(stored.branch).toBe(run.branch);
    expect(store.types(run.runId)).toEqual(['bus.build.run.authorized']);

    // The retry fails again; the second retry gets the next name.
    const w = transition(stored, 'repo_ready', {}, T0);
    await store.saveRun(w, stored);
    const f = transition(
      w,
      'failed',
      { failure: { code: 'worker_failed', internalReason: 'y', at: T0 } },
      T0,
    );
    await store.saveRun(f, w);
    const second = await retryRun(deps, run.runId, 'op');
    expect(second.executionName).toBe(`${run.runId}-retry-2`);
    expect(starter.names).toEqual([`${run.runId}-retry-1`, `${run.runId}-retry-2`]);
  });

  it('is idempotent while the retry has not started yet, and refuses other phases', async () => {
    const run = await failedRun();
    await retryRun(deps, run.runId, 'op');
    const again = await retryRun(deps, run.runId, 'op');
    expect(again).toMatchObject({
      started: false,
      alreadyStarted: true,
      executionName: `${run.runId}-retry-1`,
    });
    expect((await store.getRun(run.runId))?.retries).toBe(1);
    // approve on a retried, still authorized run re-attempts the same retry execution name
    expect(executionName((await store.getRun(run.runId)) as BuildRun)).toBe(`${run.runId}-retry-1`);
    expect(await approve(run.runId)).toMatchObject({ started: false, alreadyStarted: true });
    expect(starter.names).toEqual([`${run.runId}-retry-1`]);

    const quoted = quotedRun();
    await store.createRun(quoted);
    await expect(retryRun(deps, quoted.runId, 'op')).rejects.toMatchObject({ code: 'not_retryable' });
  });

  it('refuses to retry a run that was never authorized', async () => {
    const run = newBuildRun(OWNER, T0);
    const f = transition(run, 'failed', { failure: { code: 'cancelled', internalReason: 'x', at: T0 } }, T0);
    await store.createRun(f);
    const err = await retryRun(deps, run.runId, 'op').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 'not_retryable', status: 409 });
    expect(starter.calls).toBe(0);
  });
});
