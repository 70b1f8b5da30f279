/**
 * Bench section: what ships to Lambda. Synthesizes the stack (`cdk synth`, esbuild bundling) into
 * a temp cloud assembly — or takes `BENCH_ASSEMBLY=<cdk.out dir>` — and prints, for every bundled
 * function, the size of its `index.mjs` and its cold init: the median of 3 imports, each in a
 * fresh Node process with the asset directory copied outside the project tree (as on Lambda: no
 * node_modules above it). Then the worker as the image runs it (worker-image/src/bundle.mjs): the
 * size of `worker.mjs` and its start-up to a first answer (`worker.mjs self-check --help`, median
 * of 3). Runnable alone: `npx tsx test/bench/bundles.ts`.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { listFunctionBundles } from '../../lib/local/bundles.ts';
import { stageWorkerApp } from '../../lib/local/worker-app.ts';
import { REPO_ROOT } from '../integration/pipeline-helpers.ts';
import { coldImport } from '../support/bundle-probe.ts';
import { synthesizeAssembly } from '../support/cdk-synth.ts';

const IMPORTS = 3;
const say = (line: string) => process.stdout.write(`${line}\n`);

function coldInitMs(dir: string): number {
  const run = coldImport(dir, { PATH: process.env.PATH, AWS_REGION: 'us-east-1' });
  if (!run.ok) throw new Error(`${dir}: import failed\n${run.stderr.slice(-2000)}`);
  return run.ms;
}

export async function bundlesSection(): Promise<void> {
  const given = process.env.BENCH_ASSEMBLY;
  const assembly = given ?? mkdtempSync(join(tmpdir(), 'busdk-bench-assembly-'));
  const scratch = mkdtempSync(join(tmpdir(), 'busdk-bench-bundles-'));
  try {
    if (!given) {
      const synth = await synthesizeAssembly(assembly, 300_000);
      say(`cdk synth (bundling every function): ${(synth.ms / 1000).toFixed(1)} s`);
    }
    const rows = listFunctionBundles(assembly)
      .map((b) => {
        const name = b.logicalId.replace(/Function[0-9A-F]{8}$/, '');
        const dir = join(scratch, name);
        cpSync(dirname(b.file), dir, { recursive: true });
        const times = Array.from({ length: IMPORTS }, () => coldInitMs(dir)).sort((x, y) => x - y);
        return { name, kib: statSync(join(dir, basename(b.file))).size / 1024, ms: times[1]! };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
    say(
      `bundled functions (${rows.length}): index.mjs size, cold init (median of ${IMPORTS} fresh processes)`,
    );
    for (const r of rows)
      say(`  ${r.name.padEnd(28)} ${r.kib.toFixed(0).padStart(6)} KiB ${r.ms.toFixed(0).padStart(5)} ms`);
    const api = rows.filter((r) => r.name.startsWith('Api'));
    if (api.length > 0)
      say(
        `  API functions: ${Math.min(...api.map((r) => r.kib)).toFixed(0)}–${Math.max(...api.map((r) => r.kib)).toFixed(0)} KiB, ` +
          `${Math.min(...api.map((r) => r.ms)).toFixed(0)}–${Math.max(...api.map((r) => r.ms)).toFixed(0)} ms`,
      );
    workerSection(join(scratch, 'worker-app'));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    if (!given) rmSync(assembly, { recursive: true, force: true });
  }
}

function workerSection(appDir: string): void {
  const started = performance.now();
  const app = stageWorkerApp(REPO_ROOT, appDir);
  const bundleMs = performance.now() - started;
  const [node, ...args] = app.command;
  const times = Array.from({ length: IMPORTS }, () => {
    const t0 = performance.now();
    const run = spawnSync(node!, [...args, 'self-check', '--help'], { cwd: appDir, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`worker.mjs self-check --help exited ${run.status}: ${run.stderr}`);
    return performance.now() - t0;
  }).sort((x, y) => x - y);
  const kib = statSync(app.command.at(-1)!).size / 1024;
  say(
    `worker bundle (as in the image): worker.mjs ${kib.toFixed(0)} KiB, bundled in ${(bundleMs / 1000).toFixed(1)} s, ` +
      `start-up to a first answer ${times[1]!.toFixed(0)} ms (median of ${IMPORTS})`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  bundlesSection().catch((err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  });
}
