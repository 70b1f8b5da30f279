import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROGRESS_SENTENCES } from '../../lib/domain/events.ts';
import { ApiClient, startTestStack, type TestStack } from './harness.ts';
import {
  busBuild,
  chatToQuote,
  type PublicArtifact,
  pollEvents,
  REPO_ROOT,
  sharedGoCache,
} from './pipeline-helpers.ts';

/**
 * Issue 9's acceptance, end to end on the local stack: a well-formed tool that does not do what
 * the quote's checks say is never delivered. Two external coder commands (`CODER=command`) build
 * a unit converter:
 * - `skeleton`: hands in the template's own letter-case tool under the requested name (only
 *   app.json changes): it builds, tests, has `--help` and a page, but converts nothing;
 * - `wrong-number`: copies the catalog's unit converter with one constant changed (a mile of
 *   1600 m instead of 1609.344 m): a complete app that computes a wrong number.
 * Both must end `failed` after their repair attempts, with the failing check named by `bus-build
 * show`, nothing published and nothing listed. On the code before the gate ran the checks, both
 * reached `artifact_ready`.
 */

const RUN_TIMEOUT_MS = 300_000;
const RECIPE = join(REPO_ROOT, 'worker-image/recipes/unit-converter/files');

/** The external agent: reads its assignment on stdin, writes into the worktree (its cwd). */
const CODER = `
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const assignment = JSON.parse(readFileSync(0, 'utf8'));
const spec = assignment.spec;
const wt = assignment.worktree;
const wrong = /miles/i.test(spec.requestText);
const meta = {
  name: 'unit-converter',
  title: 'Unit converter',
  description: 'Converts units.',
  version: '0.1.0',
  artifact_type: spec.artifactType,
  ...(spec.platforms.length > 0 && { platforms: spec.platforms }),
};
writeFileSync(join(wt, 'app.json'), JSON.stringify(meta, null, 2) + '\\n');
if (wrong) {
  const recipe = ${JSON.stringify(RECIPE)};
  cpSync(join(recipe, 'web'), join(wt, 'web'), { recursive: true });
  cpSync(join(recipe, 'tool', 'tool.go'), join(wt, 'tool', 'tool.go'));
  for (const rel of ['tool/tool.go', 'web/app.js']) {
    const file = join(wt, rel);
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll('1609.344', '1600'));
  }
  // Its own tests would catch the constant; this coder ships a test that checks nothing of it.
  writeFileSync(join(wt, 'tool', 'tool_test.go'), 'package tool\\n\\nimport "testing"\\n\\nfunc TestBuilds(t *testing.T) {}\\n');
}
console.log(JSON.stringify({ summary: 'The unit converter is ready.' }));
`;

describe('the gate runs the agreed checks end to end (external coder command)', () => {
  let stack: TestStack;
  let coderDir: string;
  let client: ApiClient;

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
    client = new ApiClient(stack.url);
  }, 180_000);

  afterAll(async () => {
    await stack?.dispose();
    if (coderDir) await rm(coderDir, { recursive: true, force: true });
  }, 60_000);

  /** Quotes a binary-only unit converter, approves it and waits for the end of its build. */
  async function build(request: string): Promise<{ runId: string; messages: string[] }> {
    const { runId, run } = await chatToQuote(
      client,
      [request, 'A command line program for linux please', 'A command line program for linux please'],
      stack.dataDir,
    );
    expect(run.phase).toBe('quoted');
    expect(run.artifact_type).toBe('binary');
    const approved = await busBuild(stack.dataDir, 'approve', runId);
    expect(approved.code, approved.stderr).toBe(0);
    const { events, terminal } = await pollEvents(client, runId, { timeoutMs: RUN_TIMEOUT_MS });
    expect(terminal?.type, stack.output().slice(-4000)).toBe('bus.build.run.failed');
    return { runId, messages: events.map((e) => e.message) };
  }

  async function expectNotDelivered(runId: string, failingCheck: RegExp): Promise<void> {
    const pub = await client.get<{ run: { phase: string; artifacts: unknown[]; attempt: number } }>(
      `/api/v1/build-runs/${runId}`,
    );
    expect(pub.body.run.phase).toBe('failed');
    expect(pub.body.run.attempt).toBe(2);
    expect(pub.body.run.artifacts).toEqual([]);
    const listed = await client.get<{ artifacts: PublicArtifact[] }>(`/api/v1/build-runs/${runId}/artifacts`);
    expect(listed.status).toBe(200);
    expect(listed.body.artifacts).toEqual([]);
    // Nothing under the run in the published-artifacts bucket.
    const bucket = join(stack.dataDir, 's3', 'bus-build-artifacts', 'runs', runId);
    expect(existsSync(bucket) ? readdirSync(bucket) : []).toEqual([]);
    // The visitor sees only fixed sentences; the operator sees which agreed check failed.
    // (The quote's check titles are public by design: only ids and the gate's detail must not be.)
    expect(JSON.stringify(pub.body)).not.toMatch(/km-to-miles|expected|should (show|contain|be)|got "/);
    const show = await busBuild(stack.dataDir, 'show', runId);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(failingCheck);
    const json = await busBuild(stack.dataDir, 'show', runId, '--json');
    const data = JSON.parse(json.stdout) as {
      run?: { verification?: Array<{ passed: boolean; outcomes?: Array<{ id: string; passed: boolean }> }> };
      verification?: Array<{ passed: boolean; outcomes?: Array<{ id: string; passed: boolean }> }>;
    };
    const verification = data.verification ?? data.run?.verification ?? [];
    expect(verification.map((v) => v.passed)).toEqual([false, false]);
    for (const v of verification) expect(v.outcomes?.find((o) => o.id === 'km-to-miles')?.passed).toBe(false);
  }

  it(
    'the template skeleton under the requested name fails its checks, is repaired once, fails, is never delivered',
    async () => {
      const { runId, messages } = await build('I need a unit converter');
      expect(messages).toContain(PROGRESS_SENTENCES.repairing);
      await expectNotDelivered(runId, /FAIL.*check km-to-miles "10 km is shown as 6\.21 miles" on linux-/);
    },
    RUN_TIMEOUT_MS + 60_000,
  );

  it(
    'a complete unit converter that computes a wrong number fails too',
    async () => {
      const { runId } = await build('I need a unit converter for miles and kilometres');
      await expectNotDelivered(runId, /FAIL.*check km-to-miles "10 km is shown as 6\.21 miles"/);
      // The other agreed checks did pass on that build: only the wrong number stops it.
      const show = await busBuild(stack.dataDir, 'show', runId);
      expect(show.stdout).toMatch(/ok .*check celsius-to-fahrenheit/);
    },
    RUN_TIMEOUT_MS + 60_000,
  );
});
