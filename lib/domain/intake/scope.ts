import type { ArtifactType, BuildSpec } from '../build-spec.ts';
import { formatAmount } from '../pricing.ts';
import type { Quote } from '../quote.ts';
import type { Refusal } from './detect.ts';
import { platformNames } from './platforms.ts';

/** Shared wording and limits of every intake engine (offline and model-backed). */
export const MAX_QUESTIONS = 2;
export const MAX_REQUEST_TEXT = 4000;

export const ARTIFACT_TYPE_QUESTION =
  'Should this be a web app you open in your browser, a program you download and run, or both?';

export const REFUSALS: Record<Refusal, string> = {
  harmful:
    'I can’t help build that. I can build small, useful tools such as calculators, converters and checklists.',
  source:
    'This service delivers a verified, working tool rather than its source code or internal details, so I can’t share those. Tell me what the tool should do and I’ll scope it.',
  too_large:
    'That is larger than what I can build and verify here. I build small single-purpose tools, such as calculators, converters, timers and checklists.',
};

/** A refusal; once quoted, it says the current quote still stands. */
export function refusalReply(refusal: Refusal, quoted: boolean): string {
  return quoted ? `${REFUSALS[refusal]} Your current quote is unchanged.` : REFUSALS[refusal];
}

export const TYPE_LABEL: Record<ArtifactType, string> = {
  web: 'a web app you open in your browser',
  binary: 'a downloadable program',
  both: 'a web app and a downloadable program',
};

export const OUT_OF_SCOPE = [
  'User accounts, servers or databases',
  'Connections to other services or the internet',
  'Source code: you receive the working, verified tool only',
];

/** The visitor's messages so far, newest last, capped (oldest text dropped first). */
export function joinRequest(previous: string, text: string): string {
  const joined = previous ? `${previous}\n${text}` : text;
  return joined.length > MAX_REQUEST_TEXT ? joined.slice(joined.length - MAX_REQUEST_TEXT) : joined;
}

/**
 * The scope summary shown with a quote, built from the validated spec only, never model text:
 * one line per item (the portal shows newlines as they are), the features and exclusions in their
 * own words and capitalisation, platforms by their friendly names, the acceptance checks by their
 * titles. The price line is added by the
 * use case that prices the spec (`priceLine`).
 */
export function scopeReply(spec: BuildSpec, opening = 'Here is the scope'): string {
  const lines = [`${opening}: ${spec.title}, ${TYPE_LABEL[spec.artifactType]}.`];
  if (spec.artifactType !== 'web' && spec.platforms.length)
    lines.push(`For: ${platformNames(spec.platforms).join(', ')}`);
  if (spec.features.length) lines.push('It will:', ...spec.features.map(bullet));
  if (spec.outOfScope.length) lines.push('Not included:', ...spec.outOfScope.map(bullet));
  if (spec.checks?.length) lines.push('How we will check it:', ...spec.checks.map((c) => bullet(c.title)));
  return lines.join('\n');
}

const bullet = (s: string) => `- ${s}`;

/** The quote's price as the scope reply states it. */
export function priceLine(quote: Pick<Quote, 'amountCents' | 'currency'>): string {
  return `Price: ${formatAmount(quote.amountCents, quote.currency)}. You pay only for a verified, working tool.`;
}

/**
 * The service's own exclusions followed by the model's, without repeats: a model item is dropped
 * when its significant words are all in one service item ("User accounts" is in "User accounts,
 * servers or databases") or when it repeats an earlier one.
 */
export function mergeExclusions(extra: readonly string[], max = 12): string[] {
  const out = [...OUT_OF_SCOPE];
  const seen = OUT_OF_SCOPE.map(significantWords);
  for (const item of extra) {
    const words = significantWords(item);
    if (words.size === 0) continue;
    const covered = seen.some((s) => [...words].every((w) => s.has(w)));
    if (covered) continue;
    out.push(item);
    seen.push(words);
  }
  return out.slice(0, max);
}

const STOP = new Set(['the', 'and', 'any', 'for', 'not', 'with', 'other', 'that', 'your', 'from', 'into']);
function significantWords(text: string): Set<string> {
  return new Set(
    text
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter((w) => w.length > 2 && !STOP.has(w))
      .map((w) => (w.length > 4 && w.endsWith('s') ? w.slice(0, -1) : w)),
  );
}

export const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
