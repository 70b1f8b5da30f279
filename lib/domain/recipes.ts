import type { ArtifactType } from './build-spec.ts';

/**
 * The offline recipe catalog: small tools the builder can make without a model. This file is the
 * single source of truth for recipe metadata; `worker-image/recipes/<id>/files/` holds only the
 * overlay files (tool logic, tests and web app) that the offline recipe coder copies onto the
 * template repository. Pure: no fs, no AWS.
 */
export interface Recipe {
  /** Stable id; also the overlay directory name. `[a-z0-9-]`. */
  readonly id: string;
  readonly title: string;
  /** One customer-facing sentence. */
  readonly description: string;
  /**
   * Strong signals in a request. A single word scores 2; a phrase ("split the bill") or an
   * all-of combination ("count+word": every part somewhere in the text) scores 3.
   */
  readonly keywords: readonly string[];
  /** Weak signals: 1 point each; enough of them together also select the recipe. */
  readonly hints: readonly string[];
  readonly artifactTypes: readonly ArtifactType[];
  /** The artifact type the intake proposes when the visitor does not say. */
  readonly defaultArtifactType: ArtifactType;
  /** Default feature list for the scope summary. */
  readonly features: readonly string[];
}

const ALL_TYPES: readonly ArtifactType[] = ['web', 'binary', 'both'];

export const RECIPES: readonly Recipe[] = [
  {
    id: 'tip-calculator',
    title: 'Tip calculator',
    description: 'Works out the tip and the total for a bill and splits it between people.',
    keywords: [
      'tip',
      'gratuity',
      'split the bill',
      'split+bill',
      'bill splitter',
      'service charge',
      'how much to tip',
      'restaurant+bill',
    ],
    hints: ['restaurant', 'waiter', 'bill', 'dinner', 'check', 'per person'],
    artifactTypes: ALL_TYPES,
    defaultArtifactType: 'both',
    features: [
      'Enter the bill amount and choose a tip percentage',
      'Split the total between any number of people',
      'Optionally round each share up to a whole amount',
    ],
  },
  {
    id: 'unit-converter',
    title: 'Unit converter',
    description: 'Converts length, weight, temperature, volume and speed between metric and imperial units.',
    keywords: [
      'unit converter',
      'convert unit',
      'unit conversion',
      'converting unit',
      'km to mile',
      'mile to km',
      'kilometer',
      'kilometre',
      'celsius',
      'fahrenheit',
      'kelvin',
      'metric+imperial',
      'convert+temperature',
      'convert+length',
      'convert+weight',
      'convert+distance',
      'pound to kg',
      'kg to pound',
      'lb to kg',
      'kg to lb',
      'inch to cm',
      'cm to inch',
      'foot to meter',
      'feet to meter',
      'gallon',
      'litre',
      'liter',
    ],
    hints: ['convert', 'conversion', 'converter', 'metric', 'imperial', 'mile', 'km', 'measurement', 'unit'],
    artifactTypes: ALL_TYPES,
    defaultArtifactType: 'both',
    features: [
      'Convert length, weight, temperature, volume and speed',
      'Metric and imperial units with common abbreviations',
      'Results rounded to six significant digits',
    ],
  },
  {
    id: 'loan-calculator',
    title: 'Loan calculator',
    description:
      'Calculates the monthly payment, total interest and repayment schedule of a loan or mortgage.',
    keywords: [
      'loan',
      'mortgage',
      'monthly payment',
      'loan repayment',
      'amortization',
      'amortisation',
      'interest rate',
      'repayment',
      'emi',
    ],
    hints: ['interest', 'principal', 'borrow', 'installment', 'instalment', 'apr', 'finance', 'house'],
    artifactTypes: ALL_TYPES,
    defaultArtifactType: 'both',
    features: [
      'Monthly payment from amount, annual interest rate and term',
      'Total paid and total interest',
      'Year-by-year repayment schedule',
    ],
  },
  {
    id: 'password-generator',
    title: 'Password generator',
    description: 'Creates strong random passwords with the length and character types you choose.',
    keywords: [
      'password',
      'passphrase',
      'passcode',
      'random password',
      'generate+password',
      'strong password',
      'secure password',
    ],
    hints: ['random', 'secure', 'credential', 'symbol'],
    artifactTypes: ALL_TYPES,
    defaultArtifactType: 'both',
    features: [
      'Choose the length and the character types',
      'Uses the system’s secure random number generator',
      'Generate several passwords at once and copy them',
    ],
  },
  {
    id: 'word-counter',
    title: 'Word counter',
    description:
      'Counts words, characters, sentences and paragraphs and estimates the reading time of a text.',
    keywords: [
      'word count',
      'word counter',
      'count+word',
      'character count',
      'character counter',
      'count+character',
      'letter count',
      'count+letter',
      'reading time',
      'text statistic',
      'how many words',
      'essay+length',
    ],
    hints: ['word', 'character', 'essay', 'text', 'sentence', 'paragraph', 'count', 'counter', 'writing'],
    artifactTypes: ALL_TYPES,
    defaultArtifactType: 'both',
    features: [
      'Counts words, characters (with and without spaces), sentences and paragraphs',
      'Estimates the reading time',
      'Updates as you type or reads text from a file or pipe',
    ],
  },
  {
    id: 'json-formatter',
    title: 'JSON formatter',
    description: 'Validates JSON, shows where an error is, and pretty-prints or minifies it.',
    keywords: ['json', 'pretty print', 'prettify', 'beautify+json', 'json validator', 'json formatter'],
    hints: ['format', 'formatter', 'validate', 'validator', 'minify', 'indent', 'beautify', 'lint'],
    artifactTypes: ALL_TYPES,
    defaultArtifactType: 'both',
    features: [
      'Checks whether the input is valid JSON and points to the error line and column',
      'Pretty-prints with a chosen indentation or minifies',
      'Optionally sorts object keys',
    ],
  },
  {
    id: 'countdown-timer',
    title: 'Countdown timer',
    description: 'Counts down a chosen time and tells you when it is up.',
    keywords: [
      'countdown',
      'count down',
      'timer',
      'pomodoro',
      'egg timer',
      'kitchen timer',
      'alarm+minute',
      'remind+minute',
    ],
    hints: ['minute', 'second', 'alarm', 'beep', 'stopwatch', 'time', 'deadline'],
    artifactTypes: ALL_TYPES,
    defaultArtifactType: 'both',
    features: [
      'Set the time as minutes and seconds, or pick a preset',
      'Start, pause and reset',
      'A sound and a message when the time is up',
    ],
  },
  {
    id: 'checklist',
    title: 'Checklist',
    description: 'A simple checklist that remembers your items: add, tick off and remove tasks.',
    keywords: [
      'checklist',
      'check list',
      'todo',
      'to do list',
      'todo list',
      'task list',
      'shopping list',
      'packing list',
      'grocery list',
      'tick off',
      'check off',
    ],
    hints: ['list', 'task', 'item', 'remember', 'chore', 'errand'],
    artifactTypes: ALL_TYPES,
    defaultArtifactType: 'web',
    features: [
      'Add, tick off and remove items',
      'Remembers the list on this device (browser storage or a local file)',
      'Shows how many items are done and clears finished ones',
    ],
  },
  {
    id: 'bmi-calculator',
    title: 'BMI calculator',
    description: 'Calculates the body mass index from height and weight, in metric or imperial units.',
    keywords: ['bmi', 'body mass index', 'body mass', 'healthy weight', 'overweight', 'underweight'],
    hints: ['weight', 'height', 'obese', 'health', 'fitness', 'kg', 'cm'],
    artifactTypes: ALL_TYPES,
    defaultArtifactType: 'both',
    features: [
      'Metric (kg, cm) or imperial (lb, in) input',
      'BMI with its standard weight category',
      'The healthy weight range for the given height',
    ],
  },
  {
    id: 'base64-tool',
    title: 'Base64 encoder and decoder',
    description: 'Encodes text to Base64 and decodes Base64 back to text, including the URL-safe variant.',
    keywords: ['base64', 'base 64', 'b64', 'encode+decode'],
    hints: ['encode', 'decode', 'encoding', 'decoding', 'encoder', 'decoder'],
    artifactTypes: ALL_TYPES,
    defaultArtifactType: 'both',
    features: [
      'Encode text to Base64 and decode it back',
      'Standard and URL-safe alphabets',
      'Clear message for invalid input',
    ],
  },
  {
    id: 'team-picker',
    title: 'Random team picker',
    description: 'Shuffles a list of names into fair random teams, or draws a random winner.',
    keywords: [
      'team picker',
      'random team',
      'team generator',
      'split+team',
      'pick+team',
      'divide+team',
      'divide+group',
      'random group',
      'name picker',
      'random name',
      'pick+winner',
      'draw+winner',
      'raffle',
      'draw+name',
      'who goes first',
    ],
    hints: ['team', 'group', 'random', 'pick', 'shuffle', 'name', 'player', 'fair'],
    artifactTypes: ALL_TYPES,
    defaultArtifactType: 'both',
    features: [
      'Paste names, choose the number of teams',
      'Fair, balanced random teams',
      'Draw one or more random winners instead',
    ],
  },
];

/**
 * Requests that no recipe can satisfy even if a keyword matches: accounts, servers, stores,
 * networks. The intake refuses them early.
 */
const BLOCKERS: readonly string[] = [
  'social network',
  'social media platform',
  'user account',
  'login',
  'log in',
  'sign in',
  'sign up',
  'signup',
  'authentication',
  'crm',
  'erp',
  'marketplace',
  'e commerce',
  'ecommerce',
  'online store',
  'online shop',
  'webshop',
  'web shop',
  'shopping cart',
  'payment processing',
  'accept payment',
  'multiplayer',
  'chat app',
  'messaging app',
  'real time sync',
  'sync across device',
  'password manager',
  'operating system',
  'blockchain',
  'video streaming',
  'machine learning',
];

export interface RecipeMatch {
  id: string;
  title: string;
  score: number;
}

/** Minimum score for a match: one strong keyword, or two hints. */
export const MIN_MATCH_SCORE = 2;

export const RECIPE_IDS: readonly string[] = RECIPES.map((r) => r.id);

export function getRecipe(id: string): Recipe | undefined {
  return RECIPES.find((r) => r.id === id);
}

function stem(token: string): string {
  if (token.length > 4 && token.endsWith('ies')) return `${token.slice(0, -3)}y`;
  if (token.length > 3 && token.endsWith('s') && !token.endsWith('ss')) return token.slice(0, -1);
  return token;
}

/** Lower-case, accents removed, punctuation as spaces, light plural stemming. */
export function tokenize(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter((t) => t.length > 0)
    .map(stem);
}

function containsSequence(tokens: readonly string[], seq: readonly string[]): boolean {
  if (seq.length === 0 || seq.length > tokens.length) return false;
  outer: for (let i = 0; i + seq.length <= tokens.length; i++) {
    for (let j = 0; j < seq.length; j++) {
      if (tokens[i + j] !== seq[j]) continue outer;
    }
    return true;
  }
  return false;
}

/** Whether a keyword ("word", "split the bill", "count+word") occurs in the tokens. */
function keywordMatches(tokens: readonly string[], keyword: string): boolean {
  return keyword.split('+').every((part) => containsSequence(tokens, tokenize(part)));
}

function keywordWeight(keyword: string): number {
  return keyword.includes('+') || tokenize(keyword).length > 1 ? 3 : 2;
}

/** Whether the request asks for something outside what any recipe can build. */
export function isBlockedRequest(text: string): boolean {
  const tokens = tokenize(text);
  return BLOCKERS.some((b) => keywordMatches(tokens, b));
}

/** Score of one recipe for a request (0 when nothing matches). */
export function scoreRecipe(recipe: Recipe, text: string): number {
  const tokens = tokenize(text);
  let score = 0;
  for (const k of recipe.keywords) if (keywordMatches(tokens, k)) score += keywordWeight(k);
  for (const h of recipe.hints) if (keywordMatches(tokens, h)) score += 1;
  return score;
}

/**
 * Picks the recipe that best fits a visitor's request, or undefined when none fits (or the request
 * needs accounts, servers or other things no recipe can build). Ties go to the earlier recipe.
 */
export function matchRecipe(text: string): RecipeMatch | undefined {
  if (isBlockedRequest(text)) return undefined;
  let best: RecipeMatch | undefined;
  for (const recipe of RECIPES) {
    const score = scoreRecipe(recipe, text);
    if (score >= MIN_MATCH_SCORE && (!best || score > best.score)) {
      best = { id: recipe.id, title: recipe.title, score };
    }
  }
  return best;
}
