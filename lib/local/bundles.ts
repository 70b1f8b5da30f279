import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { API_ROUTES } from '../../functions/api/routes.ts';
import { LAMBDA_TASKS } from '../../state-machines/tasks.ts';
import type { ModuleLoader } from './gateway.ts';
import { type HandlerLoader, moduleHandlerLoader } from './sfn/lambda-task.ts';
import { linkPlaywrightCore } from './worker-app.ts';

/**
 * What ships, run locally (`LOCAL_BUNDLES=<cloud assembly>`): the local stack takes every API
 * route's and every state-machine task's handler from the esbuild bundle `cdk synth` wrote for its
 * Lambda (`<assembly>/asset.<hash>/index.mjs`), instead of importing the TypeScript source. The
 * bundles run in the stack's process and read the same environment contract as on Lambda
 * (`AWS_ENDPOINT_URL_*`, TABLE_NAME, bucket names …), so a handler that works from source but
 * not bundled (a missing file, a dynamic import esbuild could not follow, a `require` of a
 * built-in in ESM) fails here as it would on AWS.
 *
 * A function is found by its logical id in the stack template: `Api<route id>Function<hash>` for a
 * route, `Pipeline<state>Function<hash>` for a task (lib/infra/build-api.ts, state-machine.ts).
 */

interface TemplateResource {
  Type?: string;
  Properties?: { Code?: { S3Key?: unknown }; Handler?: unknown };
}

export class BundleAssemblyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleAssemblyError';
  }
}

/** The one stack of a cloud assembly (its manifest), or the named one. */
export function assemblyStackName(assemblyDir: string, stack?: string): string {
  const manifestFile = join(assemblyDir, 'manifest.json');
  if (!existsSync(manifestFile))
    throw new BundleAssemblyError(
      `${assemblyDir} is not a cloud assembly (no manifest.json): run \`npm run synth\` first`,
    );
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
    artifacts?: Record<string, { type?: string }>;
  };
  const stacks = Object.entries(manifest.artifacts ?? {})
    .filter(([, a]) => a.type === 'aws:cloudformation:stack')
    .map(([name]) => name);
  if (stack !== undefined) {
    if (!stacks.includes(stack)) throw new BundleAssemblyError(`${assemblyDir} has no stack ${stack}`);
    return stack;
  }
  if (stacks.length !== 1)
    throw new BundleAssemblyError(
      `${assemblyDir} has ${stacks.length} stacks (${stacks.join(', ')}); name one`,
    );
  return stacks[0]!;
}

/** One bundled Lambda function of the stack: its logical id and the `index.mjs` it runs. */
export interface FunctionBundle {
  logicalId: string;
  file: string;
}

/** Every Node.js function of the stack bundled as `index.mjs` + `index.handler` (custom resources' own code excluded). */
export function listFunctionBundles(assemblyDir: string, stack?: string): FunctionBundle[] {
  const dir = resolve(assemblyDir);
  const name = assemblyStackName(dir, stack);
  const template = JSON.parse(readFileSync(join(dir, `${name}.template.json`), 'utf8')) as {
    Resources?: Record<string, TemplateResource>;
  };
  const assets = JSON.parse(readFileSync(join(dir, `${name}.assets.json`), 'utf8')) as {
    files?: Record<string, { source?: { path?: string } }>;
  };
  const out: FunctionBundle[] = [];
  for (const [logicalId, fn] of Object.entries(template.Resources ?? {})) {
    if (fn.Type !== 'AWS::Lambda::Function' || fn.Properties?.Handler !== 'index.handler') continue;
    const hash = String(fn.Properties?.Code?.S3Key ?? '').replace(/\.zip$/, '');
    const assetPath = assets.files?.[hash]?.source?.path;
    if (!assetPath) continue;
    const file = join(dir, assetPath, 'index.mjs');
    if (existsSync(file)) out.push({ logicalId, file });
  }
  return out;
}

/**
 * Handler entry (`functions/…/x.ts`, as in routes.ts and tasks.ts) → the absolute path of its
 * bundled `index.mjs` in the assembly. Every route and task must have exactly one bundle.
 */
export function readBundledHandlers(assemblyDir: string, stack?: string): Map<string, string> {
  const bundles = listFunctionBundles(assemblyDir, stack);
  const wanted = [
    ...API_ROUTES.map((r) => ({ prefix: `Api${r.id}`, entry: r.entry })),
    ...LAMBDA_TASKS.map((t) => ({ prefix: `Pipeline${t.state}`, entry: t.entry })),
  ];
  const out = new Map<string, string>();
  for (const { prefix, entry } of wanted) {
    const found = bundles.filter((b) => new RegExp(`^${prefix}Function[0-9A-F]{8}$`).test(b.logicalId));
    if (found.length !== 1)
      throw new BundleAssemblyError(
        `${assemblyDir}: expected one bundled function ${prefix}, found ${found.length}`,
      );
    const { file } = found[0]!;
    const previous = out.get(entry);
    if (previous !== undefined && previous !== file)
      throw new BundleAssemblyError(`${entry} is bundled twice (${previous}, ${file})`);
    out.set(entry, file);
  }
  return out;
}

/**
 * Copies the bundles' asset directories into `stageDir` (replacing what was there) and returns the
 * map re-pointed at the copies. Beside them, `node_modules/playwright-core` from the project: the
 * one package a bundle loads at run time and does not carry. On AWS only the WebChecks function
 * has it (installed into its own bundle) and VerifyArtifacts invokes that function; locally the
 * gate runs the same checks in-process, so its bundle needs the package within reach, as the
 * worker image has it. The assembly itself is left untouched.
 */
export function stageBundledHandlers(
  bundles: ReadonlyMap<string, string>,
  stageDir: string,
  root: string,
): Map<string, string> {
  rmSync(stageDir, { recursive: true, force: true });
  mkdirSync(join(stageDir, 'node_modules'), { recursive: true });
  linkPlaywrightCore(root, join(stageDir, 'node_modules'));
  const staged = new Map<string, string>();
  for (const [entry, file] of bundles) {
    const assetDir = dirname(file);
    const target = join(stageDir, basename(assetDir));
    if (!existsSync(target)) cpSync(assetDir, target, { recursive: true });
    staged.set(entry, join(target, basename(file)));
  }
  return staged;
}

/** The gateway's module loader: a route's bundle; local-only routes (not deployed) from source. */
export function bundledModuleLoader(root: string, bundles: ReadonlyMap<string, string>): ModuleLoader {
  return (entry) =>
    import(pathToFileURL(bundles.get(entry) ?? join(root, entry)).href) as Promise<{ handler?: unknown }>;
}

/** The local Step Functions' handler loader: every task's bundle (a task without one is refused). */
export function bundledHandlerLoader(bundles: ReadonlyMap<string, string>): HandlerLoader {
  const load = moduleHandlerLoader('/');
  return (task) => {
    const file = bundles.get(task.entry);
    if (file === undefined)
      return Promise.reject(new BundleAssemblyError(`no bundle for task ${task.state} (${task.entry})`));
    return load({ ...task, entry: file });
  };
}
