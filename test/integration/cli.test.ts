import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepoStore, templateBareDir } from '../../lib/aws/repo-store.ts';
import { DynamoRunStore } from '../../lib/aws/run-store.ts';
import { branchName } from '../../lib/domain/branch.ts';
import { newEvent } from '../../lib/domain/events.ts';
import { newBuildRun } from '../../lib/domain/lifecycle.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { type LocalStackInfo, writeStackInfo } from '../../lib/local/stack-info.ts';
import { startDynalite } from '../support/dynalite.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const ENTRY = join(ROOT, 'bin', 'bus-build.ts');
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:bus-build-run';
const DAY = 24 * 60 * 60 * 1000;
// Quoted runs carry a confirmed contact address: approval refuses a run without one.
const owner = {
  sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa',
  email: 'visitor@example.org',
  emailVerified: true,
};

let db: Awaited<ReturnType<typeof startDynalite>>;
let store: DynamoRunStore;
let fake: FakeAws;
let dataDir: string;
let repo: RepoStore;

/** Objects the fake S3 serves (GET /bucket/key), e.g. worker results in the evidence bucket. */
const s3Objects = new Map<string, string>();

/** A stand-in for the Step Functions endpoint, the API's OpenAPI route and S3 bucket HEADs. */
interface FakeAws {
  url: string;
  server: Server;
  /** Names of the executions this endpoint started. */
  started: string[];
  /** Every StartExecution request, accepted or not. */
  startRequests: number;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((res) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => res(text));
  });
}

async function startFakeAws(): Promise<FakeAws> {
  const state = { started: [] as string[], startRequests: 0 };
  const server = createServer(async (req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const text = await body(req);
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify(value));
    };
    if (target === 'AWSStepFunctions.StartExecution') {
      state.startRequests++;
      const input = JSON.parse(text) as { name: string; stateMachineArn: string };
      if (state.started.includes(input.name))
        return json(400, {
          __type: 'ExecutionAlreadyExists',
          message: `Execution Already Exists: '${input.name}'`,
        });
      state.started.push(input.name);
      return json(200, {
        executionArn: `${input.stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.name}`,
        startDate: Date.now() / 1000,
      });
    }
    if (target === 'AWSStepFunctions.ListExecutions') return json(200, { executions: [] });
    if (req.method === 'GET' && req.url === '/api/v1/openapi.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"openapi":"3.1.0"}');
    }
    const object = req.method === 'GET' ? s3Objects.get((req.url ?? '').split('?')[0] ?? '') : undefined;
    if (object !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(object) });
      return res.end(object);
    }
    if (req.method === 'HEAD' && /^\/bus-build-(staging|artifacts|evidence)\/?$/.test(req.url ?? '')) {
      res.writeHead(200);
      return res.end();
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    get started() {
      return state.started;
    },
    get startRequests() {
      return state.startRequests;
    },
  };
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a child process (asynchronously: dynalite and the fake endpoint live here). */
function cli(...args: string[]): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  delete env.BUS_BUILD_TARGET;
  return new Promise((res) => {
    execFile(TSX, [ENTRY, ...args], { env, cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      res({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

function run(over: Partial<BuildRun>, createdAt = ago(50)): BuildRun {
  const base = newBuildRun(owner, createdAt);
  return { ...base, updatedAt: over.updatedAt ?? createdAt, ...over };
}

const SPEC = {
  title: 'Tip calculator',
  summary: 'A small tip calculator.',
  requestText: 'I need a tip calculator',
  artifactType: 'web' as const,
  platforms: [],
  recipe: 'tip-calculator',
  features: ['split the bill'],
  outOfScope: [],
  complexity: 'small' as const,
};
const SHA = 'a'.repeat(64);

const runs: Record<string, BuildRun> = {};

beforeAll(async () => {
  db = await startDynalite('cli-runs');
  store = new DynamoRunStore(db.doc, db.tableName);
  fake = await startFakeAws();
  dataDir = await mkdtemp(join(tmpdir(), 'cli-int-'));

  runs.quoted = run({
    phase: 'quoted',
    spec: SPEC,
    artifactType: 'web',
    // The visitor asked for manual approval: the operator must see the request in `runs`.
    payment: { status: 'manual_requested', method: 'manual', quoteVersion: 1 },
    quote: {
      version: 1,
      amountCents: 4900,
      currency: 'eur',
      artifactType: 'web',
      platforms: [],
      lineItems: [{ label: 'Web app', amountCents: 4900 }],
      delivery: 'minutes',
      createdAt: ago(1),
    },
    version: 2,
    updatedAt: ago(1.5),
  });
  runs.delivered = run({
    phase: 'delivered',
    spec: SPEC,
    artifactType: 'web',
    payment: { status: 'manual_approved', method: 'manual' },
    repoId: 'template',
    workerId: 'worker-local-1',
    attempts: 2,
    version: 9,
    updatedAt: ago(40),
    endedAt: ago(40),
    manifest: {
      schema_version: 1,
      artifacts: [
        {
          artifact_id: 'web',
          kind: 'web',
          name: 'Tip calculator',
          path: 'dist/web',
          sha256: SHA,
          size_bytes: 2048,
          entrypoint: 'index.html',
          source_included: false,
        },
      ],
    },
    artifacts: [
      {
        artifact_id: 'web',
        kind: 'web',
        name: 'Tip calculator',
        path: 'dist/web',
        sha256: SHA,
        size_bytes: 2048,
        entrypoint: 'index.html',
        source_included: false,
        published_key: 'runs/x/web/index.html',
        content_type: 'text/html; charset=utf-8',
        verified_at: ago(40),
      },
    ],
    verification: [
      {
        attempt: 1,
        passed: false,
        checks: [{ name: 'smoke_web', passed: false, detail: 'entry page was blank' }],
        internalReason: 'web smoke failed',
        at: ago(41),
      },
      { attempt: 2, passed: true, checks: [{ name: 'manifest_schema', passed: true }], at: ago(40) },
    ],
    evidence: [{ kind: 'worker_log', key: 'runs/x/2/worker.log', at: ago(40) }],
  });
  runs.delivered.branch = branchName(runs.delivered.runId, runs.delivered.createdAt);
  runs.recentFailed = run(
    {
      phase: 'failed',
      spec: SPEC,
      payment: { status: 'manual_approved', method: 'manual' },
      attempts: 3,
      failure: { code: 'verification_failed', internalReason: 'smoke failed 3 times', at: ago(1) },
      version: 12,
      updatedAt: ago(1),
      endedAt: ago(1),
    },
    ago(2),
  );
  runs.drafting = run({ phase: 'drafting', updatedAt: ago(0.5) }, ago(0.5));
  for (const r of Object.values(runs)) await store.createRun(r);
  await store.appendEvent(runs.delivered.runId, newEvent('bus.build.run.authorized', { method: 'manual' }));
  await store.appendEvent(
    runs.delivered.runId,
    newEvent('bus.build.repo.ready', { repoId: 'template', branch: runs.delivered.branch }),
  );
  await store.appendEvent(runs.delivered.runId, newEvent('bus.build.run.delivered', {}));

  // The template repository with the build branches of the two ended runs.
  const templateDir = join(dataDir, 'template');
  await mkdir(templateDir, { recursive: true });
  await writeFile(join(templateDir, 'main.go'), 'package main\n\nfunc main() {}\n');
  repo = new RepoStore({ bareDir: templateBareDir(dataDir) });
  await repo.initTemplate({ templateDir });
  await repo.ensureBranch(runs.delivered);
  await repo.ensureBranch(runs.recentFailed);

  const info: LocalStackInfo = {
    apiUrl: fake.url,
    dynamoEndpoint: db.endpoint,
    s3Endpoint: fake.url,
    sfnEndpoint: fake.url,
    stateMachineArn: STATE_MACHINE_ARN,
    region: 'us-east-1',
    tableName: db.tableName,
    buckets: {
      staging: 'bus-build-staging',
      artifacts: 'bus-build-artifacts',
      evidence: 'bus-build-evidence',
    },
    repoDir: templateBareDir(dataDir),
    dataDir,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  };
  await writeStackInfo(dataDir, info);
});

afterAll(async () => {
  await db?.stop();
  await new Promise((r) => fake?.server.close(r));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('bus-build against a local stack (child process)', () => {
  it('lists runs of all phases, newest first, as a table and as JSON', async () => {
    const table = await cli('runs');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/RUN ID\s+PHASE\s+TYPE\s+VERSION\s+ATTEMPTS/);
    for (const r of Object.values(runs)) expect(table.stdout).toContain(r.runId);
    expect(table.stdout).toContain('4 runs');
    // The PAYMENT column shows a pending approval request (and the others' payment state).
    const lines = table.stdout.split('\n');
    const at = lines[0]!.indexOf('PAYMENT');
    expect(at).toBeGreaterThan(0);
    const payment = (r: BuildRun) => {
      const line = lines.find((l) => l.startsWith(r.runId)) ?? '';
      return line.slice(at).split(/\s+/)[0];
    };
    expect(payment(runs.quoted!)).toBe('manual_requested');
    expect(payment(runs.delivered!)).toBe('manual_approved');
    expect(payment(runs.drafting!)).toBe('none');

    const json = await cli('runs', '--json');
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { runs: { runId: string; phase: string; payment: string }[] };
    expect(parsed.runs.find((r) => r.runId === runs.quoted!.runId)?.payment).toBe('manual_requested');
    expect(parsed.runs.map((r) => r.runId)).toEqual([
      runs.drafting!.runId,
      runs.recentFailed!.runId,
      runs.quoted!.runId,
      runs.delivered!.runId,
    ]);
  });

  it('filters runs by phase', async () => {
    const res = await cli('runs', '--phase', 'quoted', '--json');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).runs).toEqual([
      expect.objectContaining({ runId: runs.quoted!.runId, phase: 'quoted', title: 'Tip calculator' }),
    ]);
    const none = await cli('runs', '--phase', 'worker_running');
    expect(none).toMatchObject({ code: 0, stdout: 'No build runs in phase worker_running.\n' });
  });

  it('shows the full internal state: branch, worker, verification, evidence and events', async () => {
    const id = runs.delivered!.runId;
    // Attempt 1 stopped on its token budget; attempt 2 finished (result.json in the evidence bucket).
    const report = (stopped: string, left: number) => ({
      kind: 'model',
      coder: 'model (openai:gpt-coder)',
      steps: 12,
      toolCalls: 31,
      tokens: { input: 41000, cachedInput: 180000, cacheWrite: 0, output: 9000, budget: 68000 },
      limits: { maxSteps: 30, maxTokens: 600000, maxSeconds: 900 },
      left: { steps: 18, tokens: left, seconds: 400 },
      seconds: 500,
      progressReports: 4,
      stopped,
    });
    s3Objects.set(
      `/bus-build-evidence/runs/${id}/1/result.json`,
      JSON.stringify({
        ok: false,
        code: 'coder_failed',
        coder: report('budget exhausted: tokens (600100/600000)', 0),
      }),
    );
    s3Objects.set(
      `/bus-build-evidence/runs/${id}/2/result.json`,
      JSON.stringify({ ok: true, coder: report('finished', 532000) }),
    );
    const res = await cli('show', id);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`Build run ${id}`);
    expect(res.stdout).toContain(runs.delivered!.branch);
    expect(res.stdout).toContain('worker-local-1');
    expect(res.stdout).toMatch(/Verification\n\s+ATTEMPT/);
    expect(res.stdout).toContain('entry page was blank');
    expect(res.stdout).toContain('s3://bus-build-evidence/runs/x/2/worker.log');
    expect(res.stdout).toContain('bus.build.repo.ready');
    expect(res.stdout).toContain('bus.build.run.delivered');
    expect(res.stdout).toMatch(/Coder\n\s+ATTEMPT\s+CODER\s+STEPS/);
    expect(res.stdout).toMatch(
      /1\s+model \(openai:gpt-coder\)\s+12\s+31\s+in 41000 \/ cached 180000 \/ cache write 0 \/ out 9000 = 68000 of 600000\s+18 steps, 0 tokens, 400 s\s+4\s+budget exhausted: tokens/,
    );
    expect(res.stdout).toMatch(
      /2\s+model \(openai:gpt-coder\)[^\n]*18 steps, 532000 tokens, 400 s\s+4\s+finished/,
    );

    const json = JSON.parse((await cli('show', id, '--json')).stdout);
    expect(json.run).toMatchObject({ runId: id, branch: runs.delivered!.branch, workerId: 'worker-local-1' });
    expect(json.events.map((e: { seq: number }) => e.seq)).toEqual([1, 2, 3]);
    expect(json.execution).toBe(id);
    expect(json.evidence[0].location).toBe('s3://bus-build-evidence/runs/x/2/worker.log');
    expect(
      json.coders.map((c: { attempt: number; report: { stopped: string } }) => c.report.stopped),
    ).toEqual(['budget exhausted: tokens (600100/600000)', 'finished']);
  });

  it('lists manifests, verified artifacts and verification results', async () => {
    const id = runs.delivered!.runId;
    const res = await cli('artifacts', id);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Manifest \(last submitted\)\n\s+ID\s+KIND/);
    expect(res.stdout).toContain('dist/web');
    expect(res.stdout).toContain('s3://bus-build-artifacts/runs/x/web/index.html');
    expect(res.stdout).toContain('smoke_web');
    const json = JSON.parse((await cli('artifacts', id, '--json')).stdout);
    expect(json.manifest.artifacts[0].artifact_id).toBe('web');
    expect(json.artifacts[0]).toMatchObject({ content_type: 'text/html; charset=utf-8' });
    expect(json.verification).toHaveLength(2);
  });

  it('fails with exit 1 for an unknown run and exit 2 for a usage error', async () => {
    const unknown = await cli('show', 'run_zzzzzzzzzzzzzzzzzzzzzzzzzz');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Build run run_zzzzzzzzzzzzzzzzzzzzzzzzzz was not found.');
    expect(unknown.stdout).toBe('');
    const usage = await cli('runs', '--phase', 'nope');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--phase must be one of');
    const notApprovable = await cli('approve', runs.drafting!.runId);
    expect(notApprovable.code).toBe(1);
    expect(notApprovable.stderr).toContain('no quote to approve');
  });

  it('approves a quoted run once: authorized, one execution; a repeat is a no-op', async () => {
    const id = runs.quoted!.runId;
    const first = await cli('approve', id, '--json');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({
      runId: id,
      phase: 'authorized',
      started: true,
      alreadyStarted: false,
      execution: id,
    });
    const stored = await store.getRun(id);
    expect(stored).toMatchObject({
      phase: 'authorized',
      payment: { status: 'manual_approved', method: 'manual' },
    });
    const { events } = await store.listEvents(id, 0, 10);
    expect(events).toEqual([
      expect.objectContaining({
        type: 'bus.build.run.authorized',
        data: expect.objectContaining({ method: 'manual' }),
      }),
    ]);

    const second = await cli('approve', id);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('already started');
    expect(fake.started).toEqual([id]);
    expect((await store.listEvents(id, 0, 10)).events).toHaveLength(1);
  });

  it('reopens a failed run with a new execution', async () => {
    const id = runs.recentFailed!.runId;
    const res = await cli('retry', id, '--json');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({
      phase: 'authorized',
      retries: 1,
      started: true,
      execution: `${id}-retry-1`,
    });
    expect(fake.started).toContain(`${id}-retry-1`);
    const stored = await store.getRun(id);
    expect(stored).toMatchObject({ phase: 'authorized', retries: 1 });
    expect(stored?.failure).toBeUndefined();
  });

  it('prunes branches of runs that ended long ago (dry run first)', async () => {
    const old = branchName(runs.delivered!.runId, runs.delivered!.createdAt);
    const dry = await cli('prune', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      dryRun: true,
      olderThanDays: 30,
      pruned: [expect.objectContaining({ runId: runs.delivered!.runId, branch: old })],
      kept: 1,
    });
    expect((await repo.listBuildBranches()).map((b) => b.branch)).toContain(old);

    const id = runs.delivered!.runId;
    const before = { run: await store.getRun(id), events: await store.listEvents(id, 0, 100) };
    const real = await cli('prune');
    expect(real.code).toBe(0);
    expect(real.stdout).toContain('Deleted 1 build branch; 1 kept.');
    expect((await repo.listBuildBranches()).map((b) => b.runId)).toEqual([runs.recentFailed!.runId]);
    // Only the ref goes: the run's record with its evidence keys, artifacts and event log stay.
    expect(await store.getRun(id)).toEqual(before.run);
    expect(before.run?.evidence.length).toBeGreaterThan(0);
    expect(await store.listEvents(id, 0, 100)).toEqual(before.events);
  });

  it('reports readiness of the running stack', async () => {
    const res = await cli('status', '--json');
    const parsed = JSON.parse(res.stdout) as { ready: boolean; items: { name: string; state: string }[] };
    const state = Object.fromEntries(parsed.items.map((i) => [i.name, i.state]));
    expect(state).toMatchObject({
      'local stack': 'ok',
      api: 'ok',
      dynamodb: 'ok',
      s3: 'ok',
      'step functions': 'ok',
      'template repo': 'ok',
    });
    expect(res.code).toBe(parsed.ready ? 0 : 1);
  });

  it('marks a verified run whose card capture is still open UNSETTLED, and --unsettled lists only those', async () => {
    // Last in the file: this run joins the listing (the tests above count four runs).
    const none = await cli('runs', '--unsettled');
    expect(none).toMatchObject({ code: 0, stdout: 'No unsettled card payments.\n' });
    const open = run(
      {
        phase: 'artifact_ready',
        spec: SPEC,
        artifactType: 'web',
        payment: {
          status: 'authorized',
          method: 'stripe',
          quoteVersion: 1,
          paymentIntentId: 'pi_unsettled_1',
        },
        updatedAt: ago(0.2),
      },
      ago(0.3),
    );
    await store.createRun(open);
    const table = await cli('runs', '--unsettled');
    expect(table.code, table.stderr).toBe(0);
    const rows = table.stdout.split('\n').filter((l) => l.startsWith('run_'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain(open.runId);
    expect(rows[0]).toMatch(/authorized UNSETTLED/);
    expect(table.stdout).toContain(`bus-build settle <run_id>`);
    const all = await cli('runs');
    const line = all.stdout.split('\n').find((l) => l.startsWith(open.runId)) ?? '';
    expect(line).toMatch(/UNSETTLED/);
    for (const r of Object.values(runs)) {
      const other = all.stdout.split('\n').find((l) => l.startsWith(r.runId)) ?? '';
      expect(other, r.phase).not.toMatch(/UNSETTLED/);
    }
  });
});
