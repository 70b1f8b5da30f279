import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuildSpec } from '../../lib/domain/build-spec.ts';
import type { CoderInput } from '../../worker-image/src/coder/coder.ts';
import {
  NO_MATCH_REASON,
  OfflineRecipeCoder,
  plainText,
  resolveRecipe,
  toBinaryName,
} from '../../worker-image/src/coder/offline-recipe-coder.ts';

const TEMPLATE = fileURLToPath(new URL('../../template-repo/', import.meta.url));

function spec(overrides: Partial<BuildSpec> = {}): BuildSpec {
  return {
    title: 'Dinner tip calculator',
    summary: 'Works out the tip and splits the bill.',
    requestText: 'I need a tip calculator to split the bill with friends',
    artifactType: 'both',
    platforms: [],
    features: ['Split between people'],
    outOfScope: [],
    complexity: 'small',
    ...overrides,
  };
}

let root: string;
let worktree: string;
let logs: string[];

function input(s: BuildSpec, extra: Partial<CoderInput> = {}): CoderInput {
  return { worktree, spec: s, attempt: 1, log: (l) => logs.push(l), ...extra };
}

const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(file, 'utf8'));

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'coder-test-'));
  worktree = path.join(root, 'worktree');
  cpSync(TEMPLATE, worktree, { recursive: true, filter: (src) => !src.includes(`${path.sep}dist`) });
  logs = [];
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('OfflineRecipeCoder', () => {
  it('applies the matched recipe and personalises app.json', async () => {
    const result = await new OfflineRecipeCoder().code(
      input(spec({ platforms: ['linux-amd64', 'darwin-arm64'] })),
    );
    expect(result).toEqual({
      ok: true,
      summary: 'Prepared the tip calculator: a web app and downloadable binaries.',
    });
    expect(readFileSync(path.join(worktree, 'tool/tool.go'), 'utf8')).toContain('tip calculator');
    expect(readFileSync(path.join(worktree, 'web/app.js'), 'utf8')).toContain('Tip calculator');
    expect(existsSync(path.join(worktree, 'web/style.css'))).toBe(true); // template file kept
    expect(readJson(path.join(worktree, 'app.json'))).toEqual({
      name: 'dinner-tip-calculator',
      title: 'Dinner tip calculator',
      description: 'Works out the tip and splits the bill.',
      version: '0.1.0',
      artifact_type: 'both',
      recipe: 'tip-calculator',
      platforms: ['linux-amd64', 'darwin-arm64'],
    });
    expect(readFileSync(path.join(worktree, 'main.go'), 'utf8')).toBe(
      readFileSync(path.join(TEMPLATE, 'main.go'), 'utf8'),
    );
  });

  it('replaces the whole tool package so nothing of the previous tool is left', async () => {
    writeFileSync(path.join(worktree, 'tool/leftover.go'), 'package tool\n');
    await new OfflineRecipeCoder().code(input(spec()));
    expect(existsSync(path.join(worktree, 'tool/leftover.go'))).toBe(false);
  });

  it('uses spec.recipe when it names a catalog recipe, and the request text otherwise', async () => {
    const named = await new OfflineRecipeCoder().code(
      input(spec({ recipe: 'word-counter', requestText: 'something vague', artifactType: 'web' })),
    );
    expect(named.ok).toBe(true);
    expect(readJson(path.join(worktree, 'app.json'))).toMatchObject({
      recipe: 'word-counter',
      artifact_type: 'web',
    });
    expect(resolveRecipe({ recipe: 'no-such-recipe', requestText: 'mortgage repayments' })?.id).toBe(
      'loan-calculator',
    );
  });

  it('fails with no_matching_recipe and a customer-safe reason, leaving the worktree alone', async () => {
    const before = readFileSync(path.join(worktree, 'app.json'), 'utf8');
    const result = await new OfflineRecipeCoder().code(
      input(spec({ title: 'Friendbook', requestText: 'Build me a social network with profiles' })),
    );
    expect(result).toEqual({ ok: false, code: 'no_matching_recipe', reason: NO_MATCH_REASON });
    expect(readFileSync(path.join(worktree, 'app.json'), 'utf8')).toBe(before);
    expect(readFileSync(path.join(worktree, 'tool/tool.go'), 'utf8')).toContain('letter case');
  });

  it('keeps hostile titles as data: safe slug for the binary, plain text for the title', async () => {
    const title = '<script>alert(1)</script> ../../etc/passwd \u202e\u0007';
    const result = await new OfflineRecipeCoder().code(input(spec({ title })));
    expect(result.ok).toBe(true);
    const meta = readJson(path.join(worktree, 'app.json'));
    expect(meta.name).toBe('script-alert-1-script-etc-passwd');
    expect(meta.title).toBe('<script>alert(1)</script> ../../etc/passwd');
    expect(existsSync(path.join(root, 'etc'))).toBe(false);
    // The page keeps its placeholder; the title is only escaped into HTML at build time.
    expect(readFileSync(path.join(worktree, 'web/index.html'), 'utf8')).toContain('{{APP_TITLE}}');
  });

  it('never writes through symlinks out of the worktree', async () => {
    const outside = path.join(root, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'index.html'), 'outside');
    rmSync(path.join(worktree, 'web'), { recursive: true });
    symlinkSync(outside, path.join(worktree, 'web'));
    const result = await new OfflineRecipeCoder().code(input(spec()));
    expect(result).toEqual({
      ok: false,
      code: 'coder_failed',
      reason: 'The tool could not be prepared from its recipe.',
    });
    expect(readFileSync(path.join(outside, 'index.html'), 'utf8')).toBe('outside');
    expect(logs.join('\n')).toContain('not a plain directory');
  });

  it('replaces a symlinked file instead of writing through it', async () => {
    const outsideFile = path.join(root, 'secret.html');
    writeFileSync(outsideFile, 'secret');
    rmSync(path.join(worktree, 'web/index.html'));
    symlinkSync(outsideFile, path.join(worktree, 'web/index.html'));
    expect((await new OfflineRecipeCoder().code(input(spec()))).ok).toBe(true);
    expect(readFileSync(outsideFile, 'utf8')).toBe('secret');
    expect(readFileSync(path.join(worktree, 'web/index.html'), 'utf8')).toContain('{{APP_TITLE}}');
  });

  it('refuses a directory that is not the template, a relative path and an invalid spec', async () => {
    const coder = new OfflineRecipeCoder();
    rmSync(path.join(worktree, 'go.mod'));
    expect((await coder.code(input(spec()))).ok).toBe(false);
    expect((await coder.code(input(spec(), { worktree: 'relative/path' }))).ok).toBe(false);
    const bad = { ...spec(), title: '' };
    expect(await coder.code(input(bad))).toMatchObject({ ok: false, code: 'coder_failed' });
  });

  it('refuses overlays that would touch the frame', async () => {
    const recipes = path.join(root, 'recipes');
    mkdirSync(path.join(recipes, 'tip-calculator/files/tool'), { recursive: true });
    mkdirSync(path.join(recipes, 'tip-calculator/files/web'), { recursive: true });
    writeFileSync(path.join(recipes, 'tip-calculator/files/tool/tool.go'), 'package tool\n');
    writeFileSync(path.join(recipes, 'tip-calculator/files/web/index.html'), '<p>x</p>');
    writeFileSync(path.join(recipes, 'tip-calculator/files/main.go'), 'package main // hijack\n');
    const result = await new OfflineRecipeCoder({ recipesDir: recipes }).code(input(spec()));
    expect(result).toMatchObject({ ok: false, code: 'coder_failed' });
    expect(readFileSync(path.join(worktree, 'main.go'), 'utf8')).not.toContain('hijack');
  });

  it('logs repair attempts and re-applies the recipe idempotently', async () => {
    const coder = new OfflineRecipeCoder();
    await coder.code(input(spec()));
    const first = readFileSync(path.join(worktree, 'app.json'), 'utf8');
    const again = await coder.code(input(spec(), { attempt: 2, previousFailure: 'go test failed' }));
    expect(again.ok).toBe(true);
    expect(readFileSync(path.join(worktree, 'app.json'), 'utf8')).toBe(first);
    expect(logs.some((l) => l.includes('attempt 2') && l.includes('go test failed'))).toBe(true);
  });
});

describe('name and title sanitising', () => {
  it('makes safe binary names', () => {
    expect(toBinaryName('Tip Calculator', 'x')).toBe('tip-calculator');
    expect(toBinaryName('Café Crème — Timer!', 'x')).toBe('cafe-creme-timer');
    expect(toBinaryName('日本語のツール', 'fallback')).toBe('fallback');
    expect(toBinaryName('---', 'fallback')).toBe('fallback');
    const long = toBinaryName('A very long title for a small tool that keeps on going forever', 'x');
    expect(long).toBe('a-very-long-title-for-a-small-tool-that');
    expect(long.length).toBeLessThanOrEqual(40);
    expect(long).toMatch(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/);
  });

  it('keeps titles as single-line plain text', () => {
    expect(plainText('  Tip\n\tcalculator\u0000 ', 80)).toBe('Tip calculator');
    expect(plainText('\u202eevil\u2066', 80)).toBe('evil');
    expect(plainText('👩‍💻 tool', 80)).toBe('👩‍💻 tool');
    expect([...plainText('é'.repeat(100), 80)].length).toBe(80);
  });
});
