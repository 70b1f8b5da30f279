import { execFileSync, spawn } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../lib/aws/keys.ts';
import { RepoStore } from '../../lib/aws/repo-store.ts';
import { DynamoRunStore } from '../../lib/aws/run-store.ts';
import type { WorkerAssignment } from '../../lib/domain/assignment.ts';
import type { BuildSpec } from '../../lib/domain/build-spec.ts';
import { newBuildRun, transition, update } from '../../lib/domain/lifecycle.ts';
import { ARTIFACT_BUILDER_PROFILE, workerProfileFields } from '../../worker-image/src/profile.ts';
import { type WorkerResult, WorkerResultSchema, workerResultKey } from '../../worker-image/src/result.ts';
import { startDynalite } from '../support/dynalite.ts';

/**
 * The worker program end to end, as the local stack runs it: a child process with the env
 * contract, against real dynalite, real s3rver, a real bare repository and the real Go template.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'worker-image/src/main.ts');
/** Set to a bundle from `node worker-image/src/bundle.mjs <out>` to run the image's entry instead. */
const BUNDLE = process.env.WORKER_TEST_BUNDLE;
const STAGING = 'test-staging';
const EVIDENCE = 'test-evidence';
const CREATED_AT = '2025-06-01T12:00:00.000Z';
const SECRET = 'worker-test-secret-8c1f3d2a9b';
const FIXED_STAGES = new Set(['implementing_web', 'implementing_binary', 'implementing', 'building']);
let runCounter = 0;

let root: string;
let bareDir: string;
let repo: RepoStore;
let db: Awaited<ReturnType<typeof startDynalite>>;
let s3rver: S3rver;
let s3: S3Client;
let s3Endpoint: string;
let goCache: string;

function newTestRunId(): string {
  runCounter++;
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return `run_${letters[runCounter]!.repeat(20)}${'234567'}`;
}

function git(...args: string[]): string {
  return execFileSync('git', args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: root, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' },
  }).trim();
}

function tipSpec(overrides: Partial<BuildSpec> = {}): BuildSpec {
  return {
    title: 'Dinner Tip Calculator',
    summary: 'Works out the tip and splits the bill between friends.',
    requestText: 'I need a tip calculator that splits the bill between friends, as a web app and a binary.',
    artifactType: 'both',
    platforms: ['linux-amd64'],
    recipe: 'tip-calculator',
    features: ['Tip percentage', 'Split between people'],
    outOfScope: [],
    complexity: 'small',
    ...overrides,
  };
}

async function prepare(
  runId: string,
  spec: BuildSpec,
  overrides: Partial<WorkerAssignment> = {},
): Promise<{ branch: string; baseCommit: string }> {
  const ensured = await repo.ensureBranch({ runId, createdAt: CREATED_AT });
  const assignment: WorkerAssignment = {
    runId,
    taskRef: `task_${runId.slice(4)}`,
    workerId: 'worker-local',
    attempt: 1,
    maxAttempts: 3,
    branch: ensured.branch,
    artifactType: spec.artifactType,
    spec,
    platforms: spec.platforms,
    ...workerProfileFields(),
    ...overrides,
  };
  await holdAttempt(runId, assignment.attempt, assignment.workerId);
  await s3.send(
    new PutObjectCommand({
      Bucket: STAGING,
      Key: keys.assignment(runId, assignment.attempt),
      Body: JSON.stringify(assignment),
      ContentType: 'application/json',
    }),
  );
  return { branch: ensured.branch, baseCommit: ensured.commit };
}

/**
 * Records the attempt on the run as AssignWorker does (`worker_running`, attempt, worker id): the
 * worker checks this lease before it starts, uploads and pushes.
 */
async function holdAttempt(runId: string, attempt: number, workerId: string): Promise<void> {
  const store = new DynamoRunStore(db.doc, db.tableName);
  let run = await store.getRun(runId);
  if (!run) {
    const draft = newBuildRun(
      { sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa', emailVerified: false },
      CREATED_AT,
      runId,
    );
    run = transition(transition(draft, 'quoted', {}, CREATED_AT), 'authorized', {}, CREATED_AT);
    run = transition(transition(run, 'repo_ready', {}, CREATED_AT), 'worker_running', {}, CREATED_AT);
    await store.createRun(run);
  }
  await store.saveRun(update(run, { attempts: attempt, workerId }, CREATED_AT), run);
}

interface WorkerRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function startWorker(runId: string, extraEnv: Record<string, string> = {}) {
  const args = BUNDLE ? ['--enable-source-maps', BUNDLE] : ['--import', 'tsx', MAIN];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: join(root, 'home'),
      RUN_ID: runId,
      ATTEMPT: '1',
      TABLE_NAME: db.tableName,
      STAGING_BUCKET: STAGING,
      EVIDENCE_BUCKET: EVIDENCE,
      REPO_DIR: bareDir,
      WORK_DIR: join(root, 'work'),
      GOCACHE: goCache,
      WORKER_TIMEOUT_SECONDS: '300',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      OPENAI_API_KEY: SECRET,
      AWS_ENDPOINT_URL_S3: s3Endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      ...(BUNDLE ? { RECIPES_DIR: join(ROOT, 'worker-image/recipes') } : {}),
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const done = new Promise<WorkerRun>((resolveRun) => {
    child.on('close', (code, signal) => resolveRun({ code, signal, stdout, stderr }));
  });
  return { child, done, stderr: () => stderr };
}

async function listKeys(bucket: string, prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

async function readText(bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body!.transformToString('utf8');
}

async function readResult(runId: string, attempt = 1): Promise<WorkerResult> {
  return WorkerResultSchema.parse(JSON.parse(await readText(EVIDENCE, workerResultKey(runId, attempt))));
}

async function progressStages(runId: string): Promise<string[]> {
  const store = new DynamoRunStore(db.doc, db.tableName);
  const { events } = await store.listEvents(runId, 0, 100);
  return events.map((e) => {
    expect(e.type).toBe('bus.build.progress.updated');
    return e.type === 'bus.build.progress.updated' ? e.data.stage : '';
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'worker-int-'));
  await mkdir(join(root, 'home'));
  await mkdir(join(root, 'work'));
  await mkdir(join(root, 's3'));
  goCache =
    process.env.GOCACHE ||
    execFileSync('go', ['env', 'GOCACHE'], { encoding: 'utf8' }).trim() ||
    join(root, 'go');

  db = await startDynalite('worker-test-runs');
  s3rver = new S3rver({ port: 0, address: '127.0.0.1', directory: join(root, 's3'), silent: true });
  const address: AddressInfo = await s3rver.run();
  s3Endpoint = `http://127.0.0.1:${address.port}`;
  s3 = new S3Client({
    endpoint: s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  for (const bucket of [STAGING, EVIDENCE]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));

  bareDir = join(root, 'repos', 'template.git');
  repo = new RepoStore({ bareDir });
  await repo.initTemplate({ templateDir: join(ROOT, 'template-repo') });
});

afterAll(async () => {
  await s3rver?.close();
  await db?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('worker program (child process, local emulators)', () => {
  it('builds a tip calculator, uploads only dist/, records evidence and pushes the branch', async () => {
    const runId = newTestRunId();
    const { branch, baseCommit } = await prepare(runId, tipSpec());
    // Left by an earlier run of the same attempt: the worker clears the prefix before uploading.
    await s3.send(
      new PutObjectCommand({
        Bucket: STAGING,
        Key: keys.candidate(runId, 1, 'web/stale.go'),
        Body: 'package x',
      }),
    );

    const run = await startWorker(runId).done;
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toMatchObject({ ok: true });

    const prefix = keys.candidatePrefix(runId, 1);
    const candidates = await listKeys(STAGING, prefix);
    const rel = candidates.map((k) => k.slice(prefix.length));
    expect(rel).toContain('artifact-manifest.json');
    expect(rel).toContain('web/index.html');
    expect(rel.filter((r) => r.startsWith('bin/'))).toEqual(['bin/dinner-tip-calculator-linux-amd64']);
    expect(rel.some((r) => /\.(go|ts|map)$|go\.mod$/.test(r))).toBe(false);
    expect(await listKeys(STAGING, 'candidates/')).toEqual(candidates);

    const manifest = JSON.parse(await readText(STAGING, `${prefix}artifact-manifest.json`));
    expect(manifest.run_id).toBe(runId);
    expect(manifest.artifacts.map((a: { artifact_id: string }) => a.artifact_id).sort()).toEqual([
      'bin-linux-amd64',
      'web',
    ]);
    const head = await s3.send(new GetObjectCommand({ Bucket: STAGING, Key: `${prefix}web/index.html` }));
    expect(head.ContentType).toMatch(/^text\/html/);

    const result = await readResult(runId);
    expect(result).toMatchObject({ ok: true });
    expect(result.commit).toMatch(/^[0-9a-f]{40}$/);
    // Render evidence: the worker's digest of the web files it rendered is the manifest's (the gate's).
    const webEntry = manifest.artifacts.find((a: { kind: string }) => a.kind === 'web');
    expect(result.render).toEqual([
      { artifact_id: 'web', status: expect.stringMatching(/^(passed|skipped)$/), digest: webEntry.sha256 },
    ]);
    const workerLog = await readText(EVIDENCE, keys.workerLog(runId, 1));
    expect(workerLog).toContain('go test ./...');
    expect(workerLog).toContain('worker: pushed');
    expect(workerLog).not.toContain(SECRET);
    expect(run.stderr).not.toContain(SECRET);

    const tip = git('--git-dir', bareDir, 'rev-parse', `refs/heads/${branch}`);
    expect(tip).toBe(result.commit);
    expect(tip).not.toBe(baseCommit);
    expect(git('--git-dir', bareDir, 'rev-parse', `${tip}^`)).toBe(baseCommit);
    expect(git('--git-dir', bareDir, 'log', '-1', '--format=%an <%ae>', tip)).toBe(
      'BusDK Worker <worker@busdk.invalid>',
    );
    const files = git('--git-dir', bareDir, 'ls-tree', '-r', '--name-only', tip).split('\n');
    expect(files).toContain('tool/tool.go');
    expect(files.some((f) => f.startsWith('dist/'))).toBe(false);

    const stages = await progressStages(runId);
    expect(stages).toEqual(['implementing', 'building']);
    expect(stages.every((s) => FIXED_STAGES.has(s))).toBe(true);

    // The scratch worktree is removed after the attempt.
    expect(await readdir(join(root, 'work'))).toEqual([]);
  }, 240_000);

  // COMMAND_USER: the worker (root here, as on CI) runs the real Go tests and build as another,
  // unprivileged uid. Its own work directory (the test root is 0700) and a Go cache of that user.
  it.skipIf(process.getuid?.() !== 0)(
    'with COMMAND_USER, runs the Go tests and build as that user, who cannot read the worker',
    async () => {
      const user = { uid: 64124, gid: 64124 };
      const userRoot = await mkdtemp(join(tmpdir(), 'worker-int-user-'));
      try {
        await chmod(userRoot, 0o711);
        const work = join(userRoot, 'work');
        await mkdir(work);
        // The user's own Go cache, kept between test runs (cold, the build takes ~30 s): nothing
        // else uses it, and no root-owned file goes into a cache other tests share.
        const userCache = join(tmpdir(), `busdk-worker-test-go-build-${user.uid}`);
        await mkdir(userCache, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
        const cacheInfo = await lstat(userCache);
        if (!cacheInfo.isDirectory() || cacheInfo.isSymbolicLink())
          throw new Error(`${userCache} is not a directory`);
        await chown(userCache, user.uid, user.gid);
        const runId = newTestRunId();
        await prepare(runId, tipSpec(), {
          testCommands: [
            ...ARTIFACT_BUILDER_PROFILE.testCommands,
            [
              'sh',
              '-c',
              // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
              'test "$(id -u):$(id -g)" = "64124:64124" && ! cat "/proc/$PPID/environ" && echo "ppid:${PPID}"',
            ],
          ],
        });
        const run = await startWorker(runId, {
          COMMAND_USER: `${user.uid}:${user.gid}`,
          WORK_DIR: work,
          GOCACHE: userCache,
        }).done;
        expect(run.code, run.stderr).toBe(0);
        expect(await readResult(runId)).toMatchObject({ ok: true });
        const prefix = keys.candidatePrefix(runId, 1);
        const rel = (await listKeys(STAGING, prefix)).map((k) => k.slice(prefix.length));
        expect(rel).toContain('artifact-manifest.json');
        expect(rel).toContain('web/index.html');
        expect(rel).toContain('bin/dinner-tip-calculator-linux-amd64');
        const workerLog = await readText(EVIDENCE, keys.workerLog(runId, 1));
        expect(workerLog).toContain(`worker: commands run as uid ${user.uid} gid ${user.gid}`);
        expect(workerLog).toMatch(/Permission denied/);
        // The render check ran (Chromium launched as the command user) and passed.
        expect(workerLog).toContain('render: web: passed');
        expect(workerLog).toContain('worker: pushed');
        expect(workerLog).not.toContain(SECRET);
        // Go wrote its cache as that user; the attempt's directory is gone.
        const entries = await readdir(userCache);
        expect(entries.length).toBeGreaterThan(1);
        expect((await stat(join(userCache, entries.find((e) => e !== 'trim.txt')!))).uid).toBe(user.uid);
        expect(await readdir(work)).toEqual([]);
      } finally {
        await rm(userRoot, { recursive: true, force: true });
      }
    },
    240_000,
  );

  it('exits 2 with no_matching_recipe and uploads nothing when no recipe fits', async () => {
    const runId = newTestRunId();
    const spec = tipSpec({
      title: 'Space Sim',
      summary: 'A multiplayer spaceship flight simulator.',
      requestText: 'Build a multiplayer spaceship flight simulator with 3D graphics',
      artifactType: 'web',
    });
    delete spec.recipe;
    const { branch, baseCommit } = await prepare(runId, spec);

    const run = await startWorker(runId).done;
    expect(run.code, run.stderr).toBe(2);
    const result = await readResult(runId);
    expect(result).toMatchObject({ ok: false, code: 'no_matching_recipe' });
    expect(await listKeys(STAGING, keys.candidatePrefix(runId, 1))).toEqual([]);
    expect(await listKeys(EVIDENCE, `runs/${runId}/1/`)).toEqual([
      `runs/${runId}/1/result.json`,
      `runs/${runId}/1/worker.log`,
    ]);
    expect(git('--git-dir', bareDir, 'rev-parse', `refs/heads/${branch}`)).toBe(baseCommit);
    expect(await progressStages(runId)).toEqual(['implementing_web']);
  }, 120_000);

  it('exits 1 with tests_failed when a test command fails, uploads nothing and keeps the work for the repair', async () => {
    const runId = newTestRunId();
    const spec = tipSpec({ artifactType: 'binary' });
    const { branch, baseCommit } = await prepare(runId, spec, {
      // The command environment is an allow-list: no credentials or API keys reach coder code.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a JS template
      testCommands: [['sh', '-c', 'echo "env:${OPENAI_API_KEY:-none}:${AWS_ACCESS_KEY_ID:-none}"; exit 3']],
    });

    const run = await startWorker(runId).done;
    expect(run.code, run.stderr).toBe(1);
    const result = await readResult(runId);
    expect(result).toMatchObject({ ok: false, code: 'tests_failed' });
    expect(result.reason).toContain('exited with code 3');
    expect(result.reason).toContain('env:none:none');
    expect(await listKeys(STAGING, keys.candidatePrefix(runId, 1))).toEqual([]);
    expect(await progressStages(runId)).toEqual(['implementing_binary', 'building']);

    // The failed attempt's work is kept on the branch (not its build outputs) for the repair.
    const kept = git('--git-dir', bareDir, 'rev-parse', `refs/heads/${branch}`);
    expect(kept).not.toBe(baseCommit);
    expect(result.commit).toBe(kept);
    expect(git('--git-dir', bareDir, 'log', '-1', '--format=%s', kept)).toMatch(
      /attempt 1 .*failed: tests_failed/,
    );
    expect(git('--git-dir', bareDir, 'rev-parse', `${kept}^`)).toBe(baseCommit);
    const tree = git('--git-dir', bareDir, 'ls-tree', '-r', '--name-only', kept).split('\n');
    expect(tree).toContain('tool/tool.go');
    expect(tree.some((f) => f.startsWith('dist/'))).toBe(false);

    // The repair attempt starts from that work, not from the template, and builds on top of it.
    await prepare(runId, spec, {
      attempt: 2,
      previousFailure: 'tests_failed: exited with code 3',
    });
    const repair = await startWorker(runId, { ATTEMPT: '2' }).done;
    expect(repair.code, repair.stderr).toBe(0);
    const repaired = await readResult(runId, 2);
    expect(repaired.ok).toBe(true);
    const log2 = await readText(EVIDENCE, `runs/${runId}/2/worker.log`);
    expect(log2).toContain(`cloned the build branch at ${kept}`);
    git('--git-dir', bareDir, 'merge-base', '--is-ancestor', kept, repaired.commit!);
  }, 240_000);

  it('on SIGTERM kills the running command, records the stop and exits 1', async () => {
    const runId = newTestRunId();
    const marker = '987.654';
    await prepare(runId, tipSpec({ artifactType: 'web' }), { testCommands: [['sleep', marker]] });

    const worker = startWorker(runId);
    const sleeping = () =>
      execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
        .split('\n')
        .some((line) => line.trim() === `sleep ${marker}`);
    const started = Date.now();
    while (!worker.stderr().includes(`$ sleep ${marker}`) || !sleeping()) {
      if (Date.now() - started > 60_000) throw new Error(`the command never started:\n${worker.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    worker.child.kill('SIGTERM');
    const run = await worker.done;
    expect(run.code, run.stderr).toBe(1);
    expect(sleeping()).toBe(false);
    const result = await readResult(runId);
    expect(result).toMatchObject({ ok: false, code: 'internal' });
    expect(result.reason).toContain('SIGTERM');
    expect(await listKeys(STAGING, keys.candidatePrefix(runId, 1))).toEqual([]);
    expect(await readText(EVIDENCE, keys.workerLog(runId, 1))).toContain(`$ sleep ${marker}`);
  }, 120_000);

  it('stops at WORKER_TIMEOUT_SECONDS when a step hangs, records the timeout and exits 1', async () => {
    const runId = newTestRunId();
    await prepare(runId, tipSpec({ artifactType: 'web' }));
    // A "DynamoDB" that accepts connections and never answers: the first progress write hangs.
    const sockets = new Set<Socket>();
    const blackhole = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    const { port } = blackhole.address() as AddressInfo;
    try {
      const started = Date.now();
      const run = await startWorker(runId, {
        WORKER_TIMEOUT_SECONDS: '3',
        AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}`,
      }).done;
      expect(run.code, run.stderr).toBe(1);
      expect(Date.now() - started).toBeLessThan(20_000);
      const result = await readResult(runId);
      expect(result).toEqual({ ok: false, code: 'internal', reason: 'the worker timed out after 3 s' });
      expect(await listKeys(STAGING, keys.candidatePrefix(runId, 1))).toEqual([]);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => blackhole.close(() => r()));
    }
  }, 60_000);

  it('a clone that fails is an infrastructure failure (retried by the orchestrator, never repaired)', async () => {
    const runId = newTestRunId();
    await prepare(runId, tipSpec({ artifactType: 'web' }));
    const run = await startWorker(runId, { REPO_DIR: join(root, 'repos', 'missing.git') }).done;
    expect(run.code).toBe(1);
    expect(await readResult(runId)).toMatchObject({
      ok: false,
      code: 'infrastructure',
      reason: 'the build branch could not be cloned',
      workerId: 'worker-local',
    });
  }, 60_000);

  it('a worker whose attempt went stale mid-build uploads nothing, pushes nothing and reports no result', async () => {
    const runId = newTestRunId();
    const marker = join(root, `${runId}.testing`);
    const { branch, baseCommit } = await prepare(runId, tipSpec({ artifactType: 'web' }), {
      testCommands: [['sh', '-c', `touch '${marker}' && sleep 3`]],
    });
    const worker = startWorker(runId);
    const until = Date.now() + 60_000;
    while (!(await stat(marker).catch(() => undefined))) {
      if (Date.now() > until) throw new Error(`the worker never ran its tests: ${worker.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Meanwhile the orchestrator moved on: a newer attempt with another worker holds the run.
    await holdAttempt(runId, 2, 'worker-newer');
    const run = await worker.done;
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toMatchObject({
      ok: false,
      code: 'stale_attempt',
    });
    expect(run.stderr).toContain('stale attempt before the upload');
    expect(await listKeys(STAGING, keys.candidatePrefix(runId, 1))).toEqual([]);
    expect(await listKeys(EVIDENCE, `runs/${runId}/1/`)).toEqual([keys.workerLog(runId, 1)]);
    expect(git('--git-dir', bareDir, 'rev-parse', `refs/heads/${branch}`)).toBe(baseCommit);
  }, 120_000);

  it('a worker whose attempt goes stale while a step hangs stops itself (LEASE_CHECK_SECONDS)', async () => {
    const runId = newTestRunId();
    const marker = join(root, `${runId}.hanging`);
    await prepare(runId, tipSpec({ artifactType: 'web' }), {
      testCommands: [['sh', '-c', `touch '${marker}' && sleep 300`]],
    });
    const worker = startWorker(runId, { LEASE_CHECK_SECONDS: '1' });
    const until = Date.now() + 60_000;
    while (!(await stat(marker).catch(() => undefined))) {
      if (Date.now() > until) throw new Error(`the worker never ran its tests: ${worker.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const staleAt = Date.now();
    await holdAttempt(runId, 2, 'worker-newer');
    const run = await worker.done;
    expect(Date.now() - staleAt).toBeLessThan(30_000); // not the 300 s the step would have taken
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('stale attempt: the run is at attempt 2, not 1');
    expect(await listKeys(EVIDENCE, `runs/${runId}/1/`)).toEqual([keys.workerLog(runId, 1)]);
  }, 120_000);

  it('exposes the worker profile the orchestrator copies into assignments', () => {
    expect(ARTIFACT_BUILDER_PROFILE.manifestPath).toBe('dist/artifact-manifest.json');
    expect(ARTIFACT_BUILDER_PROFILE.buildCommands).toEqual([['go', 'run', './tools/build']]);
  });
});
