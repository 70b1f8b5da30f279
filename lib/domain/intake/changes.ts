import { type ArtifactType, type BuildSpec, DEFAULT_PLATFORMS } from '../build-spec.ts';
import {
  detectArtifactType,
  detectExtras,
  detectName,
  detectPlatforms,
  detectRemovedPlatforms,
} from './detect.ts';
import type { CatalogMatch } from './engine.ts';

/** What a change request in `quoted` asked for, read deterministically from the visitor's words. */
export interface ScopeChange {
  artifactType?: ArtifactType;
  platforms?: string[];
  title?: string;
  recipe?: CatalogMatch;
  extras: string[];
}

const ONLY = /\b(only|just|instead|rather than|no longer|exclusively)\b/;
const ALSO = /\b(also|too|as well|add|plus|both|additionally|in addition|and a)\b/;
const NO_WEB =
  /\b(no|not|without|drop|remove|skip|don'?t need|do not need)\b(\s+(the|a|any))?\s+(web|browser|website|online)/;
const NO_BINARY =
  /\b(no|not|without|drop|remove|skip|don'?t need|do not need)\b(\s+(the|a|any))?\s+(binary|binaries|program|download|downloadable|desktop|cli|executable)/;

const sortPlatforms = (list: Iterable<string>) => [...new Set(list)].sort();

/** Reads a change request; undefined when it names nothing the intake can change. */
export function readChange(
  text: string,
  current: BuildSpec,
  match: CatalogMatch | undefined,
): ScopeChange | undefined {
  const lower = text.toLowerCase();
  const change: ScopeChange = { extras: detectExtras(text) };

  // Artifact type.
  const named = detectArtifactType(lower.replace(NO_WEB, ' ').replace(NO_BINARY, ' '));
  let type: ArtifactType = current.artifactType;
  if (NO_WEB.test(lower)) type = type === 'web' ? 'web' : 'binary';
  if (NO_BINARY.test(lower)) type = type === 'binary' ? 'binary' : 'web';
  if (named) {
    if (named === 'both') type = 'both';
    else if (ONLY.test(lower)) type = named;
    else if (ALSO.test(lower) && named !== type) type = 'both';
    else type = named;
  }

  // Platforms.
  const removed = detectRemovedPlatforms(lower);
  const added = detectPlatforms(lower).filter((p) => !removed.includes(p));
  let platforms = current.platforms.length ? [...current.platforms] : [...DEFAULT_PLATFORMS];
  const wereDefault = sortPlatforms(platforms).join() === sortPlatforms(DEFAULT_PLATFORMS).join();
  if (added.length) {
    if (ONLY.test(lower) || (wereDefault && !ALSO.test(lower)) || current.artifactType === 'web')
      platforms = added;
    else platforms = [...platforms, ...added];
    // A platform only makes sense for a program: "also for Windows" on a web app adds a program.
    if (type === 'web' && named !== 'web') type = ONLY.test(lower) ? 'binary' : 'both';
  }
  platforms = platforms.filter((p) => !removed.includes(p));
  if (type === 'web') platforms = [];
  else if (!platforms.length) platforms = [...DEFAULT_PLATFORMS];

  if (type !== current.artifactType) change.artifactType = type;
  const before = sortPlatforms(current.artifactType === 'web' ? [] : current.platforms).join();
  if (sortPlatforms(platforms).join() !== before) change.platforms = sortPlatforms(platforms);

  const title = detectName(text);
  if (title && title !== current.title) change.title = title;
  const switching = /\b(instead|actually|rather|change it to|make it an?|switch to|different)\b/.test(lower);
  if (match && match.id !== current.recipe && (switching || change.extras.length === 0))
    change.recipe = match;

  const changed =
    change.artifactType !== undefined ||
    change.platforms !== undefined ||
    change.title !== undefined ||
    change.recipe !== undefined ||
    change.extras.length > 0;
  return changed ? change : undefined;
}
