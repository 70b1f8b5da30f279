/**
 * Every catalog recipe's acceptance checks (lib/domain/recipe-checks.ts) pass on the recipe's own
 * build, run by the gate's own runners (lib/verify/acceptance: the sandboxed CLI runner and the
 * headless-Chromium web runner); and the template skeleton handed in under a recipe's name fails
 * at least one check of every recipe. Each recipe is built once, for the host platform and the
 * web, sharing the Go build cache with the other template tests.
 *
 * Skips only when `go` is not installed; without a browser it fails (as the e2e test does) unless
 * SKIP_BROWSER_TESTS=1.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AcceptanceCheck, CheckOutcome } from '../../lib/domain/acceptance.ts';
import type { BuildSpec } from '../../lib/domain/build-spec.ts';
import { recipeChecks } from '../../lib/domain/recipe-checks.ts';
import { RECIPES } from '../../lib/domain/recipes.ts';
import { runCliChecks } from '../../lib/verify/acceptance/cli-runner.ts';
import { runWebChecks } from '../../lib/verify/acceptance/web-runner.ts';
import { findBrowser } from '../../lib/verify/render-check.ts';
import { OfflineRecipeCoder } from '../../worker-image/src/coder/offline-recipe-coder.ts';
import { copyTemplate, GO, goEnv, HOST, mustRun, STEP_TIMEOUT_MS } from './helpers.ts';

const SKIP_BROWSER = process.env.SKIP_BROWSER_TESTS === '1';
const BROWSER = process.env.CHROMIUM_PATH || findBrowser().path;

interface Build {
  binary: string;
  web: string;
}

/** Builds a worktree for the host platform and the web, the one build command a worker runs. */
function build(worktree: string): Build {
  mustRun('go', ['run', './tools/build'], worktree, goEnv({ ARTIFACT_TYPE: 'both', PLATFORMS: HOST }));
  const name = JSON.parse(readFileSync(path.join(worktree, 'app.json'), 'utf8')).name as string;
  return {
    binary: path.join(worktree, 'dist', 'bin', `${name}-${HOST}${HOST.startsWith('windows') ? '.exe' : ''}`),
    web: path.join(worktree, 'dist', 'web'),
  };
}

/** Runs checks on a build through the gate's runners; every check yields exactly one outcome. */
async function runChecks(b: Build, checks: readonly AcceptanceCheck[]): Promise<CheckOutcome[]> {
  const cli = checks.filter((c) => c.kind === 'cli');
  const web = checks.filter((c) => c.kind === 'web');
  const cliOutcomes = await runCliChecks({ binary: b.binary, platform: HOST, checks: cli });
  const webResult = await runWebChecks({
    dir: b.web,
    entrypoint: 'index.html',
    checks: web,
    browser: BROWSER,
  });
  expect(webResult.status, webResult.notes.join('; ')).toBe('ran');
  const outcomes = [...cliOutcomes, ...webResult.outcomes];
  expect(outcomes.map((o) => o.id).sort()).toEqual(checks.map((c) => c.id).sort());
  return outcomes;
}

const failures = (outcomes: CheckOutcome[]) =>
  outcomes.filter((o) => !o.passed).map((o) => `${o.id} (${o.kind}): ${o.detail ?? 'failed'}`);

let scratchRoot: string;
beforeAll(() => {
  scratchRoot = mkdtempSync(path.join(tmpdir(), 'recipe-checks-'));
});
afterAll(() => {
  if (scratchRoot) rmSync(scratchRoot, { recursive: true, force: true });
});

describe.skipIf(!GO || SKIP_BROWSER)('recipe acceptance checks on real builds', () => {
  it('a browser is available for the web checks', () => {
    expect(BROWSER, 'install chromium or set SKIP_BROWSER_TESTS=1').toBeTruthy();
  });

  const coder = new OfflineRecipeCoder();
  for (const recipe of RECIPES) {
    it(
      `${recipe.id}: every check passes on the recipe's own build`,
      async () => {
        const worktree = path.join(scratchRoot, recipe.id);
        copyTemplate(worktree);
        const spec: BuildSpec = {
          title: recipe.title,
          summary: recipe.description,
          requestText: `Please build me a ${recipe.title.toLowerCase()}`,
          artifactType: 'both',
          platforms: [HOST],
          recipe: recipe.id,
          features: [...recipe.features],
          outOfScope: [],
          complexity: 'small',
          checks: recipeChecks(recipe.id),
        };
        const logs: string[] = [];
        expect(
          await coder.code({ worktree, spec, attempt: 1, log: (l) => logs.push(l) }),
          logs.join('\n'),
        ).toMatchObject({
          ok: true,
        });
        const outcomes = await runChecks(build(worktree), recipeChecks(recipe.id));
        expect(failures(outcomes)).toEqual([]);
        expect(outcomes.filter((o) => o.kind === 'web').every((o) => o.ranOn === 'web')).toBe(true);
        expect(outcomes.filter((o) => o.kind === 'cli').every((o) => o.ranOn === HOST)).toBe(true);
      },
      STEP_TIMEOUT_MS,
    );
  }

  it(
    'the template skeleton handed in under a recipe’s name fails at least one check of every recipe',
    async () => {
      const worktree = path.join(scratchRoot, 'skeleton');
      copyTemplate(worktree);
      // What a coder that only writes app.json hands in: the letter-case skeleton, renamed.
      const meta = JSON.parse(readFileSync(path.join(worktree, 'app.json'), 'utf8'));
      writeFileSync(
        path.join(worktree, 'app.json'),
        JSON.stringify({ ...meta, name: 'unit-converter', title: 'Unit converter' }, null, 2),
      );
      const skeleton = build(worktree);
      // The first check of each kind, per recipe: each kind on its own must catch it, so a
      // web-only or a program-only quote is safe too. (Running them all would only wait out
      // every missing label's step timeout.)
      const picked = RECIPES.flatMap((r) =>
        (['cli', 'web'] as const).map((kind) => {
          const check = recipeChecks(r.id).find((c) => c.kind === kind);
          if (!check) throw new Error(`${r.id} has no ${kind} check`);
          return { recipe: r.id, check: { ...check, id: `${r.id}-${check.id}`.slice(0, 40) } };
        }),
      );
      const outcomes = await runChecks(
        skeleton,
        picked.map((p) => p.check),
      );
      const passed = outcomes.filter((o) => o.passed).map((o) => o.id);
      expect(passed).toEqual([]);
      expect(outcomes).toHaveLength(RECIPES.length * 2);
    },
    STEP_TIMEOUT_MS * 2,
  );
});
