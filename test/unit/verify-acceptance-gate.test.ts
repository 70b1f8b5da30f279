import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AcceptanceCheck,
  AcceptanceCheckSchema,
  type CheckOutcome,
  type CliCheck,
} from '../../lib/domain/acceptance.ts';
import { cliCheckProblems } from '../../lib/domain/acceptance-eval.ts';
import {
  type CliChecksRunner,
  PUBLIC_SUMMARIES,
  SmokeRunnerError,
  type VerifyCandidateOptions,
  verifyCandidate,
  type WebChecksRunner,
} from '../../lib/verify/index.ts';
import {
  buildGo,
  cleanupTempDirs,
  HAS_GO,
  HOST,
  makeCandidate,
  PNG,
  shellBinary,
  tempDir,
  writeManifest,
} from './verify-fixtures.ts';

afterAll(cleanupTempDirs);

let binary: string;
beforeAll(() => {
  const out = tempDir('acc-bins');
  // Prints "usage: tool [--help]" for --help and "hello" otherwise.
  binary = HAS_GO
    ? buildGo(out)
    : shellBinary(out, 'ok', 'case "$1" in --help) echo "usage: tool";; *) echo hello;; esac');
});

const check = (c: unknown): AcceptanceCheck => AcceptanceCheckSchema.parse(c);
const SAYS_HELLO = check({
  kind: 'cli',
  id: 'says-hello',
  title: 'It greets you',
  args: ['greet'],
  expect: [{ op: 'contains', value: 'hello' }],
});
const SHOWS_MILES = check({
  kind: 'cli',
  id: 'km-to-mi',
  title: '10 km is shown as 6.21 miles',
  args: ['10', 'km', 'mi'],
  expect: [{ op: 'number', value: 6.21, tolerance: 0.01 }],
});
const WEB_TOTAL = check({
  kind: 'web',
  id: 'web-total',
  title: 'The total is shown',
  steps: [{ action: 'fill', label: 'Amount', value: '100' }],
  expect: [{ type: 'text', text: 'Total' }],
});

/** Runs the verified copy for real and judges it with the shared evaluation. */
const runCliForReal: CliChecksRunner = async (entry, file, checks) => {
  const out: CheckOutcome[] = [];
  for (const c of checks as CliCheck[]) {
    const started = Date.now();
    const run = await new Promise<{ exitCode: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(file, c.args, { timeout: c.timeoutMs }, (err, stdout, stderr) =>
        resolve({ exitCode: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    const problems = cliCheckProblems(c, { ...run, timedOut: false });
    out.push({
      id: c.id,
      kind: 'cli',
      passed: problems.length === 0,
      ranOn: entry.platform ?? HOST,
      durationMs: Date.now() - started,
      ...(problems.length > 0 && { detail: problems.join('; ') }),
    });
  }
  return out;
};

const webCalls: string[] = [];
const webPasses: WebChecksRunner = async (entry, _dir, checks, opts) => {
  webCalls.push(entry.artifact_id);
  return {
    status: 'ran',
    outcomes: checks.map((c) => ({
      id: c.id,
      kind: 'web' as const,
      passed: true,
      ranOn: 'web',
      durationMs: 5,
    })),
    ...(opts.screenshot && { screenshot: PNG }),
    notes: [],
  };
};

const verify = (root: string, o: Partial<VerifyCandidateOptions> = {}) =>
  verifyCandidate({
    root,
    expectedArtifactType: 'both',
    hostPlatform: HOST,
    checkBinaryFormat: HAS_GO,
    smoke: { binaryTimeoutMs: 5_000, browser: false },
    ...o,
  });

describe('verifyCandidate: acceptance checks', () => {
  it('runs every check on the exact candidate bytes; all pass: the outcomes and the screenshot are in the report', async () => {
    const c = await makeCandidate({ binary });
    const r = await verify(c.root, {
      acceptance: { checks: [SAYS_HELLO, WEB_TOTAL], runCli: runCliForReal, runWeb: webPasses },
    });
    expect(r.internalReason).toBeUndefined();
    expect(r.passed).toBe(true);
    expect(r.checks.slice(-2).map((x) => [x.name, x.passed])).toEqual([
      ['acceptance.cli', true],
      ['acceptance.web', true],
    ]);
    expect(r.acceptance?.outcomes.map((o) => [o.id, o.passed, o.ranOn])).toEqual([
      ['says-hello', true, HOST],
      ['web-total', true, 'web'],
    ]);
    expect(r.acceptance?.screenshots).toEqual([{ artifactId: 'web', png: PNG }]);
  });

  it('a check the tool fails fails verification: title, expected and got go to the internal reason only', async () => {
    const c = await makeCandidate({ binary });
    const r = await verify(c.root, {
      acceptance: { checks: [SAYS_HELLO, SHOWS_MILES, WEB_TOTAL], runCli: runCliForReal, runWeb: webPasses },
    });
    expect(r.passed).toBe(false);
    expect(r.artifacts).toEqual([]);
    expect(r.checks.filter((x) => !x.passed).map((x) => x.name)).toEqual(['acceptance.cli']);
    expect(r.internalReason).toContain('acceptance.cli: ');
    expect(r.internalReason).toContain('"10 km is shown as 6.21 miles" (km-to-mi)');
    expect(r.internalReason).toMatch(/should show 6\.21.*hello/);
    expect(r.publicSummary).toBe(PUBLIC_SUMMARIES.acceptance);
    expect(r.acceptance?.outcomes.find((o) => o.id === 'km-to-mi')).toMatchObject({ passed: false });
  });

  it('a check the runner did not report (or reported malformed) never passes', async () => {
    const c = await makeCandidate({ binary, web: false });
    const silent: CliChecksRunner = async () => [];
    const r = await verify(c.root, {
      expectedArtifactType: 'binary',
      acceptance: { checks: [SAYS_HELLO], runCli: silent },
    });
    expect(r.passed).toBe(false);
    expect(r.internalReason).toContain('reported no result');
    const bad: CliChecksRunner = async () => [
      { id: 'says-hello', kind: 'cli', passed: true, ranOn: HOST, durationMs: -1 },
    ];
    const r2 = await verify(c.root, {
      expectedArtifactType: 'binary',
      acceptance: { checks: [SAYS_HELLO], runCli: bad },
    });
    expect(r2.passed).toBe(false);
    expect(r2.internalReason).toContain('invalid result');
  });

  it('runs no check on a candidate that failed a static check', async () => {
    const c = await makeCandidate({ binary });
    writeFileSync(path.join(c.root, 'web/extra.go'), 'package main\n');
    await writeManifest(c.root, c.entries);
    let calls = 0;
    const counting: CliChecksRunner = async (...a) => {
      calls++;
      return runCliForReal(...a);
    };
    const r = await verify(c.root, { acceptance: { checks: [SAYS_HELLO], runCli: counting } });
    expect(r.passed).toBe(false);
    expect(calls).toBe(0);
    expect(r.acceptance).toBeUndefined();
  });

  it('a runner that cannot run is no verdict: no runner or a skipped browser throws SmokeRunnerError', async () => {
    const c = await makeCandidate({ binary });
    await expect(verify(c.root, { acceptance: { checks: [SAYS_HELLO] } })).rejects.toBeInstanceOf(
      SmokeRunnerError,
    );
    const skipped: WebChecksRunner = async () => ({ status: 'skipped', outcomes: [], notes: ['no browser'] });
    await expect(
      verify(c.root, { acceptance: { checks: [WEB_TOTAL], runCli: runCliForReal, runWeb: skipped } }),
    ).rejects.toThrow(/could not run: no browser/);
  });

  it('a spec without checks keeps the checks of before (no acceptance entries, nothing run)', async () => {
    const c = await makeCandidate({ binary });
    const r = await verify(c.root, { acceptance: { checks: [], runCli: runCliForReal, runWeb: webPasses } });
    expect(r.passed).toBe(true);
    expect(r.checks.map((x) => x.name)).not.toContain('acceptance.cli');
    expect(r.acceptance).toBeUndefined();
  });
});
