import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../functions/api/routes.ts';
import { REPO_ROOT } from '../../lib/infra/paths.ts';
import { LAMBDA_TASKS } from '../../state-machines/tasks.ts';

/**
 * The real `npm run synth` (`cdk synth --quiet`: cdk.json's app command, esbuild bundling of every
 * function, the AwsSolutions validation plugin of bin/app.ts) into a temporary output directory.
 * The other infra suites build BuildStack in-process with bundling skipped; this one proves that
 * the deployable cloud assembly comes out. About 20 s on two cores when run alone.
 */
const SYNTH_TIMEOUT_MS = 240_000;
const STACK = 'BusBuild-dev';
/** The sender `npm run synth` passes too (package.json). */
const SYNTH_EMAIL_FROM = 'no-reply@busdk.com';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}
interface Assets {
  files: Record<string, { source: { path: string; packaging: string } }>;
  dockerImages: Record<string, { source: { directory: string; dockerFile?: string; platform?: string } }>;
}

function runSynth(outDir: string): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // npx resolves the project's own cdk CLI (and the Node it runs under), as `npm run synth` does.
    // emailFrom is the one setting without a default (a deploy is refused without it).
    const args = [
      'cdk',
      'synth',
      '--quiet',
      '--no-notices',
      '-c',
      `emailFrom=${SYNTH_EMAIL_FROM}`,
      '-o',
      outDir,
    ];
    const child = spawn('npx', args, {
      cwd: REPO_ROOT,
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), SYNTH_TIMEOUT_MS - 10_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

describe('npm run synth (cdk synth with bundling)', () => {
  let outDir: string;
  let synth: Awaited<ReturnType<typeof runSynth>>;
  let resources: Record<string, Resource>;
  let assets: Assets;

  beforeAll(async () => {
    outDir = mkdtempSync(path.join(os.tmpdir(), 'busdk-cdk-synth-'));
    synth = await runSynth(outDir);
    console.info(`cdk synth took ${(synth.ms / 1000).toFixed(1)} s`);
    if (synth.code !== 0) throw new Error(`cdk synth exited ${synth.code}:\n${synth.output.slice(-4000)}`);
    const template = JSON.parse(readFileSync(path.join(outDir, `${STACK}.template.json`), 'utf8'));
    resources = template.Resources;
    assets = JSON.parse(readFileSync(path.join(outDir, `${STACK}.assets.json`), 'utf8'));
  }, SYNTH_TIMEOUT_MS);

  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  /** The stack's own functions by construct (logical id `<Scope><Id>Function<hash>`). */
  const functionOf = (prefix: string): Resource => {
    const found = ofType('AWS::Lambda::Function').filter(([id]) =>
      new RegExp(`^${prefix}Function[0-9A-F]{8}$`).test(id),
    );
    expect(
      found.map(([id]) => id),
      prefix,
    ).toHaveLength(1);
    return found[0]![1];
  };
  const ownFunctions = () => [
    ...LAMBDA_TASKS.map((t) => [t.state, functionOf(`Pipeline${t.state}`)] as const),
    ['ReconcileExecution', functionOf('PipelineReconcileExecution')] as const,
    ...API_ROUTES.map((r) => [r.id, functionOf(`Api${r.id}`)] as const),
  ];

  it('writes the template and the asset manifest of the stack', () => {
    expect(statSync(path.join(outDir, `${STACK}.template.json`)).size).toBeGreaterThan(0);
    expect(existsSync(path.join(outDir, 'manifest.json'))).toBe(true);
  });

  it('contains the state machine, the worker task definition and the HTTP API', () => {
    expect(ofType('AWS::StepFunctions::StateMachine')).toHaveLength(1);
    expect(ofType('AWS::ECS::TaskDefinition')).toHaveLength(1);
    const apis = ofType('AWS::ApiGatewayV2::Api');
    expect(apis).toHaveLength(1);
    expect(apis[0]![1].Properties.ProtocolType).toBe('HTTP');
    expect(ofType('AWS::ApiGatewayV2::Route')).toHaveLength(API_ROUTES.length);
  });

  it('runs every Node.js function on Node 22 or later, the stack’s own on ARM64', () => {
    const node = ofType('AWS::Lambda::Function').filter(([, r]) =>
      String(r.Properties.Runtime).startsWith('nodejs'),
    );
    expect(node.length).toBeGreaterThan(LAMBDA_TASKS.length + API_ROUTES.length);
    for (const [id, r] of node) {
      const major = Number(/^nodejs(\d+)\.x$/.exec(String(r.Properties.Runtime))?.[1]);
      expect(major, `${id} ${String(r.Properties.Runtime)}`).toBeGreaterThanOrEqual(22);
    }
    for (const [name, fn] of ownFunctions()) {
      expect(fn.Properties, name).toMatchObject({ Handler: 'index.handler', Architectures: ['arm64'] });
    }
  });

  it('bundles each function into its asset (index.mjs with source map; the template in PrepareBranch)', () => {
    for (const [name, fn] of ownFunctions()) {
      const key = String((fn.Properties.Code as { S3Key: unknown }).S3Key);
      const hash = key.replace(/\.zip$/, '');
      const asset = assets.files[hash];
      expect(asset, `${name}: asset ${key}`).toBeDefined();
      const dir = path.join(outDir, asset!.source.path);
      expect(statSync(path.join(dir, 'index.mjs')).size, name).toBeGreaterThan(1000);
      expect(existsSync(path.join(dir, 'index.mjs.map')), name).toBe(true);
      if (name === 'PrepareBranch') {
        expect(existsSync(path.join(dir, 'template-repo', 'go.mod'))).toBe(true);
        expect(existsSync(path.join(dir, 'template-repo', 'dist'))).toBe(false);
      }
    }
  });

  it('loads every bundled function in a fresh Node process outside the project tree (cold init)', () => {
    // What ships, not the TypeScript source: each asset directory copied to a temp dir with no
    // node_modules above it, imported by a plain `node` (no tsx), the `handler` export checked.
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'busdk-bundles-'));
    try {
      const timings: string[] = [];
      for (const [name, fn] of ownFunctions()) {
        const hash = String((fn.Properties.Code as { S3Key: unknown }).S3Key).replace(/\.zip$/, '');
        const dir = path.join(scratch, name);
        cpSync(path.join(outDir, assets.files[hash]!.source.path), dir, { recursive: true });
        const probe =
          'const t0 = performance.now(); const m = await import(process.argv[1]); ' +
          "if (typeof m.handler !== 'function') throw new Error('no handler export'); " +
          'console.log(JSON.stringify({ ms: performance.now() - t0 }));';
        const env = fn.Properties.Environment as { Variables?: Record<string, unknown> } | undefined;
        const vars = Object.fromEntries(
          Object.entries(env?.Variables ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : 'x']),
        );
        const run = spawnSync(
          process.execPath,
          ['--input-type=module', '-e', probe, pathToFileURL(path.join(dir, 'index.mjs')).href],
          { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', ...vars } },
        );
        expect(run.status, `${name}: ${run.stderr.slice(-2000)}`).toBe(0);
        const kib = Math.round(statSync(path.join(dir, 'index.mjs')).size / 1024);
        timings.push(`${name} ${kib} KiB init ${JSON.parse(run.stdout.trim()).ms.toFixed(0)} ms`);
      }
      console.info(`bundled functions (size, cold import):\n  ${timings.join('\n  ')}`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('stages the worker image build context (ARM64, worker-image/Dockerfile)', () => {
    const images = Object.values(assets.dockerImages);
    expect(images).toHaveLength(1);
    expect(images[0]!.source).toMatchObject({
      dockerFile: 'worker-image/Dockerfile',
      platform: 'linux/arm64',
    });
    const dir = path.join(outDir, images[0]!.source.directory);
    expect(existsSync(path.join(dir, 'worker-image', 'Dockerfile'))).toBe(true);
    expect(existsSync(path.join(dir, 'node_modules'))).toBe(false);
  });
});
