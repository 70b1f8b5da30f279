import { describe, expect, it } from 'vitest';
import { approveRun } from '../../lib/app/approve-run.ts';
import { type CheckoutDeps, startCheckout } from '../../lib/app/checkout.ts';
import { OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { recipeChecksFor } from '../../lib/domain/recipe-checks.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { conversation } from '../support/intake-harness.ts';
import { clock, FakeStarter, MemoryPublisher } from './orchestrator-fakes.ts';

/**
 * The offline intake quotes the recipe's own acceptance checks for the chosen artifact type; a
 * scope change re-quotes and re-derives them; the authorization names the quote version whose
 * spec (and checks) gets built, and nothing a visitor says afterwards changes them.
 */
const kinds = (run: BuildRun) => [...new Set((run.spec?.checks ?? []).map((c) => c.kind))].sort();
const ids = (run: BuildRun) => (run.spec?.checks ?? []).map((c) => c.id);

describe('offline intake: acceptance checks in the quote', () => {
  it('quotes the recipe checks that apply to the artifact type', async () => {
    const talk = await conversation(new OfflineIntake(recipeCatalog));
    const { run } = await talk.send('A unit converter web app and a program for Linux');
    expect(run.phase).toBe('quoted');
    expect(run.spec?.artifactType).toBe('both');
    expect(run.spec?.checks).toEqual(recipeChecksFor('unit-converter', 'both'));
    expect(kinds(run)).toEqual(['cli', 'web']);
    expect(run.spec?.checks?.map((c) => c.title)).toContain('10 km is shown as 6.21 miles');
  });

  it('a web-only quote carries only web checks; a program-only quote only cli checks', async () => {
    const web = await conversation(new OfflineIntake(recipeCatalog));
    const w = await web.send('A tip calculator web app');
    expect(ids(w.run)).toEqual(recipeChecksFor('tip-calculator', 'web').map((c) => c.id));
    expect(kinds(w.run)).toEqual(['web']);

    const bin = await conversation(new OfflineIntake(recipeCatalog));
    const b = await bin.send('A base64 command line program for Windows');
    expect(b.run.spec?.artifactType).toBe('binary');
    expect(kinds(b.run)).toEqual(['cli']);
    expect(ids(b.run)).toEqual(recipeChecksFor('base64-tool', 'binary').map((c) => c.id));
  });

  it('a scope change re-quotes and re-derives the checks (the quote version bumps)', async () => {
    const talk = await conversation(new OfflineIntake(recipeCatalog));
    const first = await talk.send('A loan calculator, web app and program');
    expect(first.run.quote?.version).toBe(1);
    expect(kinds(first.run)).toEqual(['cli', 'web']);

    const second = await talk.send('make it binary only, just for Linux');
    expect(second.run.quote).toMatchObject({ version: 2, artifactType: 'binary' });
    expect(kinds(second.run)).toEqual(['cli']);
    expect(ids(second.run)).toEqual(recipeChecksFor('loan-calculator', 'binary').map((c) => c.id));

    const third = await talk.send('also a web app please');
    expect(third.run.quote).toMatchObject({ version: 3, artifactType: 'both' });
    expect(ids(third.run)).toEqual(recipeChecksFor('loan-calculator', 'both').map((c) => c.id));

    const fourth = await talk.send('actually, make it a password generator instead');
    expect(fourth.run.quote?.version).toBe(4);
    expect(fourth.run.spec?.recipe).toBe('password-generator');
    expect(ids(fourth.run)).toEqual(recipeChecksFor('password-generator', 'both').map((c) => c.id));
  });

  it('a change that keeps the quote keeps its checks', async () => {
    const talk = await conversation(new OfflineIntake(recipeCatalog));
    const first = await talk.send('A word counter web app');
    expect(first.run.spec?.checks).toEqual(recipeChecksFor('word-counter', 'web'));
    // The offline coder builds no extras: nothing is added, the quote and its checks stay.
    const again = await talk.send('and it should keep a history of past texts');
    expect(again.run.quote?.version).toBe(first.run.quote?.version);
    expect(again.run.spec?.checks).toEqual(first.run.spec?.checks);
  });
});

describe('approving the quote approves its checks', () => {
  it('the authorization names the quote version; later messages change neither spec nor checks', async () => {
    const talk = await conversation(new OfflineIntake(recipeCatalog));
    await talk.send('A BMI calculator web app');
    const v2 = await talk.send('make it a web app and a program for Mac');
    expect(v2.run.quote?.version).toBe(2);
    const quoted = await talk.run();

    const deps = {
      store: talk.store,
      publisher: new MemoryPublisher(),
      starter: new FakeStarter(),
      now: clock(),
    };
    const res = await approveRun(deps, talk.runId, { actor: 'operator', method: 'manual' });
    expect(res.run.phase).toBe('authorized');
    expect(res.run.payment.quoteVersion).toBe(2);
    const authorized = talk.store.events.get(talk.runId)?.find((e) => e.type === 'bus.build.run.authorized');
    expect(authorized?.data).toMatchObject({ method: 'manual', quoteVersion: 2 });

    const after = await talk.send('make it binary only, just for Windows');
    expect(after.reply).toMatch(/can’t change now/);
    const run = await talk.run();
    expect(run.quote).toEqual(quoted.quote);
    expect(run.spec).toEqual(quoted.spec);
    expect(run.spec?.checks).toEqual(recipeChecksFor('bmi-calculator', 'both'));
  });

  it('an approval request for an older version is superseded by the re-quote; approval names the new one', async () => {
    const talk = await conversation(new OfflineIntake(recipeCatalog));
    await talk.send('A countdown timer web app');
    const deps: CheckoutDeps & { starter: FakeStarter } = {
      store: talk.store,
      publisher: new MemoryPublisher(),
      starter: new FakeStarter(),
      now: clock(),
      notifier: { approvalRequested: async () => {} },
    };
    const caller = { sessionId: (await talk.run()).owner.sessionId };
    await startCheckout(deps, caller, talk.runId, { method: 'manual', portalBase: 'http://portal' });
    expect((await talk.run()).payment).toMatchObject({ status: 'manual_requested', quoteVersion: 1 });

    await talk.send('make it a program for Linux only');
    const requoted = await talk.run();
    expect(requoted.quote?.version).toBe(2);
    expect(requoted.payment.status).toBe('none');

    const res = await approveRun(deps, talk.runId, { actor: 'operator', method: 'manual' });
    expect(res.run.payment.quoteVersion).toBe(2);
    expect(res.run.spec?.checks).toEqual(recipeChecksFor('countdown-timer', 'binary'));
  });
});
