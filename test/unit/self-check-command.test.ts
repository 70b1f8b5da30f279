import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AcceptanceCheckInput } from '../../lib/domain/acceptance.ts';
import { detectHostPlatform } from '../../lib/verify/smoke-binary.ts';
import {
  EXIT_ALL_PASSED,
  EXIT_SOME_FAILED,
  EXIT_USAGE,
  parseSelfCheckArgs,
  runSelfCheckCommand,
  selfCheckArgv,
  workerProgramArgv,
} from '../../worker-image/src/coder/self-check-command.ts';
import {
  MAX_SELF_CHECK_FILE_BYTES,
  parseSelfCheckFile,
  readSelfCheckFile,
  type SelfCheckFileInput,
  writeSelfCheckFile,
} from '../../worker-image/src/coder/self-check-file.ts';

/**
 * The external agent's `self-check` command: arguments, the strict self-check file (and where
 * and how the worker writes it), exit codes and the report, on a fake `dist/` whose binary is a
 * shell script (no Go, no browser: the web checks are switched off in the file).
 */

const HOST = detectHostPlatform() ?? 'linux-amd64';
const IS_ROOT = process.getuid?.() === 0;

let root: string;
let worktree: string;

const BINARY = `#!/bin/sh
case "$1" in
  --help|--version) echo "usage: tool [--help]"; exit 0 ;;
esac
echo "hello $*"
`;

type CliCheckInput = Extract<AcceptanceCheckInput, { kind: 'cli' }>;

const greets = (id: string, value: string): CliCheckInput => ({
  kind: 'cli',
  id,
  title: `It greets ${value.slice(0, 40)}`,
  args: ['world'],
  expect: [{ op: 'equals', stream: 'stdout', value }],
});

function fileInput(extra: Partial<SelfCheckFileInput> = {}): SelfCheckFileInput {
  return {
    version: 1,
    worktree,
    distDir: path.join(worktree, 'dist'),
    artifactType: 'binary',
    checks: [greets('greets-world', 'hello world')],
    browser: false,
    ...extra,
  };
}

/** dist/ as the template's build would leave it (a shell-script binary), built "now". */
function build(): void {
  const bin = `bin/tool-${HOST}`;
  mkdirSync(path.join(worktree, 'dist/bin'), { recursive: true });
  writeFileSync(path.join(worktree, 'dist', bin), BINARY);
  chmodSync(path.join(worktree, 'dist', bin), 0o755);
  const manifest = {
    schema_version: 1,
    artifacts: [
      {
        artifact_id: `tool-${HOST}`,
        kind: 'binary',
        name: 'tool',
        path: bin,
        sha256: '0'.repeat(64),
        size_bytes: BINARY.length,
        platform: HOST,
        source_included: false,
      },
    ],
  };
  writeFileSync(path.join(worktree, 'dist/artifact-manifest.json'), JSON.stringify(manifest));
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runSelfCheckCommand(argv, {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

async function written(extra: Partial<SelfCheckFileInput> = {}): Promise<string> {
  const f = await writeSelfCheckFile(fileInput(extra), { parent: root });
  return f.file;
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'self-check-cmd-'));
  worktree = path.join(root, 'repo');
  mkdirSync(path.join(worktree, 'tool'), { recursive: true });
  writeFileSync(path.join(worktree, 'tool/tool.go'), 'package tool\n');
  writeFileSync(path.join(worktree, 'app.json'), '{}\n');
  // Sources older than any build below.
  const past = new Date(Date.now() - 60_000);
  utimesSync(path.join(worktree, 'tool/tool.go'), past, past);
  utimesSync(path.join(worktree, 'app.json'), past, past);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('self-check arguments', () => {
  it('takes one file and --json in any order', () => {
    expect(parseSelfCheckArgs(['/x/f.json'])).toEqual({ help: false, file: '/x/f.json', json: false });
    expect(parseSelfCheckArgs(['--json', '/x/f.json'])).toEqual({
      help: false,
      file: '/x/f.json',
      json: true,
    });
    expect(parseSelfCheckArgs(['/x/f.json', '--help'])).toEqual({ help: true });
  });

  it.each([
    [[], /no self-check file/],
    [['a', 'b'], /only one/],
    [['--yaml', 'a'], /unknown option --yaml/],
    [[''], /no self-check file/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseSelfCheckArgs(argv)).toThrow(message);
  });

  it('exits 2 with the usage on bad arguments, 0 with it on --help', async () => {
    const bad = await run(['--nope']);
    expect(bad.code).toBe(EXIT_USAGE);
    expect(bad.err).toMatch(/unknown option --nope\nusage: self-check <self-check file> \[--json\]/);
    const help = await run(['--help']);
    expect(help.code).toBe(EXIT_ALL_PASSED);
    expect(help.out).toMatch(/^usage: self-check/);
  });
});

describe('the self-check file', () => {
  it('round-trips what the worker writes: a 0444 file in a fresh 0711 directory outside the worktree', async () => {
    const f = await writeSelfCheckFile(fileInput(), { parent: root });
    expect(path.dirname(path.dirname(f.file))).toBe(root);
    expect(f.file.startsWith(`${worktree}${path.sep}`)).toBe(false);
    expect(statSync(path.dirname(f.file)).mode & 0o777).toBe(0o711);
    expect(statSync(f.file).mode & 0o777).toBe(0o444);
    const back = await readSelfCheckFile(f.file);
    expect(back).toMatchObject({ worktree, artifactType: 'binary', browser: false });
    expect(back.checks[0]).toMatchObject({ id: 'greets-world', exitCode: 0, timeoutMs: 5000 });
    await f.remove();
    expect(() => statSync(path.dirname(f.file))).toThrow();
  });

  const valid = () => JSON.parse(JSON.stringify(fileInput())) as Record<string, unknown>;
  it.each<[string, (f: Record<string, unknown>) => unknown, RegExp]>([
    ['an unknown key', (f) => ({ ...f, runAs: { uid: 0, gid: 0 } }), /unrecognized key/i],
    ['a relative worktree', (f) => ({ ...f, worktree: 'repo', distDir: 'repo/dist' }), /absolute/],
    ['a dist outside the worktree', (f) => ({ ...f, distDir: '/etc' }), /distDir/],
    ['a dotted path', (f) => ({ ...f, worktree: '/tmp/../etc', distDir: '/tmp/../etc/dist' }), /normalized/],
    ['another version', (f) => ({ ...f, version: 2 }), /version/],
    ['a bad artifact type', (f) => ({ ...f, artifactType: 'app' }), /artifactType/],
    ['a relative browser', (f) => ({ ...f, browser: 'chromium' }), /browser/],
    ['an invalid check', (f) => ({ ...f, checks: [{ kind: 'cli', id: 'x' }] }), /checks/],
    [
      'duplicate check ids',
      (f) => ({ ...f, checks: [greets('a', 'x'), greets('a', 'y')] }),
      /duplicate check id/,
    ],
  ])('refuses %s', (_name, change, message) => {
    expect(() => parseSelfCheckFile(JSON.stringify(change(valid())))).toThrow(message);
  });

  it('refuses text that is not JSON, an oversize file, a symlink and a missing file', async () => {
    expect(() => parseSelfCheckFile('{nope')).toThrow(/not valid JSON/);
    const big = path.join(root, 'big.json');
    writeFileSync(big, `{"version":1,"pad":"${'x'.repeat(MAX_SELF_CHECK_FILE_BYTES)}"}`);
    await expect(readSelfCheckFile(big)).rejects.toThrow(/over 262144 bytes/);
    expect(() => parseSelfCheckFile(`{"pad":"${'x'.repeat(MAX_SELF_CHECK_FILE_BYTES)}"}`)).toThrow(/over/);
    const good = await written();
    const link = path.join(root, 'link.json');
    symlinkSync(good, link);
    await expect(readSelfCheckFile(link)).rejects.toThrow(/not a regular file/);
    await expect(readSelfCheckFile(path.join(root, 'missing.json'))).rejects.toThrow(/cannot read/);
  });

  it.skipIf(!IS_ROOT)('is not written where the command user cannot reach it (root)', async () => {
    chmodSync(root, 0o711);
    const closed = path.join(root, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    await expect(
      writeSelfCheckFile(fileInput(), { parent: closed, user: { uid: 64123, gid: 64123 } }),
    ).rejects.toThrow(/cannot reach/);
    chmodSync(closed, 0o711);
    const f = await writeSelfCheckFile(fileInput(), { parent: closed, user: { uid: 64123, gid: 64123 } });
    await f.remove();
  });
});

describe('self-check exit codes and report', () => {
  it('exits 2 for a missing or invalid file and for a missing worktree', async () => {
    const missing = await run([path.join(root, 'nope.json')]);
    expect(missing).toMatchObject({ code: EXIT_USAGE, out: '' });
    expect(missing.err).toMatch(/^self-check: cannot read the self-check file/);
    const invalid = path.join(root, 'invalid.json');
    writeFileSync(invalid, '{"version":1}');
    expect((await run([invalid])).err).toMatch(/the self-check file is invalid \(worktree: /);
    const gone = await written({ worktree: path.join(root, 'gone'), distDir: path.join(root, 'gone/dist') });
    expect(await run([gone])).toMatchObject({ code: EXIT_USAGE });
  });

  it('exits 1 without a build, and for a build older than the sources', async () => {
    const file = await written();
    const none = await run([file]);
    expect(none.code).toBe(EXIT_SOME_FAILED);
    expect(none.out).toBe(
      'SOME FAILED:\nFAILED: no dist/artifact-manifest.json: run the build command first\n',
    );
    build();
    const later = new Date(Date.now() + 5_000);
    utimesSync(path.join(worktree, 'tool/tool.go'), later, later);
    const stale = await run([file, '--json']);
    expect(stale.code).toBe(EXIT_SOME_FAILED);
    expect(JSON.parse(stale.out)).toMatchObject({
      passed: false,
      results: [
        {
          kind: 'build',
          status: 'failed',
          detail: 'tool/tool.go changed after the last build: run the build command first',
        },
      ],
    });
  });

  it('exits 0 when every check passes and 1 when one fails, with expected vs. got per check', async () => {
    build();
    const pass = await run([await written()]);
    expect(pass.code).toBe(EXIT_ALL_PASSED);
    expect(pass.out).toBe(
      [
        'ALL PASSED (the gate runs these again on the final build).',
        `PASSED smoke: tool-${HOST} --help`,
        `PASSED check greets-world "It greets hello world" on ${HOST}`,
        '',
      ].join('\n'),
    );
    const file = await written({
      checks: [greets('greets-world', 'hello world'), greets('shouts', 'HELLO WORLD')],
    });
    const fail = await run([file]);
    expect(fail.code).toBe(EXIT_SOME_FAILED);
    expect(fail.out.split('\n')).toEqual([
      'SOME FAILED:',
      `PASSED smoke: tool-${HOST} --help`,
      `PASSED check greets-world "It greets hello world" on ${HOST}`,
      `FAILED check shouts "It greets HELLO WORLD" on ${HOST}: stdout should be "HELLO WORLD"; got "hello world\\n"`,
      '',
    ]);
    const json = await run(['--json', file]);
    expect(json.code).toBe(EXIT_SOME_FAILED);
    expect(JSON.parse(json.out)).toEqual({
      passed: false,
      applicableChecks: 2,
      results: [
        { kind: 'smoke', id: `tool-${HOST}`, platform: HOST, status: 'passed' },
        {
          kind: 'check',
          checkKind: 'cli',
          id: 'greets-world',
          title: 'It greets hello world',
          platform: HOST,
          status: 'passed',
        },
        {
          kind: 'check',
          checkKind: 'cli',
          id: 'shouts',
          title: 'It greets HELLO WORLD',
          platform: HOST,
          status: 'failed',
          detail: 'stdout should be "HELLO WORLD"; got "hello world\\n"',
        },
      ],
    });
  });

  it('truncates a long failure detail', async () => {
    build();
    const long = (c: string) => ({
      op: 'contains' as const,
      stream: 'stdout' as const,
      value: c.repeat(300),
    });
    const check = { ...greets('long', 'x'), expect: [long('x'), long('y'), long('z')] };
    const file = await written({ checks: [check] });
    const { code, out } = await run(['--json', file]);
    expect(code).toBe(EXIT_SOME_FAILED);
    const detail = (JSON.parse(out) as { results: { detail?: string }[] }).results[1]?.detail ?? '';
    expect(detail.length).toBeLessThanOrEqual(400);
    expect(detail.endsWith('…')).toBe(true);
  });

  it('reports web checks as skipped without a browser (not failed)', async () => {
    mkdirSync(path.join(worktree, 'dist/web'), { recursive: true });
    writeFileSync(path.join(worktree, 'dist/web/index.html'), '<h1>hi</h1>');
    const manifest = {
      schema_version: 1,
      artifacts: [
        {
          artifact_id: 'web',
          kind: 'web',
          name: 'Tool web app',
          path: 'web',
          sha256: '0'.repeat(64),
          size_bytes: 11,
          entrypoint: 'index.html',
          source_included: false,
        },
      ],
    };
    writeFileSync(path.join(worktree, 'dist/artifact-manifest.json'), JSON.stringify(manifest));
    const file = await written({
      artifactType: 'web',
      checks: [
        {
          kind: 'web',
          id: 'page-greets',
          title: 'The page greets',
          steps: [],
          expect: [{ type: 'text', text: 'hi' }],
        } as unknown as AcceptanceCheckInput,
      ],
    });
    const { code, out } = await run([file]);
    expect(out.split('\n').slice(0, 3)).toEqual([
      'ALL PASSED (the gate runs these again on the final build).',
      'SKIPPED render check: render check disabled',
      'SKIPPED check page-greets "The page greets" (web): web checks disabled',
    ]);
    expect(code).toBe(EXIT_ALL_PASSED);
  });
});

describe('workerProgramArgv', () => {
  it('runs the bundle with node, or main.ts through the tsx loader from source', () => {
    expect(workerProgramArgv('file:///app/worker.mjs')).toEqual([process.execPath, '/app/worker.mjs']);
    expect(workerProgramArgv('file:///repo/worker-image/src/coder/self-check-command.ts')).toEqual([
      process.execPath,
      '--import',
      'file:///repo/node_modules/tsx/dist/loader.mjs',
      '/repo/worker-image/src/main.ts',
    ]);
    const own = workerProgramArgv();
    expect(own.at(-1)).toBe(path.resolve('worker-image/src/main.ts'));
    expect(selfCheckArgv(['node', '/app/worker.mjs'], '/tmp/d/self-check.json')).toEqual([
      'node',
      '/app/worker.mjs',
      'self-check',
      '/tmp/d/self-check.json',
    ]);
  });

  it('the bundled worker program (the image runs node /app/worker.mjs) runs the subcommand', async () => {
    const out = path.join(root, 'bundle', 'worker.mjs');
    execFileSync(process.execPath, ['worker-image/src/bundle.mjs', out], { stdio: 'pipe' });
    const runBundle = (...args: string[]) =>
      spawnSync(process.execPath, [out, 'self-check', ...args], { encoding: 'utf8', timeout: 60_000 });
    expect(runBundle('--help')).toMatchObject({
      status: EXIT_ALL_PASSED,
      stdout: expect.stringMatching(/^usage: self-check/),
    });
    expect(runBundle()).toMatchObject({ status: EXIT_USAGE });
    build();
    const file = await written();
    const passed = runBundle(file);
    expect(passed.status, passed.stderr).toBe(EXIT_ALL_PASSED);
    expect(passed.stdout).toContain(`PASSED check greets-world "It greets hello world" on ${HOST}`);
    const failed = runBundle(await written({ checks: [greets('shouts', 'HELLO WORLD')] }), '--json');
    expect(failed.status).toBe(EXIT_SOME_FAILED);
    expect(JSON.parse(failed.stdout)).toMatchObject({ passed: false });
  }, 60_000);

  it('the file the worker wrote is the one read back (text)', async () => {
    const file = await written();
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ version: 1, worktree });
  });
});
