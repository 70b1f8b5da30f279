import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, startTestStack, type TestStack } from './harness.ts';
import {
  busBuild,
  chatToQuote,
  type PublicArtifact,
  pollEvents,
  REPO_ROOT,
  rawGet,
  sha256,
  sharedGoCache,
} from './pipeline-helpers.ts';

/**
 * Issue 11's acceptance on the local stack: after delivery the conversation goes on. Version 1 is
 * delivered; a change request re-quotes the run; its approval builds version 2 from version 1's
 * commit on the run's one branch; both versions stay downloadable with their own bytes; a third
 * change whose build fails leaves version 2 delivered.
 *
 * The coder is an external command that builds the catalog's tip calculator under the requested
 * name, and hands in code that does not compile when the name says "Broken".
 */

const RUN_TIMEOUT_MS = 300_000;
const RECIPE = join(REPO_ROOT, 'worker-image/recipes/tip-calculator/files');

const CODER = `
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const { spec, worktree: wt } = JSON.parse(readFileSync(0, 'utf8'));
const name = spec.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const recipe = ${JSON.stringify(RECIPE)};
cpSync(join(recipe, 'tool'), join(wt, 'tool'), { recursive: true });
cpSync(join(recipe, 'web'), join(wt, 'web'), { recursive: true });
const meta = {
  name,
  title: spec.title,
  description: 'Works out the tip and splits the bill.',
  version: '0.1.0',
  artifact_type: spec.artifactType,
  ...(spec.platforms.length > 0 && { platforms: spec.platforms }),
};
writeFileSync(join(wt, 'app.json'), JSON.stringify(meta, null, 2) + '\\n');
if (/broken/i.test(spec.title)) writeFileSync(join(wt, 'tool', 'broken.go'), 'package tool\\n\\nfunc broken( {\\n');
console.log(JSON.stringify({ summary: 'The tip calculator is ready.' }));
`;

function git(repo: string, ...args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile('git', ['-C', repo, ...args], { timeout: 30_000 }, (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: String(stdout) });
    });
  });
}

interface Run {
  phase: string;
  status_message: string;
  version: number | null;
  versions: Array<{ version: number; current: boolean }>;
  revision: { version: number; base_version: number } | null;
  quote: { version: number; amount_cents: number; line_items: Array<{ label: string }> } | null;
  scope: { title: string } | null;
  artifacts: PublicArtifact[];
}

interface Receipt {
  verified_at: string;
  checks: Array<{ title: string; passed: boolean; ran_on: string }>;
}
type Listed = PublicArtifact & { receipt?: Receipt };

interface ShowJson {
  run: {
    branch: string;
    versions: Array<{ number: number; commit?: string; artifacts: Array<{ artifact_id: string }> }>;
  };
}

describe('after delivery the conversation goes on: versions 2, 3… of one run', () => {
  let stack: TestStack;
  let coderDir: string;
  let alice: ApiClient;
  let bob: ApiClient;
  let runId: string;
  let after = 0;
  const hashes = new Map<string, string>();
  let v1Ids: string[] = [];
  /** Each published artifact's receipt, as listed when its version was delivered. */
  const receipts = new Map<string, Receipt | undefined>();
  /** Every artifact of a version carries a receipt of that version's own verification: all checks passed. */
  const expectOwnReceipts = (artifacts: Listed[]) => {
    const at = new Set(artifacts.map((a) => a.receipt?.verified_at));
    expect(at.size).toBe(1);
    for (const a of artifacts) {
      expect(a.receipt, a.artifact_id).toBeDefined();
      expect(a.receipt?.checks.length).toBeGreaterThan(0);
      expect(a.receipt?.checks.every((c) => c.passed)).toBe(true);
    }
    return [...at][0] as string;
  };

  beforeAll(async () => {
    coderDir = await mkdtemp(join(tmpdir(), 'busdk-coder-'));
    const script = join(coderDir, 'coder.mjs');
    await writeFile(script, CODER);
    stack = await startTestStack({
      env: {
        GOCACHE: sharedGoCache(),
        CODER: 'command',
        CODER_COMMAND: JSON.stringify([process.execPath, script]),
        MAX_ATTEMPTS: '2',
      },
      startTimeoutMs: 120_000,
    });
    alice = new ApiClient(stack.url);
    bob = new ApiClient(stack.url);
  }, 180_000);

  afterAll(async () => {
    await stack?.dispose();
    if (coderDir) await rm(coderDir, { recursive: true, force: true });
  }, 60_000);

  const getRun = async () => (await alice.get<{ run: Run }>(`/api/v1/build-runs/${runId}`)).body.run;
  const say = async (text: string) => {
    const res = await alice.post<{ run: Run; reply: { text: string } }>(
      `/api/v1/build-runs/${runId}/messages`,
      {
        text,
      },
    );
    expect(res.status, res.text).toBe(200);
    return res.body;
  };
  const waitFor = async (types: string[]) => {
    const { terminal, next } = await pollEvents(alice, runId, {
      after,
      until: new Set(types),
      timeoutMs: RUN_TIMEOUT_MS,
    });
    after = next;
    return terminal;
  };
  const show = async (): Promise<ShowJson> => {
    const res = await busBuild(stack.dataDir, 'show', runId, '--json');
    expect(res.code, res.stderr).toBe(0);
    return JSON.parse(res.stdout) as ShowJson;
  };
  const download = async (a: PublicArtifact) => {
    const res = await alice.get(a.download_url ?? '');
    expect(res.status).toBe(302);
    const file = await rawGet(stack.url, String(res.headers.get('location')));
    expect(file.status).toBe(200);
    return sha256(file.body);
  };

  it(
    'version 1 is delivered',
    async () => {
      const quoted = await chatToQuote(
        alice,
        ['I need a tip calculator', 'A command line program for linux'],
        stack.dataDir,
      );
      runId = quoted.runId;
      expect(quoted.run.phase).toBe('quoted');
      expect((await busBuild(stack.dataDir, 'approve', runId)).code).toBe(0);
      expect((await waitFor(['bus.build.version.published', 'bus.build.run.failed']))?.type).toBe(
        'bus.build.version.published',
      );
      const listed = await alice.get<{ version: number; artifacts: Listed[] }>(
        `/api/v1/build-runs/${runId}/artifacts`,
      );
      expect(listed.body.version).toBe(1);
      expectOwnReceipts(listed.body.artifacts);
      for (const a of listed.body.artifacts) {
        hashes.set(a.artifact_id, await download(a));
        receipts.set(a.artifact_id, a.receipt);
      }
      v1Ids = [...hashes.keys()];
      expect(v1Ids.length).toBeGreaterThan(0);
      expect((await getRun()).phase).toBe('delivered');
    },
    RUN_TIMEOUT_MS + 60_000,
  );

  it(
    'a change request is quoted as version 2, and its approval builds it from version 1’s commit',
    async () => {
      const { run, reply } = await say('Please call it Bill Splitter');
      expect(run.phase).toBe('quoted');
      expect(run.revision).toEqual({ version: 2, base_version: 1 });
      expect(run.version).toBe(1);
      expect(run.scope?.title).toBe('Bill Splitter');
      expect(run.quote?.line_items[0]?.label).toBe('Change to your tool (version 2)');
      expect(reply.text).toMatch(/^The change:/);
      // Version 1 stays listed while the change is quoted and built.
      expect(run.artifacts.map((a) => a.artifact_id)).toEqual(v1Ids);

      // Two approvals: one build of version 2.
      const first = await busBuild(stack.dataDir, 'approve', runId);
      const second = await busBuild(stack.dataDir, 'approve', runId);
      expect(first.code, first.stderr).toBe(0);
      expect(second.code, second.stderr).toBe(0);
      expect(first.stdout).toMatch(new RegExp(`${runId}-v2`));
      expect(second.stdout).toMatch(/already/);
      expect((await waitFor(['bus.build.version.published', 'bus.build.run.failed']))?.type).toBe(
        'bus.build.version.published',
      );

      const current = await getRun();
      expect(current.version).toBe(2);
      expect(current.revision).toBeNull();
      expect(current.versions.map((v) => [v.version, v.current])).toEqual([
        [1, false],
        [2, true],
      ]);
      const v2 = await alice.get<{ version: number; artifacts: Listed[] }>(
        `/api/v1/build-runs/${runId}/artifacts`,
      );
      expect(v2.body.version).toBe(2);
      // Version 2's receipts come from its own verification, later than version 1's.
      const v2VerifiedAt = expectOwnReceipts(v2.body.artifacts);
      const v1VerifiedAt = receipts.get(v1Ids[0] as string)?.verified_at as string;
      expect(Date.parse(v2VerifiedAt)).toBeGreaterThan(Date.parse(v1VerifiedAt));
      for (const a of v2.body.artifacts) receipts.set(a.artifact_id, a.receipt);
      expect(v2.body.artifacts.map((a) => a.artifact_id)).toEqual(v1Ids.map((id) => `${id}-v2`));
      for (const a of v2.body.artifacts) {
        const hash = await download(a);
        expect(hash).not.toBe(hashes.get(a.artifact_id.replace(/-v2$/, '')));
        hashes.set(a.artifact_id, hash);
      }
      // Version 1 is still downloadable, byte for byte.
      const v1 = await alice.get<{ version: number; artifacts: Listed[] }>(
        `/api/v1/build-runs/${runId}/artifacts?version=1`,
      );
      expect(v1.body.artifacts.map((a) => a.artifact_id)).toEqual(v1Ids);
      for (const a of v1.body.artifacts) {
        expect(await download(a)).toBe(hashes.get(a.artifact_id));
        // … with its own receipt, unchanged by version 2.
        expect(a.receipt).toEqual(receipts.get(a.artifact_id));
      }

      // The branch history: version 2's commit descends from version 1's, on the run's one branch.
      const { run: internal } = await show();
      const [c1, c2] = internal.versions.map((v) => v.commit);
      expect(c1).toMatch(/^[0-9a-f]{40}$/);
      expect(c2).toMatch(/^[0-9a-f]{40}$/);
      expect(c2).not.toBe(c1);
      const repo = join(stack.dataDir, 'repos', 'template.git');
      expect((await git(repo, 'merge-base', '--is-ancestor', c1!, c2!)).code).toBe(0);
      expect(
        (await git(repo, 'merge-base', '--is-ancestor', c2!, `refs/heads/${internal.branch}`)).code,
      ).toBe(0);
      expect(
        (await git(repo, 'branch', '--list', `build/*/${runId}`)).stdout.trim().split('\n'),
      ).toHaveLength(1);
    },
    RUN_TIMEOUT_MS + 60_000,
  );

  it(
    'a change whose build fails leaves version 2 delivered; another session gets 404 for every version',
    async () => {
      const { run } = await say('Call it Broken Splitter');
      expect(run.revision).toEqual({ version: 3, base_version: 2 });
      expect((await busBuild(stack.dataDir, 'approve', runId)).code).toBe(0);
      expect((await waitFor(['bus.build.version.published', 'bus.build.run.failed']))?.type).toBe(
        'bus.build.run.failed',
      );
      const failed = await getRun();
      expect(failed.phase).toBe('failed');
      expect(failed.version).toBe(2);
      expect(failed.status_message).toMatch(/Version 2 is still delivered and unchanged/);
      expect(failed.artifacts.map((a) => a.artifact_id)).toEqual(v1Ids.map((id) => `${id}-v2`));
      const listed = await alice.get<{ version: number; artifacts: PublicArtifact[] }>(
        `/api/v1/build-runs/${runId}/artifacts`,
      );
      expect(listed.body.version).toBe(2);
      for (const a of listed.body.artifacts) expect(await download(a)).toBe(hashes.get(a.artifact_id));
      expect((await alice.get(`/api/v1/build-runs/${runId}/artifacts?version=3`)).status).toBe(404);

      for (const path of [
        `/api/v1/build-runs/${runId}`,
        `/api/v1/build-runs/${runId}/artifacts`,
        `/api/v1/build-runs/${runId}/artifacts?version=1`,
        `/api/v1/build-runs/${runId}/artifacts?version=2`,
        ...[...hashes.keys()].map((id) => `/api/v1/build-runs/${runId}/artifacts/${id}/download`),
      ]) {
        const res = await bob.get(path);
        expect([401, 404], `${path}: ${res.status}`).toContain(res.status);
      }

      // The operator sees the versions with their commits, and the failed change.
      const text = await busBuild(stack.dataDir, 'show', runId);
      expect(text.stdout).toMatch(/2 \(current\)/);
      expect(text.stdout).toMatch(/version 3 from version 2/);
      const runs = await busBuild(stack.dataDir, 'runs');
      expect(runs.stdout).toMatch(/v2 → v3/);
    },
    RUN_TIMEOUT_MS + 60_000,
  );

  it(
    'asked again after the failed change, version 3 is built from version 2’s verified commit, not the failed branch tip',
    async () => {
      const repo = join(stack.dataDir, 'repos', 'template.git');
      const before = await show();
      const [, c2] = before.run.versions.map((v) => v.commit);
      const failedTip = (await git(repo, 'rev-parse', `refs/heads/${before.run.branch}`)).stdout.trim();
      // The failed attempts' work is on the branch: the tip has the file that broke the build.
      expect(failedTip).not.toBe(c2);
      expect((await git(repo, 'cat-file', '-e', `${failedTip}:tool/broken.go`)).code).toBe(0);

      const { run } = await say('Then call it Tip Splitter');
      expect(run.phase).toBe('quoted');
      expect(run.revision).toEqual({ version: 3, base_version: 2 });
      const approved = await busBuild(stack.dataDir, 'approve', runId);
      expect(approved.code, approved.stderr).toBe(0);
      // A build of its own: the failed change's execution name is not reused.
      expect(approved.stdout).toMatch(new RegExp(`${runId}-v3-again-2`));
      expect((await waitFor(['bus.build.version.published', 'bus.build.run.failed']))?.type).toBe(
        'bus.build.version.published',
      );

      const current = await getRun();
      expect(current.version).toBe(3);
      expect(current.scope?.title).toBe('Tip Splitter');
      const v3 = await alice.get<{ version: number; artifacts: Listed[] }>(
        `/api/v1/build-runs/${runId}/artifacts`,
      );
      expect(v3.body.version).toBe(3);
      expect(v3.body.artifacts.map((a) => a.artifact_id)).toEqual(v1Ids.map((id) => `${id}-v3`));
      expectOwnReceipts(v3.body.artifacts);
      for (const a of v3.body.artifacts) await download(a);
      expect((await getRun()).phase).toBe('delivered');

      // Version 3's verified commit: built on version 2's tree (the broken file is gone), on top of
      // the failed work (history is never rewritten).
      const { run: internal } = await show();
      const c3 = internal.versions.find((v) => v.number === 3)?.commit as string;
      expect(c3).toMatch(/^[0-9a-f]{40}$/);
      expect((await git(repo, 'cat-file', '-e', `${c3}:tool/broken.go`)).code).not.toBe(0);
      expect((await git(repo, 'merge-base', '--is-ancestor', failedTip, c3)).code).toBe(0);
      expect((await git(repo, 'merge-base', '--is-ancestor', c2 as string, c3)).code).toBe(0);
      // Versions 1 and 2 stay downloadable, byte for byte.
      for (const n of [1, 2]) {
        const listed = await alice.get<{ version: number; artifacts: Listed[] }>(
          `/api/v1/build-runs/${runId}/artifacts?version=${n}`,
        );
        for (const a of listed.body.artifacts) expect(await download(a)).toBe(hashes.get(a.artifact_id));
      }
    },
    RUN_TIMEOUT_MS + 60_000,
  );
});
