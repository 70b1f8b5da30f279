/**
 * `npm run bench`: how much the build pipeline costs on top of the build itself.
 *
 * 1. Starts the real local stack (`lib/local/start.ts` in a child process, temp data dir, ephemeral
 *    ports, a shared GOCACHE) and does one warm-up run end to end.
 * 2. Pipeline: for a second, warm run, the time from `bus-build approve` (the CLI as a child
 *    process) to `artifact_ready` (the `bus.build.artifact.verified` event's own timestamp; the
 *    moment the visitor's long-poll saw it is printed too).
 * 3. Floor: the same template build done directly: copy template-repo/ to a temp dir, apply the same
 *    recipe with the OfflineRecipeCoder, run the worker profile's commands (`go vet ./...`,
 *    `go test ./...`, `go run ./tools/build`) with the worker's command environment
 *    (ARTIFACT_TYPE, PLATFORMS), then hash every file in dist/. Warm-up once, then measured.
 * 4. Prints pipeline seconds, floor seconds and their ratio.
 * 5. Acceptance checks: the approved spec's cli and web checks run on the floor build's dist/ with
 *    the gate's runners; prints the time they add per check (cli and web).
 * 6. Memory (test/bench/memory.ts, also runnable alone: `npx tsx test/bench/memory.ts`): the local
 *    stack's RSS and heap (forced GC) before and after 3 rounds of 100 long-polling visitors, after
 *    a warm-up round; bound 15 %.
 * 7. What ships (test/bench/bundles.ts, also runnable alone): every synthesized Lambda bundle's
 *    size and cold init in a fresh Node process (`BENCH_ASSEMBLY=<cdk.out>` skips the synth).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliCheck, checksFor, type WebCheck } from '../../lib/domain/acceptance.ts';
import { BuildSpecSchema } from '../../lib/domain/build-spec.ts';
import { runCliChecks } from '../../lib/verify/acceptance/cli-runner.ts';
import { runWebChecks } from '../../lib/verify/acceptance/web-runner.ts';
import { detectHostPlatform } from '../../lib/verify/smoke-binary.ts';
import { OfflineRecipeCoder } from '../../worker-image/src/coder/offline-recipe-coder.ts';
import { commandEnv } from '../../worker-image/src/go-env.ts';
import { WorkerLog } from '../../worker-image/src/log.ts';
import { ARTIFACT_BUILDER_PROFILE } from '../../worker-image/src/profile.ts';
import { runCommand } from '../../worker-image/src/run-commands.ts';
import { ApiClient, startTestStack, type TestStack } from '../integration/harness.ts';
import {
  busBuild,
  chatToQuote,
  type PublicEvent,
  pollEvents,
  REPO_ROOT,
  sharedGoCache,
} from '../integration/pipeline-helpers.ts';
import { bundlesSection } from './bundles.ts';
import { BENCH_STACK_ENV, MEMORY_STACK_OPTIONS, memorySection } from './memory.ts';

const REQUEST = 'I need a tip calculator web app and a command line program for linux';
const TYPE_ANSWER = 'Both: a web app and a program for linux please';
const BUILD_TIMEOUT_MS = 300_000;

const seconds = (ms: number) => (ms / 1000).toFixed(2);
const say = (line: string) => process.stdout.write(`${line}\n`);

interface PipelineRun {
  runId: string;
  /** approve spawned → artifact.verified (event timestamp). */
  toReadyMs: number;
  /** approve spawned → artifact.verified seen by the long-poll. */
  observedMs: number;
  /** approve spawned → bus.build.run.authorized (event timestamp): CLI start-up + approval. */
  toAuthorizedMs: number;
  cliMs: number;
}

async function pipelineRun(stack: TestStack): Promise<PipelineRun> {
  const visitor = new ApiClient(stack.url);
  const { runId, run } = await chatToQuote(visitor, [REQUEST, TYPE_ANSWER, TYPE_ANSWER], stack.dataDir);
  if (run.phase !== 'quoted') throw new Error(`run ${runId} was not quoted (phase ${run.phase})`);
  const before = await visitor.get<{ next_after: number }>(`/api/v1/build-runs/${runId}/events?after=0`);
  const after = before.body.next_after;

  const t0 = Date.now();
  const approve = await busBuild(stack.dataDir, 'approve', runId);
  if (approve.code !== 0) throw new Error(`bus-build approve failed: ${approve.stdout}${approve.stderr}`);
  const polled = await pollEvents(visitor, runId, { after, timeoutMs: BUILD_TIMEOUT_MS });
  const observedMs = Date.now() - t0;
  if (polled.terminal?.type !== 'bus.build.artifact.verified') {
    throw new Error(
      `run ${runId} did not reach artifact_ready: ${polled.events.map((e) => e.type).join(', ')}\n` +
        stack.output().slice(-4000),
    );
  }
  const at = (e: PublicEvent | undefined) => (e ? Date.parse(e.at) - t0 : Number.NaN);
  return {
    runId,
    toReadyMs: at(polled.terminal),
    observedMs,
    toAuthorizedMs: at(polled.events.find((e) => e.type === 'bus.build.run.authorized')),
    cliMs: approve.ms,
  };
}

async function hashTree(dir: string): Promise<number> {
  let files = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(join(entry.parentPath, entry.name))) hash.update(chunk);
    hash.digest('hex');
    files++;
  }
  return files;
}

/** The same build without the pipeline; returns its duration in ms. */
async function floorBuild(
  spec: unknown,
  onDist?: (dist: string) => Promise<void>,
): Promise<{ ms: number; files: number }> {
  const parsed = BuildSpecSchema.parse(spec);
  const scratch = await mkdtemp(join(tmpdir(), 'busdk-bench-floor-'));
  const worktree = join(scratch, 'repo');
  const log = new WorkerLog({ echo: null });
  try {
    const t0 = Date.now();
    await cp(join(REPO_ROOT, 'template-repo'), worktree, { recursive: true });
    const coded = await new OfflineRecipeCoder().code({ worktree, spec: parsed, attempt: 1, log: () => {} });
    if (!coded.ok) throw new Error(`the recipe coder failed: ${coded.reason}`);
    const env = commandEnv(
      {
        runId: `run_${'a'.repeat(26)}`,
        artifactType: parsed.artifactType,
        platforms: parsed.artifactType === 'web' ? [] : parsed.platforms,
      },
      { ...process.env, GOCACHE: sharedGoCache() },
    );
    const profile = ARTIFACT_BUILDER_PROFILE;
    for (const argv of [...profile.testCommands, ...profile.buildCommands]) {
      const res = await runCommand(argv, {
        cwd: worktree,
        env,
        timeoutMs: BUILD_TIMEOUT_MS,
        log,
      });
      if (!res.ok) throw new Error(`${argv.join(' ')} failed:\n${res.output.slice(-3000)}`);
    }
    const files = await hashTree(join(worktree, 'dist'));
    const ms = Date.now() - t0;
    await onDist?.(join(worktree, 'dist'));
    return { ms, files };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

interface ChecksCost {
  cli: { count: number; ms: number };
  web: { count: number; ms: number };
}

/**
 * The time the gate's acceptance checks add, measured on the recipe's own build: every cli check
 * on the host binary (lib/verify/acceptance/cli-runner.ts, sandboxed) and every web check in
 * Chromium (lib/verify/acceptance/web-runner.ts: one browser launch per artifact, a fresh context
 * per check), wall clock including those launches.
 */
async function checksCost(spec: unknown, dist: string, out: ChecksCost): Promise<void> {
  const parsed = BuildSpecSchema.parse(spec);
  const checks = checksFor(parsed.checks ?? [], parsed.artifactType);
  const manifest = JSON.parse(await readFile(join(dist, 'artifact-manifest.json'), 'utf8')) as {
    artifacts: Array<{ kind: string; path: string; platform?: string; entrypoint?: string }>;
  };
  const host = detectHostPlatform();
  const bin = manifest.artifacts.find((a) => a.kind === 'binary' && a.platform === host);
  const web = manifest.artifacts.find((a) => a.kind === 'web');
  const cli = checks.filter((c): c is CliCheck => c.kind === 'cli');
  const webChecks = checks.filter((c): c is WebCheck => c.kind === 'web');
  if (bin && cli.length > 0) {
    const t0 = performance.now();
    await runCliChecks({ binary: join(dist, bin.path), platform: host ?? 'unknown', checks: cli });
    out.cli = { count: cli.length, ms: performance.now() - t0 };
  }
  if (web && webChecks.length > 0) {
    const t0 = performance.now();
    const r = await runWebChecks({
      dir: join(dist, web.path),
      entrypoint: web.entrypoint ?? 'index.html',
      checks: webChecks,
      screenshot: true,
    });
    if (r.status === 'ran') out.web = { count: webChecks.length, ms: performance.now() - t0 };
  }
}

async function main(): Promise<void> {
  say(`BusDK Artifact Builder bench: ${cpus().length} CPU(s), GOCACHE=${sharedGoCache()}`);
  const stack = await startTestStack({
    env: { GOCACHE: sharedGoCache(), ...BENCH_STACK_ENV },
    startTimeoutMs: 120_000,
    ...MEMORY_STACK_OPTIONS, // forced GC and the memory probe (also harmless to the timings)
  });
  const stop = () => {
    void stack.dispose().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const warm = await pipelineRun(stack);
    say(`warm-up run: approve → artifact_ready ${seconds(warm.toReadyMs)} s`);
    const measured = await pipelineRun(stack);

    const show = await busBuild(stack.dataDir, 'show', measured.runId, '--json');
    if (show.code !== 0) throw new Error(`bus-build show failed: ${show.stderr}`);
    const spec = (JSON.parse(show.stdout) as { run: { spec: unknown } }).run.spec;
    await floorBuild(spec); // warm-up (same cache state as the pipeline's warm run)
    const cost: ChecksCost = { cli: { count: 0, ms: 0 }, web: { count: 0, ms: 0 } };
    const floor = await floorBuild(spec, (dist) => checksCost(spec, dist, cost));

    say('');
    say(
      `pipeline breakdown: approve CLI process ${seconds(measured.cliMs)} s, authorized after ${seconds(
        measured.toAuthorizedMs,
      )} s, artifact_ready seen by the long-poll after ${seconds(measured.observedMs)} s`,
    );
    say(`floor breakdown: ${floor.files} files hashed in dist/`);
    say(`pipeline seconds (bus-build approve → artifact_ready, warm): ${seconds(measured.toReadyMs)}`);
    say(
      `floor seconds (copy + recipe + go vet + go test + go run ./tools/build + hash dist): ${seconds(floor.ms)}`,
    );
    say(`ratio (pipeline / floor): ${(measured.toReadyMs / floor.ms).toFixed(2)}`);
    const per = (c: { count: number; ms: number }) =>
      c.count === 0
        ? 'none ran'
        : `${c.count} checks in ${seconds(c.ms)} s, ${seconds(c.ms / c.count)} s per check`;
    say(`acceptance checks, cli (sandboxed, on the recipe's build): ${per(cost.cli)}`);
    say(`acceptance checks, web (Chromium, incl. one launch and the screenshot): ${per(cost.web)}`);
    await memorySection(stack);
    say('');
    await bundlesSection();
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await stack.dispose();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
