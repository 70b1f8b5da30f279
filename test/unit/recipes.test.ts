import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ARTIFACT_TYPES } from '../../lib/domain/build-spec.ts';
import {
  getRecipe,
  isBlockedRequest,
  MIN_MATCH_SCORE,
  matchRecipe,
  RECIPE_IDS,
  RECIPES,
  tokenize,
} from '../../lib/domain/recipes.ts';

const RECIPES_DIR = fileURLToPath(new URL('../../worker-image/recipes/', import.meta.url));

/** At least two varied, realistic phrasings per recipe. */
const PHRASINGS: Record<string, string[]> = {
  'tip-calculator': [
    'I need a tip calculator for when we eat out',
    'Something to split the bill between friends at a restaurant, including gratuity',
    'How much should I tip? Make me a little app that works it out and divides it per person',
    'A bill splitter for our dinner group',
  ],
  'unit-converter': [
    'A unit converter for cooking and travel',
    'Convert km to miles and Celsius to Fahrenheit',
    'I keep googling how many pounds are in a kg, build me something for metric/imperial conversions',
    'tool to convert lengths like feet to meters',
  ],
  'loan-calculator': [
    'Mortgage calculator please',
    'I want to see the monthly payment for a car loan with a given interest rate',
    'Show me the loan repayment schedule (amortization) for 30 years',
  ],
  'password-generator': [
    'Generate strong random passwords',
    'A passphrase / password maker with options for symbols and length',
    'I need a tool that creates secure passwords for my team',
  ],
  'word-counter': [
    'A word counter for my essays',
    'Count the words and characters in a text I paste',
    'How many words is my article and how long does it take to read? Reading time estimate please',
    'character counter for tweets',
  ],
  'json-formatter': [
    'JSON formatter and validator',
    'pretty print json from our API so I can read it',
    'Something to check if a JSON file is valid and show where the error is',
  ],
  'countdown-timer': [
    'A countdown timer for my presentations',
    'Pomodoro timer that beeps after 25 minutes',
    'Simple kitchen timer I can start and pause',
    'count down to zero from ten minutes and alert me',
  ],
  checklist: [
    'A simple todo list',
    'Packing checklist I can tick off before trips',
    'Shopping list app that remembers my items',
    'A to-do list for chores',
  ],
  'bmi-calculator': [
    'BMI calculator',
    'Calculate my body mass index from weight and height',
    'Tell me whether I am overweight for my height',
  ],
  'base64-tool': [
    'base64 encoder',
    'Encode and decode Base-64 strings',
    'I need to decode some b64 text from an email header',
  ],
  'team-picker': [
    'Random team picker for our five-a-side football',
    'Split the class into random groups of 4',
    'Draw a random winner for our raffle from a list of names',
    'pick teams fairly for game night',
  ],
};

const NON_MATCHING = [
  'Build me a social network',
  'A CRM with user accounts',
  'An online store with a shopping cart and payment processing',
  'Make a 3D multiplayer game engine',
  'A website for my bakery',
  'Hello, can you help me?',
  'A to-do list with login and sync across devices',
  'Write me an operating system',
  'Password manager that stores everything in the cloud',
];

describe('recipe catalog', () => {
  it('has at least 8 recipes with unique ids, metadata and overlay files', () => {
    expect(RECIPES.length).toBeGreaterThanOrEqual(8);
    expect(new Set(RECIPE_IDS).size).toBe(RECIPES.length);
    for (const r of RECIPES) {
      expect(r.id).toMatch(/^[a-z0-9-]{1,40}$/);
      expect(r.title.length).toBeGreaterThan(0);
      expect(r.description.length).toBeGreaterThan(10);
      expect(r.keywords.length).toBeGreaterThan(0);
      expect(r.features.length).toBeGreaterThan(0);
      expect(r.artifactTypes.length).toBeGreaterThan(0);
      for (const t of r.artifactTypes) expect(ARTIFACT_TYPES).toContain(t);
      expect(r.artifactTypes).toContain(r.defaultArtifactType);
      for (const f of ['tool/tool.go', 'tool/tool_test.go', 'web/index.html', 'web/app.js']) {
        expect(existsSync(`${RECIPES_DIR}${r.id}/files/${f}`), `${r.id}: ${f}`).toBe(true);
      }
      expect(getRecipe(r.id)).toBe(r);
    }
  });

  it('has an overlay directory only for catalog recipes', () => {
    const dirs = readdirSync(RECIPES_DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect(dirs).toEqual([...RECIPE_IDS].sort());
  });

  it('covers web, binary and both', () => {
    for (const t of ARTIFACT_TYPES) expect(RECIPES.some((r) => r.artifactTypes.includes(t))).toBe(true);
  });

  it('has a test phrasing list for every recipe', () => {
    expect(Object.keys(PHRASINGS).sort()).toEqual([...RECIPE_IDS].sort());
  });
});

describe('matchRecipe', () => {
  for (const [id, phrases] of Object.entries(PHRASINGS)) {
    it(`matches ${id} from varied phrasings`, () => {
      expect(phrases.length).toBeGreaterThanOrEqual(2);
      for (const phrase of phrases) {
        const match = matchRecipe(phrase);
        expect(match?.id, phrase).toBe(id);
        expect(match!.title).toBe(getRecipe(id)!.title);
        expect(match!.score).toBeGreaterThanOrEqual(MIN_MATCH_SCORE);
      }
    });
  }

  it('returns undefined for requests no recipe can build', () => {
    for (const text of NON_MATCHING) expect(matchRecipe(text), text).toBeUndefined();
  });

  it('refuses requests needing accounts, servers or stores even when a keyword matches', () => {
    expect(isBlockedRequest('A todo list with user accounts')).toBe(true);
    expect(matchRecipe('A todo list with user accounts')).toBeUndefined();
    expect(isBlockedRequest('A loan calculator showing monthly payments')).toBe(false);
  });

  it('normalises case, accents, punctuation and plurals', () => {
    expect(tokenize('Convert KILOMETRES→miles, café-style!')).toEqual([
      'convert',
      'kilometre',
      'mile',
      'cafe',
      'style',
    ]);
    expect(matchRecipe('TIPS!!!')?.id).toBe('tip-calculator');
  });

  it('is not fooled by an empty or very long request', () => {
    expect(matchRecipe('')).toBeUndefined();
    expect(matchRecipe('   ')).toBeUndefined();
    expect(matchRecipe(`${'blah '.repeat(2000)}tip calculator`)?.id).toBe('tip-calculator');
  });
});
