import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AcceptanceChecksSchema, enoughChecks, MAX_CHECKS } from '../../lib/domain/acceptance.ts';
import { ARTIFACT_TYPES } from '../../lib/domain/build-spec.ts';
import { RECIPES_WITH_CHECKS, recipeChecks, recipeChecksFor } from '../../lib/domain/recipe-checks.ts';
import { RECIPE_IDS } from '../../lib/domain/recipes.ts';

/**
 * The catalog's acceptance checks as data: every recipe ships them, both kinds, valid under the
 * contract, and every web check names only labels, buttons and options its page really has. That
 * they pass on the recipe's build (and fail on the skeleton) is test/template/recipe-checks.test.ts.
 */
const RECIPES_DIR = fileURLToPath(new URL('../../worker-image/recipes/', import.meta.url));
const page = (id: string, file: string) => readFileSync(`${RECIPES_DIR}${id}/files/web/${file}`, 'utf8');

/** The visible words of the page and its script, with markup and entities reduced to text. */
function pageWords(id: string): string {
  const html = page(id, 'index.html')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#10;/g, '\n');
  return `${html}\n${page(id, 'app.js')}`.replace(/\s+/g, ' ').toLowerCase();
}

describe('recipe checks', () => {
  it('exist for exactly the catalog recipes', () => {
    expect([...RECIPES_WITH_CHECKS].sort()).toEqual([...RECIPE_IDS].sort());
    expect(recipeChecks('no-such-recipe')).toEqual([]);
  });

  it.each(RECIPE_IDS.map((id) => [id]))(
    '%s: at least 2 cli and 2 web checks, valid and enough for every type',
    (id) => {
      const checks = recipeChecks(id);
      expect(checks.length).toBeGreaterThanOrEqual(3);
      expect(checks.length).toBeLessThanOrEqual(MAX_CHECKS);
      expect(checks.filter((c) => c.kind === 'cli').length).toBeGreaterThanOrEqual(2);
      expect(checks.filter((c) => c.kind === 'web').length).toBeGreaterThanOrEqual(2);
      expect(AcceptanceChecksSchema.parse(checks)).toEqual(checks);
      expect(new Set(checks.map((c) => c.title)).size).toBe(checks.length);
      for (const type of ARTIFACT_TYPES) {
        const applicable = recipeChecksFor(id, type);
        expect(enoughChecks(applicable, type), `${id} ${type}`).toBe(true);
        expect(
          applicable.every((c) =>
            type === 'web' ? c.kind === 'web' : type === 'binary' ? c.kind === 'cli' : true,
          ),
        ).toBe(true);
      }
    },
  );

  it.each(RECIPE_IDS.map((id) => [id]))('%s: web checks name only what its page shows', (id) => {
    const words = pageWords(id);
    for (const check of recipeChecks(id)) {
      if (check.kind !== 'web') continue;
      for (const step of check.steps) {
        const names = [
          'label' in step ? step.label : undefined,
          'name' in step && step.action === 'click' ? step.name : undefined,
          step.action === 'select' ? step.option : undefined,
        ].filter((n): n is string => Boolean(n));
        // A name the page builds (an option from data, an item the check adds) is allowed when
        // an earlier step typed it or the script holds its parts.
        const typed = check.steps.flatMap((s) => (s.action === 'fill' ? [s.value] : []));
        for (const n of names) {
          const l = n.toLowerCase();
          const known =
            words.includes(l) || typed.includes(n) || l.split(/[ ()]+/).every((w) => words.includes(w));
          expect(known, `${id}/${check.id}: "${n}" is not on the page`).toBe(true);
        }
      }
    }
  });

  it('returns copies: a caller cannot change the catalog', () => {
    const first = recipeChecks('tip-calculator');
    first.pop();
    expect(recipeChecks('tip-calculator').length).toBe(first.length + 1);
  });
});
