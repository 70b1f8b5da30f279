import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../functions/api/routes.ts';
import {
  BundleAssemblyError,
  bundledHandlerLoader,
  listFunctionBundles,
  readBundledHandlers,
  stageBundledHandlers,
} from '../../lib/local/bundles.ts';
import { stackOptionsFromEnv } from '../../lib/local/stack.ts';
import { LAMBDA_TASKS } from '../../state-machines/tasks.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** A minimal cloud assembly: one stack whose functions each have an `asset.<hash>/index.mjs`. */
function writeAssembly(dir: string, logicalIds: string[], opts: { handler?: string } = {}): void {
  const resources: Record<string, unknown> = {};
  const files: Record<string, unknown> = {};
  logicalIds.forEach((id, i) => {
    const hash = `${i}`.padStart(8, '0');
    resources[id] = {
      Type: 'AWS::Lambda::Function',
      Properties: { Handler: opts.handler ?? 'index.handler', Code: { S3Key: `${hash}.zip` } },
    };
    files[hash] = { source: { path: `asset.${hash}` } };
    mkdirSync(join(dir, `asset.${hash}`), { recursive: true });
    writeFileSync(join(dir, `asset.${hash}`, 'index.mjs'), `export const handler = async () => '${id}';\n`);
  });
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({ artifacts: { 'Stack-dev': { type: 'aws:cloudformation:stack' } } }),
  );
  writeFileSync(join(dir, 'Stack-dev.template.json'), JSON.stringify({ Resources: resources }));
  writeFileSync(join(dir, 'Stack-dev.assets.json'), JSON.stringify({ files }));
}

const everyFunction = () => [
  ...API_ROUTES.map((r, i) => `Api${r.id}Function${(0xa0000000 + i).toString(16).toUpperCase()}`),
  ...LAMBDA_TASKS.map((t, i) => `Pipeline${t.state}Function${(0xb0000000 + i).toString(16).toUpperCase()}`),
];

describe('local bundles (LOCAL_BUNDLES)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'busdk-bundles-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('maps every route and task entry to its bundled index.mjs by logical id', () => {
    writeAssembly(dir, everyFunction());
    const bundles = readBundledHandlers(dir);
    const entries = new Set([...API_ROUTES.map((r) => r.entry), ...LAMBDA_TASKS.map((t) => t.entry)]);
    expect([...bundles.keys()].sort()).toEqual([...entries].sort());
    const createRun = bundles.get('functions/api/create-run.ts')!;
    expect(createRun).toMatch(/asset\.\d{8}\/index\.mjs$/);
    expect(listFunctionBundles(dir)).toHaveLength(everyFunction().length);
  });

  it('refuses an assembly without a function of a route, a directory that is no assembly', () => {
    writeAssembly(
      dir,
      everyFunction().filter((id) => !id.startsWith('ApiCheckout')),
    );
    expect(() => readBundledHandlers(dir)).toThrow(/expected one bundled function ApiCheckout, found 0/);
    rmSync(join(dir, 'manifest.json'));
    expect(() => readBundledHandlers(dir)).toThrow(BundleAssemblyError);
    expect(() => readBundledHandlers(dir)).toThrow(/not a cloud assembly/);
  });

  it('ignores functions that are not index.handler bundles (custom resources’ own code)', () => {
    writeAssembly(dir, ['CustomResourceFunctionAAAAAAAA'], { handler: 'framework.onEvent' });
    expect(listFunctionBundles(dir)).toEqual([]);
  });

  it('stages copies beside playwright-core and leaves the assembly untouched; a task without a bundle is refused', async () => {
    writeAssembly(dir, everyFunction());
    const before = readdirSync(dir).sort();
    const stage = join(dir, '..', `${dir.split('/').at(-1)}-stage`);
    try {
      const staged = stageBundledHandlers(readBundledHandlers(dir), stage, ROOT);
      expect(readdirSync(dir).sort()).toEqual(before);
      for (const file of staged.values()) expect(file.startsWith(`${stage}/`)).toBe(true);
      expect(existsSync(join(stage, 'node_modules', 'playwright-core', 'package.json'))).toBe(true);
      expect(realpathSync(join(stage, 'node_modules', 'playwright-core'))).toBe(
        realpathSync(join(ROOT, 'node_modules', 'playwright-core')),
      );
      const load = bundledHandlerLoader(staged);
      const task = LAMBDA_TASKS[0]!;
      const handler = await load(task);
      expect(await (handler as (e: unknown) => Promise<unknown>)({})).toMatch(
        /^PipelinePrepareBranchFunction/,
      );
      await expect(load({ ...task, entry: 'functions/orchestrator/unknown.ts' })).rejects.toThrow(
        /no bundle for task/,
      );
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  });

  it('reads LOCAL_BUNDLES and LOCAL_WORKER from the environment (an invalid worker refused)', () => {
    expect(stackOptionsFromEnv({ LOCAL_BUNDLES: 'cdk.out', LOCAL_WORKER: 'bundle' })).toMatchObject({
      bundles: resolve('cdk.out'),
      worker: 'bundle',
    });
    const plain = stackOptionsFromEnv({});
    expect(plain.bundles).toBeUndefined();
    expect(plain.worker).toBeUndefined();
    expect(() => stackOptionsFromEnv({ LOCAL_WORKER: 'image' })).toThrow(/LOCAL_WORKER=image is not valid/);
  });
});
