/**
 * The orchestrator's task handlers in the order of the state machine, against real emulators:
 * dynalite (run store), s3rver (staging, evidence and artifact buckets), a real bare template
 * repository, and the real verification gate on a real Go binary and web app. The worker is
 * simulated by uploading a hand-made candidate to the staging prefix.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as assignWorker } from '../../functions/orchestrator/assign-worker.ts';
import { setOrchestratorDeps } from '../../functions/orchestrator/deps.ts';
import { handler as failRun } from '../../functions/orchestrator/fail-run.ts';
import { handler as prepareBranch } from '../../functions/orchestrator/prepare-branch.ts';
import { handler as publish } from '../../functions/orchestrator/publish.ts';
import { handler as recordWorkerFailure } from '../../functions/orchestrator/record-worker-failure.ts';
import { handler as verifyArtifacts } from '../../functions/orchestrator/verify-artifacts.ts';
import { approveRun } from '../../lib/app/approve-run.ts';
import type { OrchestratorDeps } from '../../lib/app/orchestrator/deps.ts';
import type { BuildState } from '../../lib/app/orchestrator/state.ts';
import { S3ArtifactStore } from '../../lib/aws/artifact-store.ts';
import { resetClients, s3Client } from '../../lib/aws/clients.ts';
import { NoopPublisher } from '../../lib/aws/event-publisher.ts';
import { keys } from '../../lib/aws/keys.ts';
import { RepoStore } from '../../lib/aws/repo-store.ts';
import { DynamoRunStore } from '../../lib/aws/run-store.ts';
import { WorkerAssignmentSchema } from '../../lib/domain/assignment.ts';
import { newBuildRun, transition } from '../../lib/domain/lifecycle.ts';
import type { ManifestEntry } from '../../lib/domain/manifest.ts';
import { toPublicEvent, toPublicRun } from '../../lib/domain/projection.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { FAILURE_SENTENCES } from '../../lib/domain/status.ts';
import { detectHostPlatform, hashDirectory, sha256File } from '../../lib/verify/index.ts';
import { ARTIFACT_BUILDER_PROFILE } from '../../worker-image/src/profile.ts';
import { startDynalite } from '../support/dynalite.ts';

process.env.LOG_LEVEL = 'silent';

const HOST = detectHostPlatform() ?? 'linux-amd64';
const BUCKETS = { staging: 'it-staging', evidence: 'it-evidence', artifacts: 'it-artifacts' };
// Quoted runs carry a confirmed contact address: approval refuses a run without one.
const OWNER = {
  sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa',
  email: 'visitor@example.org',
  emailVerified: true,
};
const ASL = JSON.parse(await readFile('state-machines/build-run.asl.json', 'utf8')) as {
  States: Record<
    string,
    { Choices?: { And?: { Variable: string; BooleanEquals?: boolean; NumericLessThanPath?: string }[] }[] }
  >;
};

let root: string;
let db: Awaited<ReturnType<typeof startDynalite>>;
let s3rver: S3rver;
let store: DynamoRunStore;
let deps: OrchestratorDeps;
let binary: Buffer;
const started: string[] = [];

/** JSON round trip, as between Step Functions states. */
const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
/** The `CanRepair` Choice of the ASL. */
const canRepair = (s: BuildState) => s.repairable === true && s.attempt < s.maxAttempts;

function buildGoBinary(dir: string): string {
  const src = path.join(dir, 'gosrc');
  execFileSync('mkdir', ['-p', src]);
  execFileSync('sh', [
    '-c',
    `cat > "${src}/go.mod" <<'E'\nmodule example.com/tool\n\ngo 1.19\nE\ncat > "${src}/main.go" <<'E'\npackage main\n\nimport "fmt"\n\nfunc main() { fmt.Println("usage: tip [--help] [--version]") }\nE`,
  ]);
  const [goos, goarch] = HOST.split('-') as [string, string];
  const out = path.join(dir, 'tip-bin');
  execFileSync('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', out, '.'], {
    cwd: src,
    env: {
      ...process.env,
      CGO_ENABLED: '0',
      GOOS: goos,
      GOARCH: goarch,
      GOFLAGS: '-mod=mod',
      GO111MODULE: 'on',
    },
    stdio: 'pipe',
  });
  return out;
}

const WEB: Record<string, string> = {
  'index.html':
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Tip</title><link rel="stylesheet" href="style.css"></head>\n<body><h1>Tip calculator</h1><script src="app.js"></script></body></html>\n',
  'app.js': 'document.querySelector("h1").textContent = "Tip calculator ready";\n',
  'style.css': 'body { font-family: sans-serif; }\n',
};
const BIN_REL = `bin/tip-${HOST}`;

/** The worker's part: builds a candidate (dist/ layout) and uploads it to the staging prefix. */
async function uploadCandidate(
  runId: string,
  attempt: number,
  opts: { corrupt?: boolean; smuggle?: 'source' | 'escape' } = {},
) {
  const dist = await mkdtemp(path.join(root, 'dist-'));
  await mkdir(path.join(dist, 'web'), { recursive: true });
  await mkdir(path.join(dist, 'bin'), { recursive: true });
  // A worker that slips its source into the web app (hashed, so the checksums still match).
  const web: Record<string, string> =
    opts.smuggle === 'source' ? { ...WEB, 'main.go': 'package main\n\nfunc main() {}\n' } : WEB;
  for (const [rel, body] of Object.entries(web)) await writeFile(path.join(dist, 'web', rel), body);
  await writeFile(path.join(dist, BIN_REL), binary, { mode: 0o755 });
  const webHash = await hashDirectory(path.join(dist, 'web'));
  const entries: ManifestEntry[] = [
    {
      artifact_id: 'web',
      kind: 'web',
      name: 'Tip calculator',
      path: 'web',
      sha256: webHash.sha256,
      size_bytes: webHash.sizeBytes,
      entrypoint: 'index.html',
      source_included: false,
    },
    {
      artifact_id: `bin-${HOST}`,
      kind: 'binary',
      name: `tip-${HOST}`,
      // A manifest path that escapes the candidate root.
      path: opts.smuggle === 'escape' ? `../../${BIN_REL}` : BIN_REL,
      sha256: opts.corrupt ? 'f'.repeat(64) : await sha256File(path.join(dist, BIN_REL)),
      size_bytes: binary.length,
      platform: HOST,
      source_included: false,
    },
  ];
  const files: Record<string, Buffer | string> = {
    ...Object.fromEntries(Object.entries(web).map(([rel, body]) => [`web/${rel}`, body])),
    [BIN_REL]: binary,
    'artifact-manifest.json': JSON.stringify(
      { schema_version: 1, run_id: runId, artifacts: entries },
      null,
      2,
    ),
  };
  for (const [rel, body] of Object.entries(files)) {
    await s3Client().send(
      new PutObjectCommand({ Bucket: BUCKETS.staging, Key: keys.candidate(runId, attempt, rel), Body: body }),
    );
  }
  await rm(dist, { recursive: true, force: true });
}

async function quotedRun(): Promise<BuildRun> {
  const draft = newBuildRun(OWNER, new Date().toISOString());
  const run = transition(
    draft,
    'quoted',
    {
      artifactType: 'both',
      spec: {
        title: 'Tip calculator',
        summary: 'Works out the tip and splits the bill.',
        requestText: 'I need a tip calculator',
        artifactType: 'both',
        platforms: [HOST],
        recipe: 'tip-calculator',
        features: ['Tip percentage', 'Split between people'],
        outOfScope: ['Accounts'],
        complexity: 'small',
      },
      quote: {
        version: 1,
        amountCents: 4900,
        currency: 'eur',
        artifactType: 'both',
        platforms: [HOST],
        lineItems: [{ label: 'Tool', amountCents: 4900 }],
        delivery: 'Preview and downloads',
        createdAt: draft.createdAt,
      },
    },
    draft.createdAt,
  );
  await store.createRun(run);
  return run;
}

async function approve(runId: string) {
  const starter = {
    start: async (name: string) => {
      if (started.includes(name)) return { started: false };
      started.push(name);
      return { started: true };
    },
  };
  return approveRun(
    { store, publisher: new NoopPublisher(), starter, now: () => new Date().toISOString() },
    runId,
    {
      actor: 'operator@busdk.test',
      method: 'manual',
    },
  );
}

async function eventsOf(runId: string) {
  return (await store.listEvents(runId, 0, 1000)).events;
}
const typesOf = async (runId: string) =>
  (await eventsOf(runId)).map((e) =>
    e.type === 'bus.build.progress.updated' ? `progress:${e.data.stage}` : e.type,
  );

async function listKeys(bucket: string, prefix: string): Promise<string[]> {
  const out = await s3Client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key as string).sort();
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'orch-int-'));
  binary = await readFile(buildGoBinary(root));
  db = await startDynalite();
  s3rver = new S3rver({ port: 0, address: '127.0.0.1', directory: path.join(root, 's3'), silent: true });
  const { port } = (await s3rver.run()) as AddressInfo;
  process.env.AWS_ENDPOINT_URL_S3 = `http://127.0.0.1:${port}`;
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  resetClients();
  for (const b of Object.values(BUCKETS)) await s3Client().send(new CreateBucketCommand({ Bucket: b }));

  const templateDir = path.join(root, 'template');
  await mkdir(templateDir, { recursive: true });
  await writeFile(path.join(templateDir, 'go.mod'), 'module artifact\n\ngo 1.19\n');
  await writeFile(path.join(templateDir, 'main.go'), 'package main\n\nfunc main() {}\n');
  const repos = new RepoStore({ bareDir: path.join(root, 'repos', 'template.git') });
  await repos.initTemplate({ templateDir });

  store = new DynamoRunStore(db.doc, db.tableName);
  deps = {
    store,
    publisher: new NoopPublisher(),
    artifacts: new S3ArtifactStore(s3Client(), BUCKETS),
    repos,
    maxAttempts: 3,
    profile: ARTIFACT_BUILDER_PROFILE,
    verifySettings: { hostPlatform: HOST },
    tempDir: root,
    now: () => new Date().toISOString(),
  };
  setOrchestratorDeps(deps);
});

afterAll(async () => {
  setOrchestratorDeps(undefined);
  await s3rver?.close();
  await db?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('build run through the task handlers (dynalite + s3rver + real verification)', () => {
  it('the ASL CanRepair choice is what this test simulates', () => {
    expect(ASL.States.CanRepair?.Choices?.[0]?.And).toEqual([
      { Variable: '$.repairable', BooleanEquals: true },
      { Variable: '$.attempt', NumericLessThanPath: '$.maxAttempts' },
    ]);
  });

  it('approve → prepare → assign → (worker) → verify → publish: verified artifact ready, nothing leaks', async () => {
    const run = await quotedRun();
    const approved = await approve(run.runId);
    expect(approved).toMatchObject({ started: true, alreadyStarted: false });
    expect(await approve(run.runId)).toMatchObject({ started: false, alreadyStarted: true });
    expect(started.filter((n) => n === run.runId)).toHaveLength(1);

    let state = wire(await prepareBranch({ runId: run.runId }));
    expect(state).toEqual({ runId: run.runId, attempt: 0, maxAttempts: 3 });
    state = wire(await assignWorker(state));
    expect(state.attempt).toBe(1);
    const assignment = WorkerAssignmentSchema.parse(
      await deps.artifacts.getJson('staging', keys.assignment(run.runId, 1)),
    );
    expect(assignment).toMatchObject({
      runId: run.runId,
      attempt: 1,
      artifactType: 'both',
      platforms: [HOST],
    });
    expect(assignment.branch).toMatch(new RegExp(`^build/\\d{8}/${run.runId}$`));

    await uploadCandidate(run.runId, 1);
    state = wire(await verifyArtifacts(state));
    expect(state.lastFailure).toBeUndefined();
    expect(state).toMatchObject({ passed: true, attempt: 1 });
    const report = (await deps.artifacts.getJson('evidence', keys.verification(run.runId, 1))) as {
      passed: boolean;
      checks: { name: string; passed: boolean }[];
    };
    expect(report.passed).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['files.integrity', 'smoke.binary', 'smoke.web']),
    );

    state = wire(await publish(state));
    expect(state.passed).toBe(true);
    // A retried Publish changes nothing.
    const before = await store.getRun(run.runId);
    await publish(state);
    expect((await store.getRun(run.runId))?.version).toBe(before?.version);

    const done = (await store.getRun(run.runId)) as BuildRun;
    expect(done.phase).toBe('artifact_ready');
    expect(done.payment.status).toBe('manual_approved');
    expect(await typesOf(run.runId)).toEqual([
      'bus.build.run.authorized',
      'bus.build.repo.ready',
      'bus.build.worker.assigned',
      'bus.build.artifact.submitted',
      'progress:verifying',
      'bus.build.artifact.verified',
      'progress:preview_ready',
      'progress:downloads_ready',
      'bus.build.version.published',
    ]);

    const published = await listKeys(BUCKETS.artifacts, `runs/${run.runId}/`);
    expect(published).toEqual(
      [
        keys.published(run.runId, 'web', 'index.html'),
        keys.published(run.runId, 'web', 'app.js'),
        keys.published(run.runId, 'web', 'style.css'),
        keys.published(run.runId, `bin-${HOST}`, `tip-${HOST}`),
      ].sort(),
    );
    const types: Record<string, string> = {
      'index.html': 'text/html; charset=utf-8',
      'app.js': 'text/javascript; charset=utf-8',
      'style.css': 'text/css; charset=utf-8',
    };
    for (const [rel, type] of Object.entries(types)) {
      const head = await s3Client().send(
        new HeadObjectCommand({ Bucket: BUCKETS.artifacts, Key: keys.published(run.runId, 'web', rel) }),
      );
      expect(head.ContentType).toBe(type);
    }
    const binKey = keys.published(run.runId, `bin-${HOST}`, `tip-${HOST}`);
    const bin = await s3Client().send(new GetObjectCommand({ Bucket: BUCKETS.artifacts, Key: binKey }));
    expect(bin.ContentType).toBe('application/octet-stream');
    expect(Buffer.from(await (bin.Body?.transformToByteArray() ?? new Uint8Array())).equals(binary)).toBe(
      true,
    );
    expect(done.artifacts.map((a) => [a.artifact_id, a.published_key])).toEqual([
      ['web', keys.published(run.runId, 'web', 'index.html')],
      [`bin-${HOST}`, binKey],
    ]);

    // The public projection: verified artifacts only, no internal detail.
    const publicJson = JSON.stringify({
      run: toPublicRun(done),
      events: (await eventsOf(run.runId)).map(toPublicEvent),
    });
    expect(toPublicRun(done).artifacts.map((a) => a.artifact_id)).toEqual(['web', `bin-${HOST}`]);
    for (const secret of [
      done.branch as string,
      done.taskRef,
      done.workerId as string,
      'candidates/',
      binKey,
      keys.published(run.runId, 'web', 'index.html'),
      BIN_REL,
      'operator@busdk.test',
      root,
    ]) {
      expect(publicJson).not.toContain(secret);
    }
  });

  it('checksum mismatch → repair loop with the failure reason → fails after maxAttempts as verification_failed', async () => {
    const run = await quotedRun();
    await approve(run.runId);
    let state = wire(await prepareBranch({ runId: run.runId }));
    const trail: number[] = [];
    for (;;) {
      state = wire(await assignWorker(state));
      trail.push(state.attempt);
      const current = (await store.getRun(run.runId)) as BuildRun;
      expect(current).toMatchObject({ phase: 'worker_running', attempts: state.attempt });
      const assignment = WorkerAssignmentSchema.parse(
        await deps.artifacts.getJson('staging', keys.assignment(run.runId, state.attempt)),
      );
      if (state.attempt === 1) expect(assignment.previousFailure).toBeUndefined();
      else expect(assignment.previousFailure).toContain('sha256 mismatch');

      await uploadCandidate(run.runId, state.attempt, { corrupt: true });
      state = wire(await verifyArtifacts(state));
      expect(state).toMatchObject({ passed: false, repairable: true, failureCode: 'verification_failed' });
      expect(state.lastFailure).toContain('files.integrity');
      if (!canRepair(state)) break;
    }
    expect(trail).toEqual([1, 2, 3]);
    state = wire(await failRun(state));

    const failed = (await store.getRun(run.runId)) as BuildRun;
    expect(failed.phase).toBe('failed');
    expect(failed.failure?.code).toBe('verification_failed');
    expect(failed.failure?.internalReason).toContain('sha256 mismatch');
    expect(failed.verification.map((v) => [v.attempt, v.passed])).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ]);
    expect(await typesOf(run.runId)).toEqual([
      'bus.build.run.authorized',
      'bus.build.repo.ready',
      'bus.build.worker.assigned',
      'bus.build.artifact.submitted',
      'progress:verifying',
      'bus.build.worker.assigned',
      'progress:repairing',
      'bus.build.artifact.submitted',
      'progress:verifying',
      'bus.build.worker.assigned',
      'progress:repairing',
      'bus.build.artifact.submitted',
      'progress:verifying',
      'bus.build.run.failed',
    ]);
    expect(await listKeys(BUCKETS.artifacts, `runs/${run.runId}/`)).toEqual([]);
    expect(await listKeys(BUCKETS.evidence, `runs/${run.runId}/`)).toEqual([
      keys.verification(run.runId, 1),
      keys.verification(run.runId, 2),
      keys.verification(run.runId, 3),
    ]);

    const pub = toPublicRun(failed);
    expect(pub.status_message).toBe(FAILURE_SENTENCES.verification_failed);
    const publicJson = JSON.stringify({ pub, events: (await eventsOf(run.runId)).map(toPublicEvent) });
    expect(publicJson).not.toContain('sha256 mismatch');
    expect(publicJson).not.toContain('files.integrity');
    expect(publicJson).toContain(FAILURE_SENTENCES.verification_failed);

    // A crashed worker on a fresh run: RecordWorkerFailure keeps the phase, the repair reassigns.
    const other = await quotedRun();
    await approve(other.runId);
    let s = wire(await assignWorker(wire(await prepareBranch({ runId: other.runId }))));
    s = wire(
      await recordWorkerFailure({
        ...s,
        workerError: { Error: 'States.TaskFailed', Cause: '{"StopCode":"EssentialContainerExited"}' },
      }),
    );
    expect(s).toMatchObject({ passed: false, repairable: true, failureCode: 'worker_failed' });
    expect((await store.getRun(other.runId))?.phase).toBe('worker_running');
    s = wire(await assignWorker(s));
    expect(s.attempt).toBe(2);
  });

  it.each([
    ['a source file', 'source' as const, /source/i],
    ['a path escape', 'escape' as const, /path|escape|\.\./i],
  ])('rejects a candidate with %s and publishes nothing', async (_name, smuggle, reason) => {
    const run = await quotedRun();
    await approve(run.runId);
    let state = wire(await assignWorker(wire(await prepareBranch({ runId: run.runId }))));
    await uploadCandidate(run.runId, state.attempt, { smuggle });
    state = wire(await verifyArtifacts(state));
    expect(state).toMatchObject({ passed: false, repairable: true, failureCode: 'verification_failed' });
    expect(state.lastFailure).toMatch(reason);
    expect(await listKeys(BUCKETS.artifacts, `runs/${run.runId}/`)).toEqual([]);
    const stored = (await store.getRun(run.runId)) as BuildRun;
    expect(stored.artifacts).toEqual([]);
    expect(JSON.stringify(toPublicRun(stored))).not.toContain('main.go');
  });
});
