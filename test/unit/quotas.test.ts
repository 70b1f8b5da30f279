import { beforeEach, describe, expect, it } from 'vitest';
import { createRun } from '../../lib/app/create-run.ts';
import type { AppDeps } from '../../lib/app/deps.ts';
import { postMessage } from '../../lib/app/post-message.ts';
import { Quotas } from '../../lib/app/quotas.ts';
import { RateLimitedError } from '../../lib/domain/errors.ts';
import type { IntakeEngine, IntakeOutcome } from '../../lib/domain/intake/engine.ts';
import { OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { DEFAULT_PRICE_TABLE } from '../../lib/domain/pricing.ts';
import { DEFAULT_QUOTAS, quotasFromEnv } from '../../lib/domain/quotas.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { MemoryLoginStore, manualClock } from './email-fakes.ts';
import { MemoryPublisher, MemoryRunStore } from './orchestrator-fakes.ts';

process.env.LOG_LEVEL = 'silent';

const ALICE = { sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa' };
const BOB = { sessionId: 'ses_bbbbbbbbbbbbbbbbbbbbbbbbbb' };
const limits = {
  ...DEFAULT_QUOTAS,
  runsPerSessionPerHour: 3,
  runsPerSourcePerHour: 5,
  messagesPerSessionPerMinute: 2,
  messagesPerSourcePerMinute: 4,
  modelCallsPerSessionPerDay: 2,
};

let counter: MemoryLoginStore;
let clock: ReturnType<typeof manualClock>;
let quotas: Quotas;
beforeEach(() => {
  counter = new MemoryLoginStore();
  clock = manualClock();
  quotas = new Quotas(counter, limits, clock.now);
});

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('quotas on anonymous use', () => {
  it('run creation: per session, then per source; 429 rate_limited with Retry-After', async () => {
    for (let i = 0; i < 3; i++) await quotas.runCreation(ALICE.sessionId, '192.0.2.1');
    const err = await refusal(quotas.runCreation(ALICE.sessionId, '192.0.2.1'));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ code: 'rate_limited', status: 429 });
    expect((err as RateLimitedError).retryAfterSeconds).toBeGreaterThan(0);
    expect((err as RateLimitedError).retryAfterSeconds).toBeLessThanOrEqual(3600);
    // Dropping the cookie does not help: the source IP's quota (5) is reached next.
    await quotas.runCreation(undefined, '192.0.2.1');
    await expect(quotas.runCreation(undefined, '192.0.2.1')).rejects.toMatchObject({ code: 'rate_limited' });
    // Another source and session are unaffected; the window ends.
    await quotas.runCreation(BOB.sessionId, '192.0.2.2');
    clock.advance(3600 * 1000);
    await quotas.runCreation(ALICE.sessionId, '192.0.2.1');
  });

  it('messages: per session and per source, per minute', async () => {
    await quotas.message(ALICE.sessionId, '192.0.2.1');
    await quotas.message(ALICE.sessionId, '192.0.2.1');
    await expect(quotas.message(ALICE.sessionId, '192.0.2.1')).rejects.toMatchObject({
      code: 'rate_limited',
      status: 429,
    });
    // The source's quota (4) counts every session's messages: a refused one was not counted.
    await quotas.message(BOB.sessionId, '192.0.2.1');
    await quotas.message('ses_cccccccccccccccccccccccccc', '192.0.2.1');
    await expect(quotas.message('ses_dddddddddddddddddddddddddd', '192.0.2.1')).rejects.toMatchObject({
      code: 'rate_limited',
    });
    clock.advance(60 * 1000);
    await quotas.message(ALICE.sessionId, '192.0.2.1');
  });

  it('reads the limits from the environment and refuses nonsense', () => {
    expect(quotasFromEnv({})).toEqual(DEFAULT_QUOTAS);
    expect(
      quotasFromEnv({ RUNS_PER_SOURCE_PER_HOUR: '7', MODEL_CALLS_PER_SESSION_PER_DAY: ' 9 ' }),
    ).toMatchObject({
      runsPerSourcePerHour: 7,
      modelCallsPerSessionPerDay: 9,
    });
    expect(() => quotasFromEnv({ MESSAGES_PER_SESSION_PER_MINUTE: '0' })).toThrow(
      /MESSAGES_PER_SESSION_PER_MINUTE/,
    );
    expect(() => quotasFromEnv({ RUNS_PER_SESSION_PER_HOUR: 'lots' })).toThrow(/RUNS_PER_SESSION_PER_HOUR/);
  });
});

/** Stands in for a model-backed intake: counts its (model) calls; its model-free rules are the offline intake. */
class CountingModelIntake implements IntakeEngine {
  calls = 0;
  readonly modelFree = new OfflineIntake(recipeCatalog);
  private readonly inner = new OfflineIntake(recipeCatalog);
  async respond(run: BuildRun, text: string): Promise<IntakeOutcome> {
    this.calls++;
    return this.inner.respond(run, text);
  }
}

describe('the daily model budget of a session', () => {
  it('uses the model while the budget lasts, then the offline rules; the chat goes on', async () => {
    const intake = new CountingModelIntake();
    const deps: AppDeps = {
      store: new MemoryRunStore(),
      publisher: new MemoryPublisher(),
      intake,
      priceTable: DEFAULT_PRICE_TABLE,
      now: clock.now,
      modelBudget: (sessionId) => quotas.modelCall(sessionId),
    };
    const run = await createRun(deps, ALICE, counter);
    const texts = ['I need a tip calculator', 'hello', 'A web app please', 'with a dark theme'];
    const replies: string[] = [];
    for (const text of texts) replies.push((await postMessage(deps, ALICE, run.runId, text)).reply.text);
    expect(intake.calls).toBe(2);
    expect(replies.every((r) => r.length > 0)).toBe(true);
    // Another session has its own budget; the next day the budget is back.
    const other = await createRun(deps, BOB, counter);
    await postMessage(deps, BOB, other.runId, 'I need a tip calculator');
    expect(intake.calls).toBe(3);
    clock.advance(24 * 3600 * 1000);
    await postMessage(deps, ALICE, run.runId, 'A web app please');
    expect(intake.calls).toBe(4);
  });
});
