import { lstat, mkdir, readdir, readFile, realpath, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildSpec, BuildSpecSchema } from '../../../lib/domain/build-spec.ts';
import { getRecipe, matchRecipe, type Recipe } from '../../../lib/domain/recipes.ts';
import type { Coder, CoderInput, CoderResult } from './coder.ts';

/** The recipe overlays shipped with the worker: `worker-image/recipes/<id>/files/...`. */
export const DEFAULT_RECIPES_DIR = fileURLToPath(new URL('../../recipes/', import.meta.url));

/** Top-level worktree folders an overlay may write to; everything else is the template's frame. */
const OVERLAY_ROOTS = new Set(['tool', 'web']);
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const BINARY_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const PLATFORM = /^(linux|darwin|windows)-(amd64|arm64)$/;
const MAX_NAME = 40;
const MAX_TITLE = 80;
const MAX_DESCRIPTION = 300;

export const NO_MATCH_REASON =
  'This request is not one of the tools the builder can make automatically yet. ' +
  'Try describing a small calculator, converter, generator, counter, timer or checklist.';
const FAILED_REASON = 'The tool could not be prepared from its recipe.';

class CoderError extends Error {}

export interface OfflineRecipeCoderOptions {
  /** Directory holding `<recipe id>/files/`; defaults to the worker image's `recipes/`. */
  recipesDir?: string;
}

/**
 * The local default coder: picks a recipe from the catalog, copies its overlay (tool logic, tests,
 * web app) onto the worktree and personalises `app.json`. Visitor text only ever reaches
 * `app.json` as JSON string values (slugged for the binary name, plain text for the title); the
 * template's build renders it HTML-escaped. Never writes outside the worktree.
 */
export class OfflineRecipeCoder implements Coder {
  readonly name = 'offline-recipe';
  private readonly recipesDir: string;

  constructor(options: OfflineRecipeCoderOptions = {}) {
    this.recipesDir = path.resolve(options.recipesDir ?? DEFAULT_RECIPES_DIR);
  }

  async code(input: CoderInput): Promise<CoderResult> {
    const parsed = BuildSpecSchema.safeParse(input.spec);
    if (!parsed.success) {
      input.log('offline-recipe: the build spec is invalid');
      return { ok: false, code: 'coder_failed', reason: FAILED_REASON };
    }
    const spec = parsed.data;
    const recipe = resolveRecipe(spec);
    if (!recipe) {
      input.log('offline-recipe: no recipe matches the request');
      return { ok: false, code: 'no_matching_recipe', reason: NO_MATCH_REASON };
    }
    if (!recipe.artifactTypes.includes(spec.artifactType)) {
      input.log(`offline-recipe: recipe ${recipe.id} does not support artifact type ${spec.artifactType}`);
      return { ok: false, code: 'coder_failed', reason: FAILED_REASON };
    }
    if (input.attempt > 1) {
      input.log(
        `offline-recipe: attempt ${input.attempt}, re-applying recipe ${recipe.id}` +
          (input.previousFailure ? ` (previous failure: ${input.previousFailure.slice(0, 500)})` : ''),
      );
    }
    try {
      const worktree = await openWorktree(input.worktree);
      const files = await applyOverlay(path.join(this.recipesDir, recipe.id, 'files'), worktree);
      const meta = await personalise(worktree, spec, recipe);
      input.log(
        `offline-recipe: applied ${recipe.id} (${files} files), name=${meta.name}, artifact_type=${spec.artifactType}`,
      );
      return {
        ok: true,
        summary: `Prepared the ${recipe.title.toLowerCase()}: ${describe(spec.artifactType)}.`,
      };
    } catch (err) {
      input.log(`offline-recipe: ${err instanceof Error ? err.message : String(err)}`);
      return { ok: false, code: 'coder_failed', reason: FAILED_REASON };
    }
  }
}

function describe(type: BuildSpec['artifactType']): string {
  if (type === 'web') return 'a web app';
  if (type === 'binary') return 'downloadable binaries';
  return 'a web app and downloadable binaries';
}

/** spec.recipe when it names a catalog recipe, otherwise the best match for the request text. */
export function resolveRecipe(spec: Pick<BuildSpec, 'recipe' | 'requestText'>): Recipe | undefined {
  if (spec.recipe) {
    const named = getRecipe(spec.recipe);
    if (named) return named;
  }
  const match = matchRecipe(spec.requestText);
  return match ? getRecipe(match.id) : undefined;
}

/** Plain single-line text: no control characters, collapsed spaces, at most `max` code points. */
export function plainText(value: string, max: number): string {
  const clean = value
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return [...clean].slice(0, max).join('').trim();
}

/** A safe binary name `[a-z0-9-]` (≤ 40) from a title; the fallback when nothing is left. */
export function toBinaryName(title: string, fallback: string): string {
  const slug = title
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  let name = slug.slice(0, MAX_NAME);
  if (slug.length > MAX_NAME && name.includes('-')) name = name.slice(0, name.lastIndexOf('-'));
  name = name.replace(/-+$/g, '');
  return BINARY_NAME.test(name) ? name : fallback;
}

async function openWorktree(dir: string): Promise<string> {
  if (!path.isAbsolute(dir)) throw new CoderError('worktree path must be absolute');
  const real = await realpath(dir);
  if (!(await lstat(real)).isDirectory()) throw new CoderError('worktree is not a directory');
  for (const required of ['go.mod', 'app.json']) {
    const info = await lstat(path.join(real, required)).catch(() => undefined);
    if (!info?.isFile()) throw new CoderError(`worktree has no ${required}; is it the template repository?`);
  }
  return real;
}

/** Every regular file of an overlay, as validated relative segments. */
async function listOverlay(dir: string, prefix: string[] = []): Promise<string[][]> {
  const out: string[][] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (!SEGMENT.test(entry.name)) throw new CoderError(`overlay entry ${entry.name} has an unsafe name`);
    const rel = [...prefix, entry.name];
    if (rel.length === 1 && !OVERLAY_ROOTS.has(entry.name)) {
      throw new CoderError(`overlay may only contain ${[...OVERLAY_ROOTS].join(', ')}`);
    }
    if (entry.isDirectory()) out.push(...(await listOverlay(path.join(dir, entry.name), rel)));
    else if (entry.isFile() && rel.length > 1) out.push(rel);
    else throw new CoderError(`overlay entry ${rel.join('/')} is not a regular file`);
  }
  return out;
}

/** Resolve a destination inside the worktree, refusing symlinked or escaping parents. */
async function safeTarget(worktree: string, segments: readonly string[]): Promise<string> {
  let current = worktree;
  for (const segment of segments.slice(0, -1)) {
    current = path.join(current, segment);
    const info = await lstat(current).catch(() => undefined);
    if (!info) await mkdir(current);
    else if (info.isSymbolicLink() || !info.isDirectory()) {
      throw new CoderError(`${path.relative(worktree, current)} is not a plain directory`);
    }
  }
  const target = path.join(current, segments[segments.length - 1]!);
  const rel = path.relative(worktree, target);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new CoderError('overlay path escapes the worktree');
  const info = await lstat(target).catch(() => undefined);
  if (info?.isSymbolicLink()) await unlink(target);
  else if (info && !info.isFile()) throw new CoderError(`${rel} exists and is not a file`);
  return target;
}

/** Replace the tool package with the recipe's and overwrite the web files it provides. */
async function applyOverlay(overlayDir: string, worktree: string): Promise<number> {
  const files = await listOverlay(overlayDir);
  if (
    !files.some((f) => f.join('/') === 'tool/tool.go') ||
    !files.some((f) => f.join('/') === 'web/index.html')
  ) {
    throw new CoderError('overlay must provide tool/tool.go and web/index.html');
  }
  // The tool package is replaced as a whole so no file of the previous tool is left behind.
  // fs.rm does not follow a symlink named `tool`; it removes the link itself.
  await rm(path.join(worktree, 'tool'), { recursive: true, force: true });
  for (const segments of files) {
    const target = await safeTarget(worktree, segments);
    await writeFile(target, await readFile(path.join(overlayDir, ...segments)));
  }
  return files.length;
}

interface AppMeta {
  name: string;
  title: string;
  description: string;
  [key: string]: unknown;
}

/** Write the visitor's title, the binary name and the build config into app.json. */
async function personalise(worktree: string, spec: BuildSpec, recipe: Recipe): Promise<AppMeta> {
  const file = await safeTarget(worktree, ['app.json']);
  let current: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      current = parsed as Record<string, unknown>;
  } catch {
    throw new CoderError('app.json is not valid JSON');
  }
  const title = plainText(spec.title, MAX_TITLE) || recipe.title;
  const description = plainText(spec.summary, MAX_DESCRIPTION) || recipe.description;
  const meta: AppMeta = {
    ...current,
    name: toBinaryName(title, recipe.id),
    title,
    description,
    version: typeof current.version === 'string' ? current.version : '0.1.0',
    artifact_type: spec.artifactType,
    recipe: recipe.id,
  };
  const platforms = spec.platforms.filter((p) => PLATFORM.test(p));
  if (platforms.length > 0) meta.platforms = [...new Set(platforms)];
  else delete meta.platforms;
  await writeFile(file, `${JSON.stringify(meta, null, 2)}\n`);
  return meta;
}
