import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The worker as the image runs it (`LOCAL_WORKER=bundle`): `worker-image/src/bundle.mjs` bundles
 * the worker into one ESM file, laid out as the Dockerfile lays out `/app` — `worker.mjs`, the
 * offline recipe overlays in `recipes/` (RECIPES_DIR) and `node_modules/playwright-core`, the one
 * package kept out of the bundle (the render check loads it at run time). The local Step
 * Functions then runs `node <app>/worker.mjs` instead of the TypeScript source through tsx.
 */
export interface WorkerApp {
  /** argv of the worker program. */
  command: string[];
  /** Variables the image sets (Dockerfile `ENV`) that the worker reads. */
  env: Record<string, string>;
  dir: string;
}

export class WorkerBundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerBundleError';
  }
}

/** Bundles the worker into `appDir` (replacing what was there) and returns how to run it. */
export function stageWorkerApp(root: string, appDir: string): WorkerApp {
  rmSync(appDir, { recursive: true, force: true });
  mkdirSync(join(appDir, 'node_modules'), { recursive: true });
  const outfile = join(appDir, 'worker.mjs');
  const built = spawnSync(process.execPath, [join(root, 'worker-image/src/bundle.mjs'), outfile], {
    cwd: root,
    encoding: 'utf8',
  });
  if (built.status !== 0)
    throw new WorkerBundleError(`bundling the worker failed: ${(built.stderr || built.stdout).slice(-2000)}`);
  cpSync(join(root, 'worker-image/recipes'), join(appDir, 'recipes'), { recursive: true });
  linkPlaywrightCore(root, join(appDir, 'node_modules'));
  return {
    command: [process.execPath, outfile],
    env: { RECIPES_DIR: join(appDir, 'recipes') },
    dir: appDir,
  };
}

/** Links the project's playwright-core into `nodeModulesDir` (the one package bundles leave out). */
export function linkPlaywrightCore(root: string, nodeModulesDir: string): void {
  const playwright = dirname(
    createRequire(join(root, 'package.json')).resolve('playwright-core/package.json'),
  );
  symlinkSync(playwright, join(nodeModulesDir, 'playwright-core'), 'dir');
}
