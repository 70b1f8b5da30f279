import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoRunStore } from '../../lib/aws/run-store.ts';
import { ConflictError } from '../../lib/domain/errors.ts';
import { newEvent } from '../../lib/domain/events.ts';
import { newBuildRun, transition, update } from '../../lib/domain/lifecycle.ts';
import { startDynalite } from '../support/dynalite.ts';

let db: Awaited<ReturnType<typeof startDynalite>>;
let store: DynamoRunStore;
const owner = { sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa', emailVerified: false };
const at = (s: number) => new Date(Date.UTC(2026, 10, 24, 10, 0, s)).toISOString();

beforeAll(async () => {
  db = await startDynalite();
  store = new DynamoRunStore(db.doc, db.tableName);
});
afterAll(async () => db?.stop());

describe('DynamoRunStore against dynalite', () => {
  it('creates, reads back and refuses a duplicate create', async () => {
    const run = newBuildRun(owner, at(0));
    await store.createRun(run);
    expect(await store.getRun(run.runId)).toEqual(run);
    await expect(store.createRun(run)).rejects.toThrow();
    expect(await store.getRun('run_zzzzzzzzzzzzzzzzzzzzzzzzzz')).toBeUndefined();
  });

  it('of two concurrent transitions from the same version exactly one wins', async () => {
    const run = newBuildRun(owner, at(1));
    await store.createRun(run);
    const a = transition(run, 'quoted', {}, at(2));
    const b = transition(run, 'failed', {}, at(3));
    const results = await Promise.allSettled([
      store.saveRun(a, { phase: run.phase, version: run.version }),
      store.saveRun(b, { phase: run.phase, version: run.version }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConflictError);
    const stored = await store.getRun(run.runId);
    expect(stored?.version).toBe(1);
    expect(['quoted', 'failed']).toContain(stored?.phase);
  });

  it('refuses a save with a stale phase or version', async () => {
    const run = newBuildRun(owner, at(4));
    await store.createRun(run);
    const q = transition(run, 'quoted', {}, at(5));
    await store.saveRun(q, { phase: 'drafting', version: 0 });
    await expect(
      store.saveRun(update(run, {}, at(6)), { phase: 'drafting', version: 0 }),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(
      store.saveRun(update(q, {}, at(6)), { phase: 'drafting', version: 1 }),
    ).rejects.toBeInstanceOf(ConflictError);
  });

  it('appends 40 concurrent events with gap-free, duplicate-free sequence numbers', async () => {
    const run = newBuildRun(owner, at(7));
    await store.createRun(run);
    const appended = await Promise.all(
      Array.from({ length: 40 }, () => store.appendEvent(run.runId, newEvent('bus.build.run.requested', {}))),
    );
    const seqs = appended.map((e) => e.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const { events, lastSeq } = await store.listEvents(run.runId, 0, 100);
    expect(events.map((e) => e.seq)).toEqual(seqs);
    expect(lastSeq).toBe(40);
  });

  it('appends batches concurrently: gap-free overall, each batch in its own order', async () => {
    const run = newBuildRun(owner, at(7));
    await store.createRun(run);
    const batch = () =>
      store.appendEvents(
        run.runId,
        Array.from({ length: 10 }, () => newEvent('bus.build.run.requested', {})),
      );
    const [a, b] = await Promise.all([batch(), batch()]);
    const seqs = [...a!, ...b!].map((e) => e.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (const list of [a!, b!]) {
      const own = list.map((e) => e.seq);
      expect(own).toEqual([...own].sort((x, y) => x - y));
    }
  });

  it("tags a commit's events and counts them back across pages, stopping at older events", async () => {
    const run = newBuildRun(owner, at(20));
    await store.createRun(run);
    const progress = newEvent('bus.build.progress.updated', { stage: 'building' });
    await store.appendEvents(run.runId, [progress, progress], { commit: 'c-old' });
    const since = new Date().toISOString();
    await store.appendEvents(run.runId, [progress], { commit: 'c-new' });
    await store.appendEvents(run.runId, Array(130).fill(progress)); // untagged, newer: two pages
    await store.appendEvents(run.runId, [progress, progress], { commit: 'c-new' });
    expect(await store.countCommitEvents(run.runId, 'c-new', since)).toBe(3);
    // Events stamped before `since` are not read, tagged or not.
    expect(await store.countCommitEvents(run.runId, 'c-old', since)).toBe(0);
    expect(await store.countCommitEvents(run.runId, 'c-old', '2000-01-01T00:00:00.000Z')).toBe(2);
    expect(await store.countCommitEvents(run.runId, 'none', '2000-01-01T00:00:00.000Z')).toBe(0);
    // The tag stays internal: the listed events are the plain domain events.
    const { events } = await store.listEvents(run.runId, 0, 5);
    expect(JSON.stringify(events)).not.toContain('c-old');
  });

  it('reads events after a cursor with pagination', async () => {
    const run = newBuildRun(owner, at(8));
    await store.createRun(run);
    for (let i = 0; i < 7; i++) await store.appendEvent(run.runId, newEvent('bus.build.run.requested', {}));
    const page1 = await store.listEvents(run.runId, 0, 3);
    expect(page1.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    const page2 = await store.listEvents(run.runId, page1.lastSeq, 3);
    expect(page2.events.map((e) => e.seq)).toEqual([4, 5, 6]);
    const page3 = await store.listEvents(run.runId, page2.lastSeq, 3);
    expect(page3.events.map((e) => e.seq)).toEqual([7]);
    const empty = await store.listEvents(run.runId, 7, 3);
    expect(empty).toEqual({ events: [], lastSeq: 7 });
  });

  it('stores chat messages in order', async () => {
    const run = newBuildRun(owner, at(9));
    await store.createRun(run);
    await store.appendMessage({
      messageId: 'msg_b',
      runId: run.runId,
      role: 'assistant',
      text: 'second',
      at: at(11),
    });
    await store.appendMessage({
      messageId: 'msg_a',
      runId: run.runId,
      role: 'visitor',
      text: 'first',
      at: at(10),
    });
    expect((await store.listMessages(run.runId)).map((m) => m.text)).toEqual(['first', 'second']);
  });

  it('a long conversation lists its newest 200 messages, oldest first (the newest are never dropped)', async () => {
    const run = newBuildRun(owner, at(12));
    await store.createRun(run);
    // 110 exchanges = 220 messages, one second apart.
    for (let i = 0; i < 220; i++)
      await store.appendMessage({
        messageId: `msg_${String(i).padStart(4, '0')}`,
        runId: run.runId,
        role: i % 2 ? 'assistant' : 'visitor',
        text: `m${i}`,
        at: new Date(Date.UTC(2026, 10, 24, 11, 0, 0) + i * 1000).toISOString(),
      });
    const listed = (await store.listMessages(run.runId)).map((m) => m.text);
    expect(listed).toHaveLength(200);
    expect(listed[0]).toBe('m20');
    expect(listed.at(-1)).toBe('m219');
    expect((await store.listMessages(run.runId, 3)).map((m) => m.text)).toEqual(['m217', 'm218', 'm219']);
  });

  it('lists runs by phase through the GSI, newest first, with a cursor', async () => {
    const runs = [newBuildRun(owner, at(20)), newBuildRun(owner, at(21)), newBuildRun(owner, at(22))];
    for (const r of runs) {
      await store.createRun(r);
      await store.saveRun(transition(r, 'quoted', {}, r.createdAt), { phase: 'drafting', version: 0 });
    }
    const first = await store.listRunsByPhase('quoted', { limit: 2 });
    expect(first.runs.map((r) => r.runId)).toEqual([runs[2]!.runId, runs[1]!.runId]);
    expect(first.cursor).toBeDefined();
    const second = await store.listRunsByPhase('quoted', { limit: 2, cursor: first.cursor });
    expect(second.runs.map((r) => r.runId)).toContain(runs[0]!.runId);
    const drafting = await store.listRunsByPhase('drafting');
    expect(drafting.runs.map((r) => r.runId)).not.toContain(runs[0]!.runId);
  });

  it('claims an idempotency key once; an expired key can be claimed again', async () => {
    expect(await store.claimIdempotencyKey('stripe:evt_1', 3600)).toBe(true);
    expect(await store.claimIdempotencyKey('stripe:evt_1', 3600)).toBe(false);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.claimIdempotencyKey('stripe:evt_2', 3600)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.claimIdempotencyKey('stripe:evt_3', -10)).toBe(true);
    expect(await store.claimIdempotencyKey('stripe:evt_3', 3600)).toBe(true);
  });
});
