import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { chown, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ArtifactType, BuildSpec } from '../../lib/domain/build-spec.ts';
import { detectHostPlatform } from '../../lib/verify/smoke-binary.ts';
import { ExternalCommandCoder } from '../../worker-image/src/coder/external-command-coder.ts';
import { workerProgramArgv } from '../../worker-image/src/coder/self-check-command.ts';
import { coderCommandEnv } from '../../worker-image/src/coders.ts';
import {
  type CommandSandbox,
  giveToCommandUser,
  prepareSandbox,
} from '../../worker-image/src/command-user.ts';
import { ARTIFACT_BUILDER_PROFILE } from '../../worker-image/src/profile.ts';
import { sharedGoCache } from './pipeline-helpers.ts';

/**
 * The external agent's self-check end to end: a real agent script (node) gets the assignment,
 * runs the template's real build (Go) on a copy of template-repo and then exactly the
 * `self_check.argv` it was given — the worker program's `self-check` (main.ts through tsx) — and
 * sees the approved check fail, a stale build refused, then the check pass after its fix. With
 * `COMMAND_USER` (root only) the agent, its build and the self-check (binary and browser) run as
 * that user, who can read the self-check file but not change it.
 */

const TEMPLATE = fileURLToPath(new URL('../../template-repo/', import.meta.url));
const RUN_ID = 'run_abcdefghijklmnopqrstuvwxyz';
const HOST = detectHostPlatform();
const IS_ROOT = process.getuid?.() === 0;

const CHECKS = [
  {
    kind: 'cli' as const,
    id: 'shouts-hello',
    title: '“hello” is shown as “HELLO”',
    args: ['hello'],
    exitCode: 0,
    timeoutMs: 5000,
    expect: [{ op: 'contains' as const, stream: 'stdout' as const, value: 'HELLO', ignoreCase: false }],
  },
];

/**
 * The agent: build the template as it is (title case) and self-check; fix the default case to
 * upper, self-check without building (stale), build, self-check --json. One `TRACE` line on stdout.
 */
const AGENT = `import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
const a = JSON.parse(readFileSync(0, 'utf8'));
const [program, ...args] = a.self_check.argv;
const file = args.at(-1);
const trace = { uid: process.getuid(), note: a.self_check.note, argv: a.self_check.argv, runs: [] };
if (process.getuid() !== 0) {
  try {
    writeFileSync(file, '{}');
    trace.tamper = 'written';
  } catch (err) {
    trace.tamper = err.code;
  }
}
const build = () => {
  for (const argv of a.commands.build) {
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(r.stdout + r.stderr);
      process.exit(5);
    }
  }
};
const selfCheck = (...extra) => {
  const r = spawnSync(program, [...args, ...extra], { encoding: 'utf8', timeout: 60000 });
  trace.runs.push({ code: r.status, out: r.stdout, err: r.stderr.slice(-2000) });
};
const app = JSON.parse(readFileSync('app.json', 'utf8'));
writeFileSync('app.json', JSON.stringify({ ...app, artifact_type: a.spec.artifactType }, null, 2) + '\\n');
build();
selfCheck();
const tool = readFileSync('tool/tool.go', 'utf8');
writeFileSync('tool/tool.go', tool.replace('fs.String("case", "title"', 'fs.String("case", "upper"'));
selfCheck();
build();
selfCheck('--json');
console.log('TRACE ' + JSON.stringify(trace));
console.log(JSON.stringify({ summary: 'The tool shouts.' }));
`;

let root: string | undefined;

afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

function spec(type: ArtifactType): BuildSpec {
  return {
    title: 'Shout text',
    summary: 'Shows text in capitals.',
    requestText: 'I want a tool that shouts my text',
    artifactType: type,
    platforms: [],
    features: ['Show the text in capitals'],
    outOfScope: [],
    complexity: 'small',
    checks: CHECKS,
  };
}

interface Trace {
  uid: number;
  note: string;
  argv: string[];
  tamper: string;
  runs: { code: number | null; out: string; err: string }[];
}

async function attempt(opts: { type: ArtifactType; sandbox?: CommandSandbox; goCache: string }) {
  const scratch = root!;
  const worktree = path.join(scratch, 'repo');
  cpSync(TEMPLATE, worktree, { recursive: true, filter: (src) => !src.includes(`${path.sep}dist`) });
  const gitDir = opts.sandbox ? path.join(scratch, 'git') : undefined;
  const git = (...args: string[]) =>
    execFileSync('git', [...(gitDir ? [`--git-dir=${gitDir}`, `--work-tree=${worktree}`] : []), ...args], {
      cwd: worktree,
      stdio: 'ignore',
    });
  if (gitDir) execFileSync('git', ['init', '-q', '--bare', gitDir], { stdio: 'ignore' });
  else git('init', '-q');
  git('add', '-A');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'base');
  if (opts.sandbox) {
    chmodSync(gitDir!, 0o700);
    await giveToCommandUser(worktree, opts.sandbox);
  }
  const agent = path.join(scratch, 'agent.mjs');
  writeFileSync(agent, AGENT, { mode: 0o644 });
  const coder = new ExternalCommandCoder({
    argv: [process.execPath, agent],
    profile: ARTIFACT_BUILDER_PROFILE,
    commandEnv: coderCommandEnv(RUN_ID, { ...process.env, GOCACHE: opts.goCache }),
    maxSeconds: 240,
    killGraceMs: 1000,
    selfCheckProgram: workerProgramArgv(),
  });
  const logs: string[] = [];
  const result = await coder.code({
    worktree,
    spec: spec(opts.type),
    attempt: 1,
    log: (l) => logs.push(l),
    ...(opts.sandbox && { sandbox: opts.sandbox, gitDir }),
  });
  expect(result, logs.join('\n')).toMatchObject({ ok: true, summary: 'The tool shouts.' });
  const line = logs.find((l) => l.startsWith('command | TRACE '));
  expect(line, logs.join('\n')).toBeDefined();
  const trace = JSON.parse(line!.slice('command | TRACE '.length)) as Trace;
  // The file went with the attempt.
  expect(existsSync(path.dirname(trace.argv.at(-1)!))).toBe(false);
  expect(trace.argv.slice(0, -2)).toEqual(workerProgramArgv());
  expect(trace.note).toMatch(/self-checking only/);
  return trace;
}

function expectFailThenPass(trace: Trace, type: ArtifactType): void {
  const [first, stale, last] = trace.runs;
  expect(trace.runs).toHaveLength(3);
  expect(first?.code, first?.err).toBe(1);
  expect(first?.out).toMatch(/^SOME FAILED:\n/);
  expect(first?.out).toContain(`PASSED smoke: bin-${HOST} --help`);
  expect(first?.out).toContain(
    `FAILED check shouts-hello "“hello” is shown as “HELLO”" on ${HOST}: stdout should contain "HELLO"; got "Hello\\n"`,
  );
  if (type !== 'binary') expect(first?.out).toContain('PASSED render check: web');
  expect(stale?.code).toBe(1);
  expect(stale?.out).toContain(
    'FAILED: tool/tool.go changed after the last build: run the build command first',
  );
  expect(last?.code, last?.out + (last?.err ?? '')).toBe(0);
  const report = JSON.parse(last!.out) as { passed: boolean; results: { kind: string; status: string }[] };
  expect(report.passed).toBe(true);
  expect(report.results).toContainEqual(
    expect.objectContaining({ kind: 'check', id: 'shouts-hello', status: 'passed' }),
  );
  expect(report.results.map((r) => r.kind)).toEqual(
    type === 'binary' ? ['smoke', 'check'] : ['smoke', 'check', 'render'],
  );
}

describe('the external agent runs self_check.argv against its real build', () => {
  it.skipIf(!HOST)(
    'sees the failing check, a stale build refused, then the passing check',
    async () => {
      root = await mkdtemp(path.join(tmpdir(), 'ext-self-check-'));
      const trace = await attempt({ type: 'binary', goCache: sharedGoCache() });
      expectFailThenPass(trace, 'binary');
    },
    240_000,
  );

  it.skipIf(!HOST || !IS_ROOT)(
    'with COMMAND_USER, the agent and its self-check (binary and browser) run as that user, who cannot change the file',
    async () => {
      const user = { uid: 64124, gid: 64124 };
      root = await mkdtemp(path.join(tmpdir(), 'ext-self-check-user-'));
      chmodSync(root, 0o711);
      // The user's own Go cache, kept between test runs (as in worker.test.ts, same uid).
      const userCache = path.join(tmpdir(), `busdk-worker-test-go-build-${user.uid}`);
      mkdirSync(userCache, { recursive: true, mode: 0o700 });
      const info = lstatSync(userCache);
      if (!info.isDirectory() || info.isSymbolicLink()) throw new Error(`${userCache} is not a directory`);
      await chown(userCache, user.uid, user.gid);
      const sandbox = await prepareSandbox(root, user);
      const trace = await attempt({ type: 'both', sandbox, goCache: userCache });
      expect(trace.uid).toBe(user.uid);
      expect(trace.tamper).toBe('EACCES');
      expectFailThenPass(trace, 'both');
    },
    300_000,
  );
});
