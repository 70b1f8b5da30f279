import type { ArtifactType, BuildSpec } from '../build-spec.ts';
import type { Refusal } from './detect.ts';

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

/** The scope summary shown with a quote: built from the validated spec only, never model text. */
export function scopeReply(spec: BuildSpec, opening = 'Here is the scope'): string {
  const platformText = spec.platforms.length ? ` for ${spec.platforms.join(', ')}` : '';
  const features = spec.features.length ? ` It will: ${spec.features.map(lowerFirst).join('; ')}.` : '';
  return (
    `${opening}: ${spec.title}, ${TYPE_LABEL[spec.artifactType]}${platformText}.${features} ` +
    `Not included: ${spec.outOfScope.map(lowerFirst).join('; ')}. ` +
    'The price is shown with the scope. You pay only for a verified, working tool.'
  );
}

export const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
export const lowerFirst = (s: string) => (/^[A-Z]{2}/.test(s) ? s : s.charAt(0).toLowerCase() + s.slice(1));
