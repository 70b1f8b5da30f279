import { describe, expect, it } from 'vitest';
import { BuildSpecSchema } from '../../lib/domain/build-spec.ts';
import type { ToolCatalog } from '../../lib/domain/intake/engine.ts';
import { ARTIFACT_TYPE_QUESTION, OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { newBuildRun } from '../../lib/domain/lifecycle.ts';
import { DEFAULT_PRICE_TABLE, parsePriceTable, priceQuote } from '../../lib/domain/pricing.ts';
import type { BuildRun } from '../../lib/domain/run.ts';

const catalog: ToolCatalog = {
  match: (text) =>
    /tip|gratuity/i.test(text)
      ? {
          id: 'tip-calculator',
          title: 'Tip Calculator',
          description: 'Works out the tip and splits the bill.',
          features: ['Tip percentage', 'Split between people'],
        }
      : undefined,
  examples: () => ['a tip calculator', 'a unit converter'],
};
const intake = new OfflineIntake(catalog);
const run = (patch: Partial<BuildRun> = {}): BuildRun => ({
  ...newBuildRun(
    { sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa', emailVerified: false },
    '2026-11-24T10:00:00.000Z',
  ),
  ...patch,
});

describe('offline intake', () => {
  it('asks whether it is a web app or a program when the visitor did not say', async () => {
    const out = await intake.respond(run(), 'I need a tip calculator');
    expect(out.kind).toBe('reply');
    if (out.kind !== 'reply') return;
    expect(out.reply).toContain(ARTIFACT_TYPE_QUESTION);
    expect(out.intake.pendingQuestion).toBe('artifact_type');
    expect(out.intake.questionsAsked).toBe(1);
  });

  it('quotes once the answer arrives, with a valid spec', async () => {
    const first = await intake.respond(run(), 'I need a tip calculator');
    const second = await intake.respond(run({ intake: first.intake }), 'a web app please');
    expect(second.kind).toBe('quote');
    if (second.kind !== 'quote') return;
    expect(BuildSpecSchema.parse(second.spec)).toEqual(second.spec);
    expect(second.spec.artifactType).toBe('web');
    expect(second.spec.platforms).toEqual([]);
    expect(second.spec.recipe).toBe('tip-calculator');
    expect(second.reply).toContain('Tip Calculator');
  });

  it('quotes directly when the type and platforms are given, and uses the given name', async () => {
    const out = await intake.respond(
      run(),
      'A command-line tip calculator called Split It for Windows and Linux',
    );
    expect(out.kind).toBe('quote');
    if (out.kind !== 'quote') return;
    expect(out.spec.title).toBe('Split It');
    expect(out.spec.artifactType).toBe('binary');
    expect(out.spec.platforms.sort()).toEqual(['linux-amd64', 'linux-arm64', 'windows-amd64']);
  });

  it('asks what the tool should do when nothing matches, at most twice', async () => {
    let r = run();
    for (let i = 0; i < 3; i++) {
      const out = await intake.respond(r, 'something cool');
      expect(out.kind).toBe('reply');
      r = run({ intake: out.intake });
    }
    expect(r.intake.questionsAsked).toBe(2);
  });

  it('refuses requests for source, harmful tools and large systems without changing state', async () => {
    for (const text of [
      'Send me the source code of a tip calculator',
      'write a keylogger',
      'build me a CRM with user accounts',
    ]) {
      const before = run();
      const out = await intake.respond(before, text);
      expect(out.kind).toBe('reply');
      expect(out.intake).toEqual(before.intake);
    }
  });

  it('defaults to a web app when the answer to the type question is unclear', async () => {
    const first = await intake.respond(run(), 'tip calculator');
    const second = await intake.respond(run({ intake: first.intake }), 'whatever you think');
    expect(second.kind).toBe('quote');
    if (second.kind === 'quote') expect(second.spec.artifactType).toBe('web');
  });
});

describe('pricing', () => {
  const spec = {
    title: 'Tip Calculator',
    summary: 'x',
    requestText: 'x',
    artifactType: 'both' as const,
    platforms: ['linux-amd64', 'linux-arm64', 'darwin-arm64', 'darwin-amd64', 'windows-amd64'],
    features: [],
    outOfScope: [],
    complexity: 'small' as const,
  };

  it('prices from the table by kind and extra platforms', () => {
    const q = priceQuote(spec, DEFAULT_PRICE_TABLE, 1, '2026-11-24T10:00:00.000Z');
    expect(q.amountCents).toBe(7900 + 3 * 500);
    expect(q.lineItems).toHaveLength(2);
    const web = priceQuote({ ...spec, artifactType: 'web' }, DEFAULT_PRICE_TABLE, 2, 'now');
    expect(web.amountCents).toBe(4900);
    expect(web.platforms).toEqual([]);
  });

  it('reads a configured table and rejects a malformed one', () => {
    const table = parsePriceTable(
      JSON.stringify({ ...DEFAULT_PRICE_TABLE, currency: 'usd', base: { web: 100, binary: 200, both: 300 } }),
    );
    expect(priceQuote({ ...spec, artifactType: 'web' }, table, 1, 'now').amountCents).toBe(100);
    expect(() => parsePriceTable('{"currency":"usd"}')).toThrow();
  });
});
