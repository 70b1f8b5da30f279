import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { approveRun } from '../../lib/app/approve-run.ts';
import { assignWorker } from '../../lib/app/orchestrator/assign-worker.ts';
import type { OrchestratorDeps } from '../../lib/app/orchestrator/deps.ts';
import { failRun } from '../../lib/app/orchestrator/fail-run.ts';
import type { AcceptanceRunners, CandidateChecksRequest } from '../../lib/app/orchestrator/ports.ts';
import { prepareBranch } from '../../lib/app/orchestrator/prepare-branch.ts';
import { publish } from '../../lib/app/orchestrator/publish.ts';
import { TaskStateError } from '../../lib/app/orchestrator/run-ops.ts';
import { type BuildState, BuildStateSchema } from '../../lib/app/orchestrator/state.ts';
import { verifyArtifacts } from '../../lib/app/orchestrator/verify-artifacts.ts';
import { settlePayment } from '../../lib/app/settle-payment.ts';
import { keys } from '../../lib/aws/keys.ts';
import { AcceptanceCheckSchema, type WebCheck } from '../../lib/domain/acceptance.ts';
import { WorkerAssignmentSchema } from '../../lib/domain/assignment.ts';
import { update } from '../../lib/domain/lifecycle.ts';
import type { PaymentGateway } from '../../lib/domain/payment.ts';
import { toPublicRun } from '../../lib/domain/projection.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { directoryDigest } from '../../lib/verify/index.ts';
import { ARTIFACT_BUILDER_PROFILE } from '../../worker-image/src/profile.ts';
import {
  clock,
  FakeStarter,
  MemoryArtifactStore,
  MemoryPublisher,
  MemoryRunStore,
  quotedRun,
} from './orchestrator-fakes.ts';
import { PNG } from './verify-fixtures.ts';

process.env.LOG_LEVEL = 'silent';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

const CHECKS = [
  {
    kind: 'web',
    id: 'tip-total',
    title: 'A 15 % tip on €100 shows €115.00',
    steps: [
      { action: 'fill', label: 'Bill amount', value: '100' },
      { action: 'fill', label: 'Tip %', value: '15' },
    ],
    expect: [{ type: 'number', value: 115, tolerance: 0.005 }],
  },
  {
    kind: 'web',
    id: 'tip-split',
    title: 'Split between 3 people shows €38.33 each',
    steps: [{ action: 'fill', label: 'People', value: '3' }],
    expect: [{ type: 'number', value: 38.33, tolerance: 0.005 }],
  },
  {
    kind: 'cli',
    id: 'cli-total',
    title: 'The command line prints the total',
    args: ['100', '15'],
    expect: [{ op: 'number', value: 115, tolerance: 0.005 }],
  },
].map((c) => AcceptanceCheckSchema.parse(c));

const WEB = {
  'web/index.html': '<!doctype html><html><body><script src="app.js"></script></body></html>',
  'web/app.js': 'document.body.append("hi")',
};

class RecordingGateway implements PaymentGateway {
  captures: string[] = [];
  cancels: string[] = [];
  async createCheckoutSession(): Promise<{ id: string; url: string }> {
    throw new Error('not used');
  }
  async getCheckoutSession(id: string) {
    return { id, status: 'open', url: null };
  }
  async capture(pi: string): Promise<'captured'> {
    this.captures.push(pi);
    return 'captured';
  }
  async cancel(pi: string): Promise<'cancelled'> {
    this.cancels.push(pi);
    return 'cancelled';
  }
}

let store: MemoryRunStore;
let artifacts: MemoryArtifactStore;
let gateway: RecordingGateway;
let deps: OrchestratorDeps;
let scratch: string;
let requests: Array<CandidateChecksRequest<WebCheck> & { screenshot: boolean }>;
/** Which check ids the fake browser runner reports as failed. */
let failing: Set<string>;

const runners: AcceptanceRunners = {
  cli: async () => {
    throw new Error('a web-only run runs no cli check');
  },
  web: async (req) => {
    requests.push(req);
    return {
      status: 'ran',
      outcomes: req.checks.map((c) => ({
        id: c.id,
        kind: 'web' as const,
        passed: !failing.has(c.id),
        ranOn: 'web',
        durationMs: 12,
        ...(failing.has(c.id) && { detail: 'step 2 fill "Tip %": expected 38.33, got 33.33 /tmp/secret' }),
      })),
      ...(req.screenshot && { screenshot: PNG }),
      notes: [],
    };
  },
};

beforeEach(async () => {
  store = new MemoryRunStore();
  artifacts = new MemoryArtifactStore();
  gateway = new RecordingGateway();
  scratch = await mkdtemp(path.join(tmpdir(), 'orch-acc-'));
  requests = [];
  failing = new Set();
  const now = clock();
  deps = {
    store,
    publisher: new MemoryPublisher(),
    artifacts,
    now,
    repos: { ensureBranch: async (run) => ({ repoId: 'template', branch: `build/20261124/${run.runId}` }) },
    maxAttempts: 3,
    profile: ARTIFACT_BUILDER_PROFILE,
    verifySettings: { smoke: { browser: false } },
    acceptanceRunners: runners,
    settlement: { settle: async (run) => void (await settlePayment({ store, gateway, now }, run)) },
    tempDir: scratch,
  };
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const get = async (runId: string) => (await store.getRun(runId)) as BuildRun;

/** A web-only run paid by card (authorized, not captured), with the approved checks. */
async function cardRun(): Promise<BuildRun> {
  const quoted = quotedRun('web');
  const run: BuildRun = { ...quoted, spec: quoted.spec && { ...quoted.spec, checks: CHECKS } };
  await store.createRun(run);
  await approveRun({ ...deps, starter: new FakeStarter() }, run.runId, { actor: 'op', method: 'manual' });
  const approved = await get(run.runId);
  const paid = update(
    approved,
    { payment: { status: 'authorized', method: 'stripe', paymentIntentId: 'pi_card', quoteVersion: 1 } },
    deps.now(),
  );
  await store.saveRun(paid, { phase: approved.phase, version: approved.version });
  return get(run.runId);
}

function putCandidate(runId: string, attempt: number): void {
  const files = Object.entries(WEB).map(([rel, body]) => ({ rel: rel.slice(4), sha256: sha(body) }));
  const manifest = {
    schema_version: 1,
    run_id: runId,
    artifacts: [
      {
        artifact_id: 'web',
        kind: 'web',
        name: 'Tip Calculator',
        path: 'web',
        sha256: directoryDigest(files),
        size_bytes: Object.values(WEB).reduce((n, b) => n + Buffer.byteLength(b), 0),
        entrypoint: 'index.html',
        source_included: false,
      },
    ],
  };
  for (const [rel, body] of Object.entries(WEB))
    artifacts.put('staging', keys.candidate(runId, attempt, rel), body);
  artifacts.put(
    'staging',
    keys.candidate(runId, attempt, 'artifact-manifest.json'),
    JSON.stringify(manifest),
  );
}

async function attempt(state: BuildState): Promise<BuildState> {
  const assigned = await assignWorker(deps, state);
  putCandidate(state.runId, assigned.attempt);
  return verifyArtifacts(deps, assigned);
}

describe('the gate runs the approved checks (VerifyArtifacts → Publish)', () => {
  it('all pass: outcomes on the record, screenshot kept, receipt published, the card captured once', async () => {
    const run = await cardRun();
    const verified = await attempt(await prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId })));
    expect(verified).toMatchObject({ passed: true });
    // The worker's assignment carried the approved checks, as approved.
    const assignment = WorkerAssignmentSchema.parse(artifacts.json('staging', keys.assignment(run.runId, 1)));
    expect(assignment.spec.checks).toEqual(CHECKS);

    // The runner got the web checks only (a web-only run), on the staged web entry's verified copy.
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ runId: run.runId, attempt: 1, screenshot: true });
    expect(requests[0]?.entry).toMatchObject({ artifact_id: 'web', path: 'web' });
    expect(requests[0]?.checks.map((c) => c.id)).toEqual(['tip-total', 'tip-split']);
    expect(path.basename(requests[0]?.path ?? '')).toBe('web');

    let stored = await get(run.runId);
    const record = stored.verification.at(-1);
    expect(record?.outcomes?.map((o) => [o.id, o.passed])).toEqual([
      ['tip-total', true],
      ['tip-split', true],
    ]);
    expect(record?.screenshot).toEqual({ artifactId: 'web', key: keys.checkScreenshot(run.runId, 1, 'web') });
    expect(artifacts.objects.evidence.get(keys.checkScreenshot(run.runId, 1, 'web'))?.body).toEqual(PNG);
    const evidence = artifacts.json('evidence', keys.verification(run.runId, 1)) as Record<string, unknown>;
    expect(evidence.acceptance).toMatchObject({
      outcomes: [{ id: 'tip-total' }, { id: 'tip-split' }],
      screenshots: [{ artifactId: 'web', key: keys.checkScreenshot(run.runId, 1, 'web'), bytes: PNG.length }],
    });
    expect(gateway.captures).toEqual([]); // verified is not yet delivered: nothing captured

    await publish(deps, verified);
    stored = await get(run.runId);
    expect(stored.phase).toBe('artifact_ready');
    const web = stored.artifacts.find((a) => a.artifact_id === 'web');
    expect(web?.receipt).toEqual({
      checks: [
        { id: 'tip-total', kind: 'web', passed: true, ranOn: 'web' },
        { id: 'tip-split', kind: 'web', passed: true, ranOn: 'web' },
      ],
      screenshot_key: keys.receiptScreenshot(run.runId, 'web'),
    });
    const shot = artifacts.objects.artifacts.get(keys.receiptScreenshot(run.runId, 'web'));
    expect(shot?.body).toEqual(PNG);
    expect(shot?.contentType).toBe('image/png');
    expect(gateway.captures).toEqual(['pi_card']);
    expect(stored.payment.status).toBe('captured');

    // The receipt, publicly: the approved spec's titles, the results, when; no key, no detail.
    const pub = toPublicRun(stored).artifacts[0];
    expect(pub?.receipt).toEqual({
      verified_at: web?.verified_at,
      checks: [
        { title: 'A 15 % tip on €100 shows €115.00', passed: true, ran_on: 'web' },
        { title: 'Split between 3 people shows €38.33 each', passed: true, ran_on: 'web' },
      ],
      screenshot: true,
    });
    expect(JSON.stringify(pub)).not.toContain('_receipts');
    expect(await readdir(scratch)).toEqual([]);
  });

  it('a failing check fails every attempt into the repair loop: never published, never captured, cancelled at FailRun', async () => {
    failing = new Set(['tip-split']);
    const run = await cardRun();
    let state = await prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId }));
    for (let i = 1; i <= 3; i++) {
      state = await attempt(state);
      expect(state).toMatchObject({
        attempt: i,
        passed: false,
        repairable: true,
        failureCode: 'verification_failed',
      });
      // The repair loop learns which agreed check failed, and how.
      expect(state.lastFailure).toContain('acceptance.web: ');
      expect(state.lastFailure).toContain('"Split between 3 people shows €38.33 each" (tip-split)');
      expect(state.lastFailure).toContain('expected 38.33, got 33.33');
      await expect(publish(deps, state)).rejects.toBeInstanceOf(TaskStateError);
    }
    const record = (await get(run.runId)).verification.at(-1);
    expect(record?.outcomes?.find((o) => o.id === 'tip-split')).toMatchObject({ passed: false });
    expect(record?.internalReason).toContain('tip-split');

    await failRun(deps, state);
    const stored = await get(run.runId);
    expect(stored.phase).toBe('failed');
    expect(gateway.captures).toEqual([]);
    expect(gateway.cancels).toEqual(['pi_card']);
    expect(stored.artifacts).toEqual([]);
    expect(artifacts.objects.artifacts.size).toBe(0);
    const pub = JSON.stringify(toPublicRun(stored));
    expect(pub).not.toContain('33.33');
    expect(pub).not.toContain('tip-split');
    expect(pub).not.toContain('/tmp/secret');
  });

  it('no runner configured for a spec with checks: the task fails (retried), the candidate is not judged', async () => {
    const run = await cardRun();
    const { acceptanceRunners: _, ...noRunners } = deps;
    deps = noRunners as OrchestratorDeps;
    const assigned = await assignWorker(
      deps,
      await prepareBranch(deps, BuildStateSchema.parse({ runId: run.runId })),
    );
    putCandidate(run.runId, 1);
    await expect(verifyArtifacts(deps, assigned)).rejects.toThrow(/no runner for the web acceptance checks/);
    expect((await get(run.runId)).verification).toEqual([]);
  });
});
