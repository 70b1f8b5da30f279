import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BuildSpecSchema } from '../../lib/domain/build-spec.ts';
import { OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { REFUSALS } from '../../lib/domain/intake/scope.ts';
import { conversation } from '../support/intake-harness.ts';

interface Expect {
  outcome?: 'quote' | 'refuse' | 'question';
  recipe?: string;
  artifactType?: string;
  platforms?: string[];
  title?: string;
  complexity?: string;
  questions?: number;
  keep?: boolean;
}
interface Case {
  id: string;
  turns: string[];
  expect: Expect;
  changes?: { text: string; expect: Expect }[];
}

const corpus = JSON.parse(
  readFileSync(new URL('../fixtures/intake-corpus.json', import.meta.url), 'utf8'),
) as { cases: Case[] };
const refusals = new Set(Object.values(REFUSALS));

describe('offline intake on the request corpus', () => {
  it('has at least 30 varied requests', () => {
    expect(corpus.cases.length).toBeGreaterThanOrEqual(30);
    const outcomes = new Set(corpus.cases.map((c) => c.expect.outcome));
    expect(outcomes).toEqual(new Set(['quote', 'refuse', 'question']));
  });

  it.each(corpus.cases.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const talk = await conversation(new OfflineIntake(recipeCatalog));
    let last = '';
    for (const t of c.turns) last = (await talk.send(t)).reply;
    const run = await talk.run();
    const e = c.expect;
    if (e.outcome === 'quote') {
      expect(run.phase).toBe('quoted');
      const spec = BuildSpecSchema.parse(run.spec);
      expect(spec.recipe).toBe(e.recipe);
      expect(spec.artifactType).toBe(e.artifactType);
      expect([...spec.platforms].sort()).toEqual(e.platforms);
      if (e.title) expect(spec.title).toBe(e.title);
      expect(spec.complexity).toBe(e.complexity ?? 'small');
      expect(run.quote?.version).toBe(1);
      expect(run.quote?.artifactType).toBe(e.artifactType);
      expect(talk.events()).toContain('bus.build.quote.ready');
    } else {
      expect(run.phase).toBe('drafting');
      expect(run.spec).toBeUndefined();
      expect(talk.events()).not.toContain('bus.build.quote.ready');
      if (e.outcome === 'refuse') expect(refusals.has(last)).toBe(true);
      else expect(refusals.has(last)).toBe(false);
    }
    if (e.questions !== undefined) expect(run.intake.questionsAsked).toBe(e.questions);
    expect(run.intake.questionsAsked).toBeLessThanOrEqual(2);

    let version = run.quote?.version ?? 0;
    for (const ch of c.changes ?? []) {
      const before = await talk.run();
      const out = await talk.send(ch.text);
      const after = await talk.run();
      expect(after.phase, ch.text).toBe('quoted');
      if (ch.expect.keep) {
        expect(after.quote, ch.text).toEqual(before.quote);
        expect(after.spec, ch.text).toEqual(before.spec);
        continue;
      }
      version++;
      expect(after.quote?.version, ch.text).toBe(version);
      const spec = BuildSpecSchema.parse(after.spec);
      if (ch.expect.artifactType) expect(spec.artifactType, ch.text).toBe(ch.expect.artifactType);
      if (ch.expect.platforms) expect([...spec.platforms].sort(), ch.text).toEqual(ch.expect.platforms);
      if (ch.expect.title) expect(spec.title, ch.text).toBe(ch.expect.title);
      if (ch.expect.recipe) expect(spec.recipe, ch.text).toBe(ch.expect.recipe);
      if (ch.expect.complexity) expect(spec.complexity, ch.text).toBe(ch.expect.complexity);
      expect(out.reply).toContain(spec.title);
    }
  });
});
