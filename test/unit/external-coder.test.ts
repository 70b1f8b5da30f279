import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuildSpec } from '../../lib/domain/build-spec.ts';
import {
  ExternalCommandCoder,
  type ExternalCommandCoderOptions,
  parseCoderCommand,
  parsePassEnv,
  SELF_CHECK_NOTE,
} from '../../worker-image/src/coder/external-command-coder.ts';
import { loadCoderSettings } from '../../worker-image/src/coder/settings.ts';

const spec: BuildSpec = {
  title: 'Reverse text',
  summary: 'Reverses text.',
  requestText: 'reverse my text please',
  artifactType: 'web',
  platforms: [],
  features: [],
  outOfScope: [],
  complexity: 'small',
};

let root: string;
let worktree: string;
let logs: string[];

function agent(name: string, source: string): string {
  const file = path.join(root, name);
  writeFileSync(file, source);
  return file;
}

function coder(script: string, extra: Partial<ExternalCommandCoderOptions> = {}): ExternalCommandCoder {
  return new ExternalCommandCoder({
    argv: [process.execPath, script],
    profile: {
      testCommands: [['go', 'test', './...']],
      buildCommands: [['go', 'run', './tools/build']],
      rules: ['R1'],
    },
    commandEnv: () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', ARTIFACT_TYPE: 'web' }),
    maxSeconds: 20,
    killGraceMs: 500,
    ...extra,
  });
}

const input = (extra = {}) => ({ worktree, spec, attempt: 1, log: (l: string) => logs.push(l), ...extra });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'ext-coder-'));
  worktree = path.join(root, 'repo');
  mkdirSync(path.join(worktree, 'web'), { recursive: true });
  mkdirSync(path.join(worktree, 'tool'), { recursive: true });
  writeFileSync(path.join(worktree, 'main.go'), 'package main\n');
  writeFileSync(path.join(worktree, 'app.json'), '{}\n');
  writeFileSync(path.join(worktree, 'web/index.html'), '<p>old</p>\n');
  writeFileSync(path.join(worktree, '.gitignore'), 'dist/\n');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: worktree, stdio: 'ignore' });
  git('init', '-q');
  git('add', '-A');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'base');
  logs = [];
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('CODER_COMMAND parsing', () => {
  it.each([
    ['codex exec --full-auto', ['codex', 'exec', '--full-auto']],
    [`agent --prompt "fix the \\"build\\"" 'a b'`, ['agent', '--prompt', 'fix the "build"', 'a b']],
    ['["/usr/bin/agent","--x","a;b"]', ['/usr/bin/agent', '--x', 'a;b']],
    ['agent ""', ['agent', '']],
  ])('%s', (raw, argv) => {
    expect(parseCoderCommand(raw)).toEqual(argv);
  });

  it.each([
    ['agent; rm -rf /', /shell syntax/],
    ['agent | tee x', /shell syntax/],
    ['agent $(id)', /shell syntax/],
    ['agent `id`', /shell syntax/],
    ['agent *.go', /shell syntax/],
    ['agent "unterminated', /unterminated/],
    ['   ', /empty/],
    ['[1,2]', /array of strings/],
    ['[nope', /JSON array/],
    ['--flag', /program/],
  ])('refuses %j', (raw, message) => {
    expect(() => parseCoderCommand(raw)).toThrow(message);
  });

  it('reads CODER_COMMAND_ENV names and the settings for CODER=command', () => {
    expect(parsePassEnv('OPENAI_API_KEY, OTHER')).toEqual(['OPENAI_API_KEY', 'OTHER']);
    expect(() => parsePassEnv('BAD-NAME')).toThrow(/variable name/);
    const settings = loadCoderSettings(
      {
        CODER_COMMAND: 'agent run',
        CODER_COMMAND_ENV: 'AGENT_KEY',
        AGENT_KEY: 'k-123456',
        CODER_MAX_SECONDS: '60',
      },
      'command',
    );
    expect(settings).toMatchObject({
      budget: { maxSeconds: 60 },
      command: { argv: ['agent', 'run'], passEnv: ['AGENT_KEY'], passEnvValues: { AGENT_KEY: 'k-123456' } },
    });
    expect(() => loadCoderSettings({}, 'command')).toThrow(/CODER_COMMAND is required/);
    expect(() => loadCoderSettings({}, 'openai')).toThrow(/OPENAI_BASE_URL/);
    expect(
      loadCoderSettings({ BEDROCK_MODEL_ID: 'anthropic.claude', AWS_REGION: 'eu-west-1' }, 'bedrock').model,
    ).toEqual(
      expect.objectContaining({ provider: 'bedrock', modelId: 'anthropic.claude', region: 'eu-west-1' }),
    );
  });
});

describe('ExternalCommandCoder', () => {
  it('gives the agent its assignment on stdin, in the worktree, with the allow-listed environment', async () => {
    const script = agent(
      'agent.mjs',
      `import { readFileSync, writeFileSync } from 'node:fs';
const a = JSON.parse(readFileSync(0, 'utf8'));
writeFileSync('web/index.html', '<h1>' + a.spec.title + '</h1>');
writeFileSync('tool/reverse.go', 'package tool\\n');
writeFileSync('web/assignment.json', JSON.stringify({
  attempt: a.attempt, previous: a.previous_failure ?? null, rules: a.rules, writable: a.writable,
  commands: a.commands, budget: a.budget, cwd: process.cwd(),
  secret: process.env.AWS_SECRET_ACCESS_KEY ?? null, key: process.env.AGENT_KEY ?? null,
  artifactType: process.env.ARTIFACT_TYPE,
}));
console.log('working…');
console.log(JSON.stringify({ summary: 'The reverse text web app is ready.' }));
`,
    );
    const result = await coder(script, {
      passEnv: ['AGENT_KEY'],
      baseEnv: { AGENT_KEY: 'agent-key-1' },
    }).code(input({ attempt: 2, previousFailure: 'go test failed: want x' }));
    expect(result).toMatchObject({ ok: true, summary: 'The reverse text web app is ready.' });
    expect(readFileSync(path.join(worktree, 'web/index.html'), 'utf8')).toBe('<h1>Reverse text</h1>');
    const seen = JSON.parse(readFileSync(path.join(worktree, 'web/assignment.json'), 'utf8'));
    expect(seen).toEqual({
      attempt: 2,
      previous: 'go test failed: want x',
      rules: ['R1'],
      writable: ['tool/', 'web/', 'app.json'],
      commands: { test: [['go', 'test', './...']], build: [['go', 'run', './tools/build']] },
      budget: { seconds: 20 },
      cwd: worktree,
      secret: null,
      key: 'agent-key-1',
      artifactType: 'web',
    });
    expect(logs.some((l) => l.includes('working…'))).toBe(true);
  });

  it('tells the agent it is changing a delivered version: the base version and what it does, keep what works', async () => {
    const script = agent(
      'agent.mjs',
      `import { readFileSync, writeFileSync } from 'node:fs';
const a = JSON.parse(readFileSync(0, 'utf8'));
writeFileSync('web/assignment.json', JSON.stringify({ revision: a.revision ?? null }));
`,
    );
    const revision = {
      version: 3,
      baseVersion: 2,
      baseFeatures: ['Reverse a text'],
      basePlatforms: [],
      baseArtifactType: 'web' as const,
      fromBase: true,
    };
    const result = await coder(script).code(input({ revision }));
    expect(result.ok).toBe(true);
    const seen = JSON.parse(readFileSync(path.join(worktree, 'web/assignment.json'), 'utf8'));
    expect(seen.revision).toEqual({
      version: 3,
      base_version: 2,
      base: { artifact_type: 'web', platforms: [], features: ['Reverse a text'] },
      from_base: true,
      note: expect.stringMatching(/holds version 2, which works and passed verification.*do not start over/),
    });
    await coder(script).code(input());
    expect(JSON.parse(readFileSync(path.join(worktree, 'web/assignment.json'), 'utf8')).revision).toBeNull();
  });

  it('offers self_check: the argv of the worker program on a read-only file outside the worktree', async () => {
    const script = agent(
      'agent.mjs',
      `import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
const a = JSON.parse(readFileSync(0, 'utf8'));
const file = a.self_check.argv.at(-1);
writeFileSync('web/self-check.json', JSON.stringify({
  self_check: a.self_check,
  fileMode: statSync(file).mode & 0o777,
  dirMode: statSync(path.dirname(file)).mode & 0o777,
  content: JSON.parse(readFileSync(file, 'utf8')),
}));
`,
    );
    const checks = [
      {
        kind: 'cli' as const,
        id: 'says-hi',
        title: 'It says hi',
        args: ['hi'],
        exitCode: 0,
        timeoutMs: 5000,
        expect: [{ op: 'contains' as const, stream: 'stdout' as const, value: 'hi', ignoreCase: false }],
      },
    ];
    const result = await coder(script, {
      selfCheckProgram: ['/usr/bin/node', '/app/worker.mjs'],
      selfCheckBrowser: '/usr/bin/chromium',
      selfCheckParent: root,
    }).code(input({ spec: { ...spec, artifactType: 'both', checks } }));
    expect(result, logs.join('\n')).toMatchObject({ ok: true });
    const seen = JSON.parse(readFileSync(path.join(worktree, 'web/self-check.json'), 'utf8'));
    const file = seen.self_check.argv.at(-1) as string;
    expect(seen.self_check).toEqual({
      argv: ['/usr/bin/node', '/app/worker.mjs', 'self-check', file],
      note: SELF_CHECK_NOTE,
    });
    expect(SELF_CHECK_NOTE).toMatch(/self-checking only/);
    expect(SELF_CHECK_NOTE).toMatch(/gate re-runs everything independently/);
    expect(path.dirname(path.dirname(file))).toBe(root);
    expect(file.startsWith(worktree)).toBe(false);
    expect(seen).toMatchObject({ fileMode: 0o444, dirMode: 0o711 });
    expect(seen.content).toEqual({
      version: 1,
      worktree,
      distDir: path.join(worktree, 'dist'),
      artifactType: 'both',
      checks,
      browser: '/usr/bin/chromium',
    });
    // Removed with the attempt.
    expect(existsSync(path.dirname(file))).toBe(false);
  });

  it('offers no self_check without a worker program', async () => {
    const script = agent(
      'agent.mjs',
      `import { readFileSync, writeFileSync } from 'node:fs';
const a = JSON.parse(readFileSync(0, 'utf8'));
writeFileSync('web/keys.json', JSON.stringify(Object.keys(a)));
`,
    );
    expect(await coder(script).code(input())).toMatchObject({ ok: true });
    const keys = JSON.parse(readFileSync(path.join(worktree, 'web/keys.json'), 'utf8'));
    expect(keys).not.toContain('self_check');
    expect(keys).toContain('commands');
  });

  it('uses a fixed summary when the agent prints none (or an unsafe one)', async () => {
    const script = agent('agent.mjs', `console.log(JSON.stringify({ summary: 'Edited web/index.html' }));`);
    expect(await coder(script).code(input())).toMatchObject({
      ok: true,
      summary: 'The tool is implemented and ready to be built.',
    });
  });

  it('reads BUSDK-PROGRESS lines as they are printed; other values are refused and logged', async () => {
    const script = agent(
      'progress.mjs',
      `import { readFileSync, writeFileSync, existsSync } from 'node:fs';
const a = JSON.parse(readFileSync(0, 'utf8'));
writeFileSync('web/protocol.txt', a.progress);
process.stdout.write('BUSDK-PROGRESS {"stage":"planning"}\\n');
// Wait until the worker has seen the first report (it writes a marker), proving it is read live.
const until = Date.now() + 5000;
while (!existsSync('web/seen.txt') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
if (!existsSync('web/seen.txt')) process.exit(7);
console.log('BUSDK-PROGRESS {"feature":1}');
console.log('BUSDK-PROGRESS {"feature":"tool/tool.go compiles"}');
console.log('BUSDK-PROGRESS {"message":"Almost done!"}');
process.stdout.write('BUSDK-PROGRESS {"feature":"Reverse the letters"}');
`,
    );
    const reports: unknown[] = [];
    const result = await coder(script).code(
      input({
        spec: { ...spec, features: ['Reverse the letters', 'Keep spaces'] },
        progress: (r: unknown) => {
          reports.push(r);
          if (reports.length === 1) writeFileSync(path.join(worktree, 'web/seen.txt'), 'yes');
        },
      }),
    );
    expect(result).toMatchObject({
      ok: true,
      report: { kind: 'command', progressReports: 3, stopped: 'finished' },
    });
    expect(reports).toEqual([{ stage: 'planning' }, { feature: 1 }, { feature: 1 }]);
    expect(logs.filter((l) => l.includes('progress line refused'))).toHaveLength(2);
    expect(readFileSync(path.join(worktree, 'web/protocol.txt'), 'utf8')).toMatch(
      /^Print BUSDK-PROGRESS \{"feature":N\}.*nothing else the agent prints or writes reaches the customer\.$/,
    );
  });

  it('fails on a non-zero exit, with the output in the internal reason', async () => {
    const script = agent('agent.mjs', `console.error('model quota exceeded'); process.exit(3);`);
    const result = await coder(script).code(input());
    expect(result).toMatchObject({ ok: false, code: 'coder_failed' });
    expect(result.ok === false && result.reason).toMatch(/exited with code 3[\s\S]*model quota exceeded/);
  });

  it('fails when the agent changes the frame or adds a symlink', async () => {
    const frame = agent(
      'frame.mjs',
      `import { writeFileSync } from 'node:fs'; writeFileSync('main.go', 'package main // changed\\n');`,
    );
    const r1 = await coder(frame).code(input());
    expect(r1.ok === false && r1.reason).toMatch(/may not change: main\.go/);
    execFileSync('git', ['checkout', '--', 'main.go'], { cwd: worktree });
    const link = agent(
      'link.mjs',
      `import { symlinkSync } from 'node:fs'; symlinkSync('/etc/passwd', 'web/passwd.txt');`,
    );
    const r2 = await coder(link).code(input());
    expect(r2.ok === false && r2.reason).toMatch(/web\/passwd\.txt \(not a regular file\)/);
  });

  it('kills a hanging agent and its children at the wall-time budget', async () => {
    const pids = path.join(root, 'pids.json');
    const script = agent(
      'hang.mjs',
      `import { spawn } from 'node:child_process'; import { writeFileSync } from 'node:fs';
process.on('SIGTERM', () => {}); // ignores the polite signal
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
writeFileSync(${JSON.stringify(pids)}, JSON.stringify([process.pid, child.pid]));
setInterval(() => {}, 1000);
`,
    );
    const started = Date.now();
    const result = await coder(script, { maxSeconds: 1 }).code(input());
    expect(result).toMatchObject({
      ok: false,
      code: 'coder_failed',
      reason: 'budget exhausted: wall time (1 s)',
    });
    expect(Date.now() - started).toBeLessThan(8000);
    const [agentPid, childPid] = JSON.parse(readFileSync(pids, 'utf8')) as number[];
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(agentPid!)).toBe(false);
    expect(alive(childPid!)).toBe(false);
  });

  it('reports a program that cannot start', async () => {
    const c = new ExternalCommandCoder({
      argv: [path.join(root, 'no-such-agent')],
      profile: { testCommands: [], buildCommands: [], rules: [] },
      commandEnv: () => ({ PATH: '/usr/bin:/bin' }),
      maxSeconds: 5,
    });
    const result = await c.code(input());
    expect(result.ok === false && result.reason).toMatch(/could not start \(ENOENT\)/);
    expect(existsSync(path.join(worktree, 'web/index.html'))).toBe(true);
  });
});
