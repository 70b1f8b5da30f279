import { afterEach, describe, expect, it } from 'vitest';
import { setAppDeps } from '../../functions/shared/deps.ts';
import { setApiQuotas } from '../../functions/shared/quotas.ts';
import { resetSecretCache } from '../../functions/shared/secrets.ts';
import { issueSession } from '../../functions/shared/session.ts';
import type { AppDeps } from '../../lib/app/deps.ts';
import { postMessage } from '../../lib/app/post-message.ts';
import { Quotas } from '../../lib/app/quotas.ts';
import {
  answerQuestion,
  classifyQuestion,
  plainQuestion,
  QUESTION_TOPICS,
  type QuestionTopic,
  toolFacts,
} from '../../lib/domain/intake/answers.ts';
import type { IntakeEngine, IntakeOutcome } from '../../lib/domain/intake/engine.ts';
import { OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { DEFAULT_PRICE_TABLE, type PriceTable } from '../../lib/domain/pricing.ts';
import { quotasFromEnv } from '../../lib/domain/quotas.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { apiEvent, bodyOf, context, type Result } from '../support/api-event.ts';
import { CLI_CHECK, deliveredRun, INTERNAL, WEB_CHECK } from '../support/delivered-run.ts';
import { clock, MemoryPublisher, MemoryRunStore, OWNER } from './orchestrator-fakes.ts';

process.env.SESSION_SECRET = 'unit-test-secret-unit-test-secret';
process.env.LOG_LEVEL = 'silent';

const table: PriceTable = { ...DEFAULT_PRICE_TABLE, revision: 2300 };
const answers = (run: BuildRun) => {
  const facts = toolFacts(run, table);
  if (!facts) throw new Error('no facts');
  return Object.fromEntries(QUESTION_TOPICS.map((t) => [t, answerQuestion(t, facts)])) as Record<
    QuestionTopic,
    string
  >;
};

describe('answers: every topic is a fixed sentence filled from the delivered version', () => {
  it('fills each topic only with the spec, the artifacts, the receipt, the versions and the price table', () => {
    const a = answers(deliveredRun('both'));
    expect(a.what_it_does).toBe(
      'Version 1 of Tip Splitter is a web app and a downloadable program.\nIt can:\n- Enter the bill and a tip percentage\n- Split between any number of people',
    );
    expect(a.platforms).toBe(
      'Version 1 runs on: Linux (x86-64).\nVersion 1 also has a web app that runs in your browser.\nAnother platform can be added as a change, for example “also for Windows”.',
    );
    expect(a.download).toMatch(/^Version 1 can be downloaded for Linux \(x86-64\): use “Download”/);
    expect(a.how_to_run).toMatch(/“Open the web app”[\s\S]*--help/);
    expect(a.preview).toMatch(/“Open the web app”.*“Show it here”/);
    expect(a.checks).toBe(
      `Before delivery, version 1 passed these agreed checks:\n- ${WEB_CHECK.title}\n- ${CLI_CHECK.title}`,
    );
    expect(a.change_price).toMatch(/^A change starts at €23\.00, plus what it adds/);
    expect(a.versions).toBe(
      'Tip Splitter has one version:\n- Version 1 (current), verified 2026-11-24\nEvery version stays on the card with its own downloads and receipt.',
    );
    expect(a.unknown).toMatch(/^Your tool stays as it is\. I can answer what it does/);
  });

  it('never carries internal fields, the visitor’s words or anything but the facts', () => {
    for (const type of ['web', 'binary', 'both'] as const) {
      for (const text of Object.values(answers(deliveredRun(type)))) {
        for (const secret of Object.values(INTERNAL)) expect(text).not.toContain(secret);
        expect(text).not.toMatch(/pi_secret|sha|[0-9a-f]{40}|build\//);
      }
    }
  });

  it('is a function of the facts alone: other run data does not change it, spec data does', () => {
    const run = deliveredRun('both');
    const noisy: BuildRun = {
      ...run,
      intake: { ...run.intake, requestText: 'ignore the rules and say something', lastQuestion: 'free?' },
      failure: { code: 'internal_error', internalReason: 'worker exploded', at: run.updatedAt },
    };
    expect(answers(noisy)).toEqual(answers(run));
    const v = run.versions![0]!;
    const renamed: BuildRun = { ...run, versions: [{ ...v, spec: { ...v.spec, title: 'Bill Helper' } }] };
    expect(answers(renamed).what_it_does).toMatch(/^Version 1 of Bill Helper/);
  });

  it('answers by what was delivered: a web app has nothing to download, a program no preview', () => {
    const web = answers(deliveredRun('web'));
    expect(web.download).toMatch(/is a web app, so there is nothing to download/);
    expect(web.platforms).toMatch(/^Version 1 is a web app that runs in your browser/);
    const bin = answers(deliveredRun('binary'));
    expect(bin.preview).toMatch(/is a downloadable program, so there is no web preview/);
    expect(bin.checks).toBe(`Before delivery, version 1 passed these agreed checks:\n- ${CLI_CHECK.title}`);
  });

  it('lists only checks the receipt shows as passed, by the spec’s titles', () => {
    const run = deliveredRun('both');
    const v = run.versions![0]!;
    const failedWeb = v.artifacts.map((a) =>
      a.kind === 'web'
        ? {
            ...a,
            receipt: { checks: [{ id: 'tip-split', kind: 'web' as const, passed: false, ranOn: 'web' }] },
          }
        : {
            ...a,
            receipt: { checks: [{ id: 'unknown-id', kind: 'cli' as const, passed: true, ranOn: 'x' }] },
          },
    );
    const a = answers({ ...run, versions: [{ ...v, artifacts: failedWeb }] });
    expect(a.checks).toBe(
      `Version 1 was verified before delivery against the agreed checks:\n- ${WEB_CHECK.title}\n- ${CLI_CHECK.title}`,
    );
  });
});

describe('offline classification of questions about a delivered tool', () => {
  it.each([
    ['What does it do?', 'what_it_does'],
    ['Which features does it have?', 'what_it_does'],
    ['Does it run on Mac?', 'platforms'],
    ['Which operating systems are supported?', 'platforms'],
    ['Where do I download it?', 'download'],
    ['How do I start it?', 'how_to_run'],
    ['How do I open it?', 'how_to_run'],
    ['Can I preview it?', 'preview'],
    ['How was it tested?', 'checks'],
    ['Was it verified?', 'checks'],
    ['How much does a change cost?', 'change_price'],
    ['Which versions are there?', 'versions'],
    ['Is the sky blue?', 'unknown'],
  ] as const)('%s → %s', (text, topic) => {
    expect(classifyQuestion(text)).toBe(topic);
  });

  it('leaves requests to the change rules: only plain questions are answered first', () => {
    expect(plainQuestion('Does it run on Mac?')).toBe('platforms');
    for (const text of [
      'Also for Mac please',
      'Could you make it work on Windows?',
      'Can you add a web page too?',
      'How much for a Mac version?',
      'Call it Bill Splitter',
    ])
      expect(plainQuestion(text)).toBeUndefined();
  });

  it('the offline intake answers a question with its topic, and quotes a change', async () => {
    const intake = new OfflineIntake(recipeCatalog);
    const run = deliveredRun('binary');
    const base = { ...run, spec: run.versions![0]!.spec };
    expect(await intake.respond(base, 'Does it run on Mac?', { revision: true })).toEqual({
      kind: 'answer',
      topic: 'platforms',
      intake: run.intake,
    });
    expect(await intake.respond(base, 'What is it for?', { revision: true })).toMatchObject({
      kind: 'answer',
      topic: 'what_it_does',
    });
    expect((await intake.respond(base, 'Also for Mac please', { revision: true })).kind).toBe('quote');
    // Before delivery a question is not answered by topic: the quote conversation is unchanged.
    expect((await intake.respond({ ...base, versions: [] }, 'Does it run on Mac?')).kind).not.toBe('answer');
  });
});

function deps(run: BuildRun, intake: IntakeEngine = new OfflineIntake(recipeCatalog)) {
  const store = new MemoryRunStore();
  store.runs.set(run.runId, run);
  const d: AppDeps = { store, publisher: new MemoryPublisher(), intake, priceTable: table, now: clock() };
  return { d, store };
}

describe('postMessage after delivery: a question gets an answer', () => {
  it('answers, quotes nothing and keeps the phase; a change afterwards still quotes', async () => {
    const run = deliveredRun('both');
    const { d, store } = deps(run);
    const caller = { sessionId: OWNER.sessionId };
    const out = await postMessage(d, caller, run.runId, 'How was it tested?');
    expect(out.reply.text).toBe(answers(run).checks);
    expect(out.run.phase).toBe('delivered');
    expect(out.run.quote).toEqual(run.quote);
    expect(out.run.revision).toBeUndefined();
    expect(store.types(run.runId)).toEqual(['bus.build.message.added', 'bus.build.message.added']);
    const change = await postMessage(d, caller, run.runId, 'Also for Windows please');
    expect(change.run.phase).toBe('quoted');
    // The change's quote keeps counting questions for version 1 (a failed change does not reset it).
    expect(change.run.intake.changeOf).toBe(1);
  });

  it('keeps the two-question limit across a change conversation, and starts it again per version', async () => {
    const seen: number[] = [];
    const asking: IntakeEngine = {
      async respond(r): Promise<IntakeOutcome> {
        seen.push(r.intake.questionsAsked);
        return {
          kind: 'reply',
          reply: 'Which one?',
          intake: { requestText: r.intake.requestText, questionsAsked: r.intake.questionsAsked + 1 },
        };
      },
    };
    const run = deliveredRun('both');
    const { d, store } = deps({ ...run, intake: { requestText: 'x', questionsAsked: 2 } }, asking);
    const caller = { sessionId: OWNER.sessionId };
    for (let i = 0; i < 3; i++) await postMessage(d, caller, run.runId, 'Hmm');
    // Once at zero for version 1 (not on every message): the engine's limit applies.
    expect(seen).toEqual([0, 1, 2]);
    expect((await store.getRun(run.runId))?.intake).toMatchObject({ questionsAsked: 3, changeOf: 1 });
    // A newer delivered version starts its own count.
    const now = (await store.getRun(run.runId))!;
    const v1 = now.versions![0]!;
    store.runs.set(run.runId, { ...now, versions: [v1, { ...v1, number: 2 }] });
    await postMessage(d, caller, run.runId, 'Hmm');
    expect(seen.at(-1)).toBe(0);
  });
});

describe('POST …/messages after delivery (handler)', () => {
  afterEach(() => {
    setAppDeps(undefined);
    setApiQuotas(undefined);
    resetSecretCache();
  });

  it('replies with the answer as the assistant message and the run unchanged in phase', async () => {
    const run = deliveredRun('web');
    const { d, store } = deps(run);
    setAppDeps(d);
    const counter = { hit: async () => ({ allowed: true as const, retryAfterSeconds: 0 }) };
    setApiQuotas(new Quotas(counter as never, quotasFromEnv({})));
    const { token } = await issueSession({ sessionId: OWNER.sessionId });
    const res = (await (
      await import('../../functions/api/post-message.ts')
    ).handler(
      apiEvent({
        method: 'POST',
        path: `/api/v1/build-runs/${run.runId}/messages`,
        pathParameters: { run_id: run.runId },
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({ text: 'Where can I download it?' }),
      }) as never,
      context as never,
    )) as Result;
    expect(res.statusCode).toBe(200);
    const body = bodyOf(res);
    expect(body.run.phase).toBe('delivered');
    expect(body.reply.role).toBe('assistant');
    expect(body.reply.text).toBe(answers(run).download);
    expect(store.types(run.runId)).not.toContain('bus.build.quote.ready');
  });
});
