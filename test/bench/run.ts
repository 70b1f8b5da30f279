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
 * 5. Memory: the local stack's RSS (its process, from /proc) after a warm-up round and after each of
 *    3 rounds of 100 concurrent visitors (create a run, one message, 4 event long-polls of 2 s);
 *    the last round's RSS must stay within 15 % of the baseline (bounded memory, issue 12).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildSpecSchema } from '../../lib/domain/build-spec.ts';
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
  const { runId, run } = await chatToQuote(visitor, [REQUEST, TYPE_ANSWER, TYPE_ANSWER]);
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
async function floorBuild(spec: unknown): Promise<{ ms: number; files: number }> {
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
    return { ms: Date.now() - t0, files };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const VISITORS = 100;
const ROUNDS = 3;
const POLLS = 4;
const MEMORY_BOUND = 0.15;

/** Resident set size of a process in MiB (Linux /proc). */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no VmRSS for pid ${pid}`);
  return kb / 1024;
}

/** One visitor: a new run, one message, then long-polls for events that do not come. */
async function pollingVisitor(stack: TestStack): Promise<void> {
  const visitor = new ApiClient(stack.url);
  const created = await visitor.post<{ run: { run_id: string } }>('/api/v1/build-runs', {});
  if (created.status !== 201) throw new Error(`create run: ${created.status} ${created.text}`);
  const runId = created.body.run.run_id;
  const msg = await visitor.post(`/api/v1/build-runs/${runId}/messages`, { text: REQUEST });
  if (msg.status !== 200) throw new Error(`message: ${msg.status} ${msg.text}`);
  let after = 0;
  for (let i = 0; i < POLLS; i++) {
    const res = await visitor.get<{ next_after: number }>(
      `/api/v1/build-runs/${runId}/events?after=${after}&wait=2`,
    );
    if (res.status !== 200) throw new Error(`events: ${res.status} ${res.text}`);
    after = res.body.next_after;
  }
}

async function visitorRound(stack: TestStack): Promise<number> {
  const t0 = Date.now();
  await Promise.all(Array.from({ length: VISITORS }, () => pollingVisitor(stack)));
  return Date.now() - t0;
}

async function memorySection(stack: TestStack): Promise<void> {
  say('');
  say(`memory: ${ROUNDS} rounds of ${VISITORS} long-polling visitors (local stack pid ${stack.pid})`);
  const warmMs = await visitorRound(stack);
  const baseline = await rssMiB(stack.pid);
  say(`memory baseline RSS after a warm-up round (${seconds(warmMs)} s): ${baseline.toFixed(1)} MiB`);
  let last = baseline;
  for (let round = 1; round <= ROUNDS; round++) {
    const ms = await visitorRound(stack);
    last = await rssMiB(stack.pid);
    say(`memory round ${round} (${seconds(ms)} s): RSS ${last.toFixed(1)} MiB`);
  }
  const growth = (last - baseline) / baseline;
  say(
    `memory RSS before → after ${ROUNDS} rounds: ${baseline.toFixed(1)} → ${last.toFixed(1)} MiB ` +
      `(${(growth * 100).toFixed(1)} %, bound ${MEMORY_BOUND * 100} %): ${growth <= MEMORY_BOUND ? 'flat' : 'GROWING'}`,
  );
  if (growth > MEMORY_BOUND) process.exitCode = 1;
}

async function main(): Promise<void> {
  say(`BusDK Artifact Builder bench: ${cpus().length} CPU(s), GOCACHE=${sharedGoCache()}`);
  const stack = await startTestStack({ env: { GOCACHE: sharedGoCache() }, startTimeoutMs: 120_000 });
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
    const floor = await floorBuild(spec);

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
    await memorySection(stack);
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
