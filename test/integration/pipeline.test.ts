import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { API_ROUTES } from '../../functions/api/routes.ts';
import { DOWNLOAD_TTL_SECONDS, signLocalDownload } from '../../lib/aws/download-links.ts';
import { LAMBDA_TASKS } from '../../state-machines/tasks.ts';
import { synthesizeAssembly } from '../support/cdk-synth.ts';
import { ApiClient, type ApiResponse, startTestStack, type TestStack } from './harness.ts';
import {
  busBuild,
  chatToQuote,
  type PublicArtifact,
  type PublicEvent,
  type PublicRun,
  pollEvents,
  type RawResponse,
  rawGet,
  sha256,
  sharedGoCache,
} from './pipeline-helpers.ts';

/**
 * The seed's first acceptance test, end to end through the real local stack (`npm start` in a
 * child process: dynalite, s3rver, the API gateway, the preview origin and the local Step
 * Functions endpoint running the build-run state machine with the worker as a child process),
 * driven only through the public HTTP API and the operator CLI (`bus-build`).
 *
 * It runs what ships: the stack is synthesized first (`cdk synth`, esbuild bundling) and started
 * with `LOCAL_BUNDLES` (every API route and state-machine task served by its bundled `index.mjs`
 * from the cloud assembly) and `LOCAL_WORKER=bundle` (the worker bundled by
 * worker-image/src/bundle.mjs, as the image runs it), not the TypeScript source.
 */
const SYNTH_TIMEOUT_MS = 300_000;

const STEP_TIMEOUT = 360_000;
const BUILD_TIMEOUT_MS = 240_000;
const REQUEST = 'I need a tip calculator web app and a command line program for linux';
const TYPE_ANSWER = 'Both: a web app and a program for linux please';
const PUBLIC_ARTIFACT_KEYS = new Set([
  'artifact_id',
  'kind',
  'name',
  'platform',
  'size_bytes',
  'sha256',
  'preview',
  'download_url',
  'preview_url',
  'receipt',
]);
/** Signed capability tokens (session, download, preview) are opaque base64url; see tokenClaims. */
const JWT_RE = /[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g;

function execFileAsync(file: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 30_000 }, (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: String(stdout) });
    });
  });
}

/** The decoded (unverified) payload of a JWT-shaped token. */
function tokenClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** A token with one character of the given segment changed (still base64url, same length). */
function alterToken(token: string, segment: 1 | 2): string {
  const parts = token.split('.');
  const s = parts[segment]!;
  const i = Math.floor(s.length / 2);
  parts[segment] = `${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
  return parts.join('.');
}

describe('build pipeline end to end (first acceptance test)', () => {
  let stack: TestStack;
  let secret: string;
  let alice: ApiClient;
  let bob: ApiClient;
  let anon: ApiClient;
  let runId: string;
  let createdAt: string;
  let branch: string;
  let approvedAt = 0;
  let events: PublicEvent[] = [];
  let artifacts: PublicArtifact[] = [];
  let downloadToken: string | undefined;
  let previewUrl: string | undefined;
  const clients: ApiClient[] = [];
  /** Public bodies not received through an ApiClient (preview origin, downloads' headers). */
  const otherBodies: { what: string; text: string }[] = [];
  /** The delivered web app's files as served on the preview origin. */
  const webFiles: { what: string; text: string }[] = [];

  const client = (opts?: ConstructorParameters<typeof ApiClient>[1]) => {
    const c = new ApiClient(stack.url, opts);
    clients.push(c);
    return c;
  };
  const keepRaw = (what: string, res: RawResponse) =>
    otherBodies.push({ what, text: `${res.body.toString('utf8')}\n${JSON.stringify(res.headers)}` });

  let assembly: string;

  beforeAll(async () => {
    assembly = await mkdtemp(join(tmpdir(), 'busdk-pipeline-assembly-'));
    const synth = await synthesizeAssembly(assembly, SYNTH_TIMEOUT_MS);
    console.info(`cdk synth for the pipeline took ${(synth.ms / 1000).toFixed(1)} s`);
    stack = await startTestStack({
      env: { GOCACHE: sharedGoCache(), LOCAL_BUNDLES: assembly, LOCAL_WORKER: 'bundle' },
      startTimeoutMs: 120_000,
    });
    secret = (await readFile(join(stack.dataDir, 'session-secret'), 'utf8')).trim();
    alice = client();
    bob = client();
    anon = client({ useCookies: false });
  }, SYNTH_TIMEOUT_MS + 180_000);

  afterAll(async () => {
    await stack?.dispose();
    if (assembly) await rm(assembly, { recursive: true, force: true });
  }, 60_000);

  const failWith = (msg: string) => `${msg}\n--- stack output (tail) ---\n${stack.output().slice(-6000)}`;

  it('runs what ships: the bundled handlers of the cloud assembly and the bundled worker', () => {
    const line = stack
      .output()
      .split('\n')
      .find((l) => l.includes('"local stack: running what ships"'));
    expect(line, failWith('no "running what ships" log line')).toBeDefined();
    const shipped = JSON.parse(line!) as { bundles: string; handlers: number; worker: string };
    const entries = new Set([...API_ROUTES.map((r) => r.entry), ...LAMBDA_TASKS.map((t) => t.entry)]);
    expect(shipped).toMatchObject({
      bundles: assembly,
      handlers: entries.size,
      worker: join(stack.dataDir, 'worker-app', 'worker.mjs'),
    });
  });

  it(
    'chats a tip calculator (web app + linux binary) to a quote',
    async () => {
      const {
        runId: id,
        run,
        replies,
      } = await chatToQuote(alice, [REQUEST, TYPE_ANSWER, TYPE_ANSWER], stack.dataDir);
      expect(run.phase, replies.join('\n')).toBe('quoted');
      expect(run.artifact_type).toBe('both');
      expect(run.scope?.platforms).toContain('linux-amd64');
      expect(run.quote!.amount_cents).toBeGreaterThan(0);
      runId = id;
      createdAt = run.created_at;
      const ymd = new Date(createdAt).toISOString().slice(0, 10).replaceAll('-', '');
      branch = `build/${ymd}/${runId}`;
    },
    STEP_TIMEOUT,
  );

  it(
    'bus-build approve starts exactly one execution; a second approve reports already started',
    async () => {
      approvedAt = Date.now();
      const first = await busBuild(stack.dataDir, 'approve', runId);
      expect(first.code, `${first.stdout}\n${first.stderr}`).toBe(0);
      expect(first.stdout).toContain(runId);
      expect(first.stdout).toMatch(/started/);

      const second = await busBuild(stack.dataDir, 'approve', runId, '--json');
      expect(second.code, `${second.stdout}\n${second.stderr}`).toBe(0);
      const data = JSON.parse(second.stdout) as {
        started: boolean;
        alreadyStarted: boolean;
        execution: string;
      };
      expect(data).toMatchObject({ started: false, alreadyStarted: true, execution: runId });
      const third = await busBuild(stack.dataDir, 'approve', runId);
      expect(third.code).toBe(0);
      expect(third.stdout).toMatch(/already/i);

      const info = JSON.parse(await readFile(join(stack.dataDir, 'local-stack.json'), 'utf8')) as {
        sfnEndpoint: string;
        stateMachineArn: string;
        region: string;
      };
      const sfn = new SFNClient({
        endpoint: info.sfnEndpoint,
        region: info.region,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      try {
        const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: info.stateMachineArn }));
        const mine = (listed.executions ?? []).filter(
          (e) => e.name === runId || e.name?.startsWith(`${runId}-`),
        );
        expect(mine.map((e) => e.name)).toEqual([runId]);
      } finally {
        sfn.destroy();
      }

      const show = await busBuild(stack.dataDir, 'show', runId, '--json');
      expect(show.code, show.stderr).toBe(0);
      const shown = JSON.parse(show.stdout) as { run: { phase: string }; execution: string | null };
      expect(shown.execution).toBe(runId);
      expect(shown.run.phase).not.toMatch(/^(drafting|quoted|failed)$/);
    },
    STEP_TIMEOUT,
  );

  it(
    'progresses through the build to a verified artifact',
    async () => {
      const polled = await pollEvents(alice, runId, { timeoutMs: BUILD_TIMEOUT_MS });
      events = polled.events;
      const types = events.map((e) => e.type);
      expect(polled.terminal?.type, failWith(`events: ${types.join(', ')}`)).toBe(
        'bus.build.artifact.verified',
      );
      // The seed's event order (progress events may repeat in between).
      const order = [
        'bus.build.quote.ready',
        'bus.build.run.authorized',
        'bus.build.repo.ready',
        'bus.build.worker.assigned',
        'bus.build.progress.updated',
        'bus.build.artifact.submitted',
        'bus.build.artifact.verified',
      ];
      let at = -1;
      for (const type of order) {
        const next = types.indexOf(type, at + 1);
        expect(next, `${type} after index ${at} in ${types.join(', ')}`).toBeGreaterThan(at);
        at = next;
      }
      expect(types).not.toContain('bus.build.run.failed');
      const seqs = events.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
      const verifiedAt = Date.parse(polled.terminal!.at);
      console.info(
        `pipeline: bus-build approve → artifact.verified in ${(verifiedAt - approvedAt) / 1000} s`,
      );

      const run = await alice.get<{ run: PublicRun }>(`/api/v1/build-runs/${runId}`);
      expect(run.status).toBe(200);
      expect(run.body.run.phase).toBe('artifact_ready');
    },
    STEP_TIMEOUT,
  );

  it(
    'keeps the work on branch build/{YYYYMMDD}/{run_id} of the template repository',
    async () => {
      const gitDir = join(stack.dataDir, 'repos', 'template.git');
      const res = await execFileAsync('git', [
        '--git-dir',
        gitDir,
        'rev-parse',
        '--verify',
        `refs/heads/${branch}`,
      ]);
      expect(res.code, `branch ${branch} missing`).toBe(0);
      expect(res.stdout.trim()).toMatch(/^[0-9a-f]{40}$/);
      // The worker's commit is on it (the branch moved past the template base).
      const log = await execFileAsync('git', ['--git-dir', gitDir, 'log', '--format=%an', '-1', branch]);
      expect(log.stdout.trim()).toBe('BusDK Worker');
    },
    STEP_TIMEOUT,
  );

  it(
    'delivers the linux-amd64 binary and the web preview; the run becomes delivered',
    async () => {
      const listed = await alice.get<{ artifacts: PublicArtifact[] }>(
        `/api/v1/build-runs/${runId}/artifacts`,
      );
      expect(listed.status, listed.text).toBe(200);
      artifacts = listed.body.artifacts;
      expect(artifacts.length).toBeGreaterThanOrEqual(2);
      for (const a of artifacts) {
        for (const key of Object.keys(a)) expect(PUBLIC_ARTIFACT_KEYS, `artifact key ${key}`).toContain(key);
        expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(Number.isInteger(a.size_bytes) && a.size_bytes > 0).toBe(true);
      }

      // Binary: download through the API route, same session, following the redirect.
      const bin = artifacts.find((a) => a.kind === 'binary' && a.platform === 'linux-amd64');
      expect(bin, JSON.stringify(artifacts)).toBeDefined();
      expect(bin!.download_url).toBe(`/api/v1/build-runs/${runId}/artifacts/${bin!.artifact_id}/download`);
      const redirect = await alice.get(bin!.download_url!);
      expect(redirect.status, redirect.text).toBe(302);
      const location = redirect.headers.get('location')!;
      expect(location).toMatch(/^\/api\/v1\/downloads\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      downloadToken = location.split('/').pop()!;
      otherBodies.push({ what: 'download redirect location', text: location });

      const file = await fetch(new URL(location, stack.url), {
        headers: { cookie: [...alice.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
      });
      expect(file.status).toBe(200);
      expect(file.headers.get('content-disposition')).toMatch(/^attachment; filename="[A-Za-z0-9._-]+"$/);
      expect(file.headers.get('content-type')).toBe('application/octet-stream');
      const bytes = new Uint8Array(await file.arrayBuffer());
      expect(bytes.length).toBe(bin!.size_bytes);
      expect(sha256(bytes)).toBe(bin!.sha256);
      // The binary itself: no build paths, data dir or secret inside.
      const asText = Buffer.from(bytes).toString('latin1');
      for (const needle of [stack.dataDir, '/work/', 'busdk-worker-', secret])
        expect(asText.includes(needle), `binary contains ${needle}`).toBe(false);

      const dir = await mkdtemp(join(tmpdir(), 'bus-build-dl-'));
      try {
        const exe = join(dir, 'tool');
        await writeFile(exe, bytes);
        await chmod(exe, 0o755);
        const help = await execFileAsync(exe, ['--help']);
        expect(help.code, help.stdout).toBe(0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }

      // Web: a signed link on the separate preview origin.
      const web = artifacts.find((a) => a.kind === 'web');
      expect(web, JSON.stringify(artifacts)).toBeDefined();
      expect(web!.preview).toBe(true);
      previewUrl = web!.preview_url ?? undefined;
      expect(previewUrl).toBeDefined();
      expect(previewUrl!.startsWith(`${stack.previewUrl}/p/`)).toBe(true);
      expect(new URL(previewUrl!).origin).not.toBe(new URL(stack.url).origin);
      const page = await fetch(previewUrl!);
      const html = await page.text();
      webFiles.push({ what: 'preview index.html', text: html });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(html).toContain('app.js');
      const js = await fetch(new URL('app.js', previewUrl!));
      webFiles.push({ what: 'preview app.js', text: await js.text() });
      expect(js.status).toBe(200);
      expect(js.headers.get('content-type')).toMatch(/javascript/);
      const css = await fetch(new URL('style.css', previewUrl!));
      webFiles.push({ what: 'preview style.css', text: await css.text() });
      expect(css.status).toBe(200);
      expect(css.headers.get('content-type')).toMatch(/^text\/css/);

      const after = await alice.get<{ run: PublicRun }>(`/api/v1/build-runs/${runId}`);
      expect(after.body.run.phase).toBe('delivered');
      expect(after.body.run.artifacts.map((a) => a.artifact_id).sort()).toEqual(
        artifacts.map((a) => a.artifact_id).sort(),
      );
      const delivered = await pollEvents(alice, runId, {
        after: events.at(-1)!.seq,
        until: new Set(['bus.build.run.delivered']),
        timeoutMs: 30_000,
      });
      events.push(...delivered.events);
      expect(delivered.terminal?.phase).toBe('delivered');
    },
    STEP_TIMEOUT,
  );

  it(
    'refuses forged and altered links, other sessions and traversal on the preview origin',
    async () => {
      expect(downloadToken && previewUrl, 'needs the delivery step').toBeTruthy();
      const bin = artifacts.find((a) => a.kind === 'binary' && a.platform === 'linux-amd64')!;
      const web = artifacts.find((a) => a.kind === 'web')!;

      // Download tokens: altered signature, altered claims, a token signed with another key, junk.
      const forged = [
        alterToken(downloadToken!, 2),
        alterToken(downloadToken!, 1),
        `${downloadToken!.split('.').slice(0, 2).join('.')}.${'A'.repeat(43)}`,
        'not-a-token',
      ];
      for (const t of forged) {
        const res = await alice.get(`/api/v1/downloads/${t}`);
        expect(res.status, `download token ${t}`).toBe(404);
      }
      // An expired token: the same claims signed with the stack's own key, its lifetime over. A
      // fresh token signed the same way works, so only the expiry makes the difference.
      const c = tokenClaims(downloadToken!) as Record<string, string>;
      const claims = { key: c.key!, fileName: c.fn!, runId: c.sub!, artifactId: c.aid! };
      const fresh = await signLocalDownload(claims, secret);
      vi.useFakeTimers({ toFake: ['Date'] });
      let expired: string;
      try {
        vi.setSystemTime(Date.now() - (DOWNLOAD_TTL_SECONDS + 60) * 1000);
        expired = await signLocalDownload(claims, secret);
      } finally {
        vi.useRealTimers();
      }
      const freshRes = await fetch(new URL(`/api/v1/downloads/${fresh}`, stack.url));
      expect(freshRes.status).toBe(200);
      expect((await freshRes.arrayBuffer()).byteLength).toBe(bin.size_bytes);
      const expiredRes = await fetch(new URL(`/api/v1/downloads/${expired}`, stack.url));
      const expiredText = await expiredRes.text();
      otherBodies.push({ what: 'expired download', text: expiredText });
      expect(expiredRes.status, expiredText).toBe(404);
      expect(expiredRes.headers.get('content-disposition')).toBeNull();
      // Another visitor (own session, own run) and no session at all.
      await bob.post('/api/v1/build-runs', {});
      const foreign = await bob.get(bin.download_url!);
      expect(foreign.status, foreign.text).toBe(404);
      expect(foreign.headers.get('location')).toBeNull();
      expect((await bob.get(`/api/v1/build-runs/${runId}/artifacts`)).status).toBe(404);
      expect((await bob.get(`/api/v1/build-runs/${runId}`)).status).toBe(404);
      expect([401, 404]).toContain((await anon.get(bin.download_url!)).status);
      // A web artifact is not downloadable; an unknown artifact id is not either.
      expect(
        (await alice.get(`/api/v1/build-runs/${runId}/artifacts/${web.artifact_id}/download`)).status,
      ).toBe(404);
      expect((await alice.get(`/api/v1/build-runs/${runId}/artifacts/nope/download`)).status).toBe(404);

      // Preview tokens and paths (raw requests: no client-side `..` resolution).
      const url = new URL(previewUrl!);
      const token = url.pathname.split('/')[2]!;
      const base = `${url.protocol}//${url.host}`;
      const probes: [string, number[]][] = [
        [`/p/${alterToken(token, 2)}/`, [404]],
        [`/p/${alterToken(token, 1)}/`, [404]],
        [`/p/${alterToken(token, 2)}/app.js`, [404]],
        [`/p/${token}/../x`, [400, 404]],
        [`/p/${token}/../../session-secret`, [400, 404]],
        [`/p/${token}/%2e%2e/x`, [400, 404]],
        [`/p/${token}/%2e%2e%2f%2e%2e%2fsession-secret`, [400, 404]],
        [`/p/${token}/..%2fx`, [400, 404]],
        [`/p/${token}/.%2e/x`, [400, 404]],
        [`/p/${token}/..\\x`, [400, 404]],
        [`/p/${token}/no-such-file.js`, [404]],
        [`/p/${token}/web/`, [400, 404]],
        ['/p/', [400, 404]],
        ['/', [400, 404]],
      ];
      for (const [path, statuses] of probes) {
        const res = await rawGet(base, path);
        keepRaw(`preview ${path}`, res);
        expect(statuses, `preview ${path} → ${res.status}`).toContain(res.status);
        expect(res.body.toString('utf8')).not.toContain(secret);
      }
      // The genuine link still works (the probes did not break anything).
      expect((await rawGet(base, url.pathname)).status).toBe(200);
    },
    STEP_TIMEOUT,
  );

  /** What no public body may contain (`dotData`: how to spot the data dir in this kind of text). */
  const forbiddenIn = (dotData: string | RegExp): (string | RegExp)[] => [
    branch,
    'build/2',
    '/work/',
    '/tmp/',
    stack.dataDir,
    dotData,
    'repos/',
    'candidates/',
    /(?<!build-)runs\/run_/, // evidence / published keys (the API route `build-runs/run_…` is public)
    '.go',
    'package main',
    'wkr_',
    'task_',
    'ses_',
    'worker.log',
    secret,
  ];
  const expectClean = (bodies: { what: string; text: string }[], forbidden: (string | RegExp)[]) => {
    for (const { what, text } of bodies) {
      const scrubbed = text.replace(JWT_RE, '<token>');
      for (const needle of forbidden) {
        const hit = typeof needle === 'string' ? scrubbed.includes(needle) : needle.test(scrubbed);
        expect(hit, `${what} contains ${String(needle)}:\n${scrubbed.slice(0, 2000)}`).toBe(false);
      }
      expect(text.includes(secret), `${what} contains the session secret`).toBe(false);
    }
  };

  it(
    'never shows internals in any public response or event',
    async () => {
      expect(events.length).toBeGreaterThan(0);
      const responses: { what: string; text: string }[] = [];
      for (const c of clients)
        for (const r of c.responses as ApiResponse[])
          responses.push({ what: `API ${r.status}`, text: `${r.text}\n${r.headers.get('location') ?? ''}` });
      responses.push(...otherBodies);
      responses.push({ what: 'events', text: JSON.stringify(events) });
      expect(responses.length).toBeGreaterThan(30);
      expectClean(responses, forbiddenIn('.data'));
      // Capability tokens are opaque to the visitor but readable: no secrets or build internals in them.
      for (const t of [downloadToken!, new URL(previewUrl!).pathname.split('/')[2]!]) {
        const claims = JSON.stringify(tokenClaims(t));
        for (const needle of [branch, 'build/2', '/work/', '/tmp/', '.data', 'repos/', 'candidates/', 'ses_'])
          expect(claims.includes(needle), `token claims ${claims} contain ${needle}`).toBe(false);
        expect(claims.includes(secret)).toBe(false);
      }
    },
    STEP_TIMEOUT,
  );

  it(
    'serves a web app that names no source files or build internals',
    async () => {
      expect(webFiles.length).toBe(3);
      // Web code may say `.dataset`; the data dir would appear as `.data/`.
      expectClean(webFiles, forbiddenIn(/\.data\//));
    },
    STEP_TIMEOUT,
  );

  it(
    'does not quote a request that matches no recipe (the intake keeps asking)',
    async () => {
      const carol = client();
      const created = await carol.post<{ run: PublicRun }>('/api/v1/build-runs', {});
      expect(created.status).toBe(201);
      const id = created.body.run.run_id;
      const texts = [
        'I want a program that composes a symphony from birdsong recordings',
        'It should write sheet music for an orchestra',
        'Just the symphony please',
        'A web app and a linux program',
      ];
      for (const text of texts) {
        const res = await carol.post<{ run: PublicRun; reply: { text: string } }>(
          `/api/v1/build-runs/${id}/messages`,
          { text },
        );
        expect(res.status, res.text).toBe(200);
        expect(res.body.run.phase).toBe('drafting');
        expect(res.body.run.quote).toBeNull();
        expect(res.body.reply.text.length).toBeGreaterThan(0);
      }
      const run = await carol.get<{ run: PublicRun }>(`/api/v1/build-runs/${id}`);
      expect(run.body.run.phase).toBe('drafting');
      // Not quoted, so the operator cannot approve it either; nothing was started.
      const approve = await busBuild(stack.dataDir, 'approve', id);
      expect(approve.code, approve.stdout).toBe(1);
      const again = await carol.get<{ run: PublicRun }>(`/api/v1/build-runs/${id}`);
      expect(again.body.run.phase).toBe('drafting');
    },
    STEP_TIMEOUT,
  );

  it(
    'bus-build retry reopens only failed runs (a delivered run → exit 1, unchanged)',
    async () => {
      const retry = await busBuild(stack.dataDir, 'retry', runId);
      expect(retry.code, `${retry.stdout}\n${retry.stderr}`).toBe(1);
      expect(retry.stderr).toMatch(/bus-build: /);
      expect(retry.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
      const run = await alice.get<{ run: PublicRun }>(`/api/v1/build-runs/${runId}`);
      expect(run.body.run.phase).toBe('delivered');
      const show = await busBuild(stack.dataDir, 'show', runId, '--json');
      const shown = JSON.parse(show.stdout) as { run: { retries?: number }; execution: string };
      expect(shown.run.retries ?? 0).toBe(0);
      expect(shown.execution).toBe(runId);
    },
    STEP_TIMEOUT,
  );
});
