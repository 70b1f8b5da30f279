import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BuildSpec } from '../../lib/domain/build-spec.ts';
import { ExternalCommandCoder } from '../../worker-image/src/coder/external-command-coder.ts';
import { WorktreeTools } from '../../worker-image/src/coder/tools.ts';
import {
  type CommandSandbox,
  giveToCommandUser,
  parseCommandUser,
  prepareSandbox,
  sandboxEnv,
} from '../../worker-image/src/command-user.ts';
import { ConfigError, loadWorkerConfig } from '../../worker-image/src/config.ts';
import { cloneBranch, commitAndPush } from '../../worker-image/src/git.ts';
import { WorkerLog } from '../../worker-image/src/log.ts';
import { runCommand } from '../../worker-image/src/run-commands.ts';

/**
 * COMMAND_USER: untrusted commands run as another, unprivileged uid. The tests that switch users
 * need root (this machine and CI run the suite as root); they are skipped only elsewhere.
 */

const IS_ROOT = process.getuid?.() === 0;
/** A uid/gid nothing else on the machine uses (Node spawns numeric ids; no passwd entry needed). */
const USER = { uid: 64123, gid: 64123 };
const PATH = process.env.PATH ?? '/usr/bin:/bin';
const SECRET = 'worker-env-secret-4b1d9e7c';

const baseEnv = {
  RUN_ID: 'run_abcdefghijklmnopqrst234567',
  ATTEMPT: '1',
  TABLE_NAME: 'busdk-runs',
  STAGING_BUCKET: 'busdk-staging',
  EVIDENCE_BUCKET: 'busdk-evidence',
  REPO_DIR: '/data/repos/template.git',
};

describe('COMMAND_USER configuration', () => {
  it('is unset by default', () => {
    expect(loadWorkerConfig(baseEnv, () => 1000).commandUser).toBeUndefined();
    expect(loadWorkerConfig({ ...baseEnv, COMMAND_USER: ' ' }, () => 1000).commandUser).toBeUndefined();
  });

  it('parses uid:gid when the worker is root', () => {
    expect(loadWorkerConfig({ ...baseEnv, COMMAND_USER: '10002:10003' }, () => 0).commandUser).toEqual({
      uid: 10002,
      gid: 10003,
    });
  });

  it('refuses to start when set but the worker is not root (it could not switch users)', () => {
    const load = () => loadWorkerConfig({ ...baseEnv, COMMAND_USER: '10002:10002' }, () => 10001);
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/COMMAND_USER is set but the worker is not running as root/);
  });

  it.each([['builder'], ['10002'], ['10002:'], ['-1:5'], ['0:0'], ['10002:0'], ['1:2:3'], ['99999999999:1']])(
    'refuses %j',
    (value) => {
      expect(() => loadWorkerConfig({ ...baseEnv, COMMAND_USER: value }, () => 0)).toThrow(
        /COMMAND_USER must/,
      );
    },
  );

  it('sandboxEnv replaces HOME, TMPDIR and the cache base, keeping the rest', () => {
    const sandbox: CommandSandbox = { ...USER, home: '/s/home', tmp: '/s/home/tmp' };
    expect(sandboxEnv({ PATH: '/bin', HOME: '/root', TMPDIR: '/tmp', GOCACHE: '/c' }, sandbox)).toEqual({
      PATH: '/bin',
      HOME: '/s/home',
      TMPDIR: '/s/home/tmp',
      XDG_CACHE_HOME: '/s/home/.cache',
      GOCACHE: '/c',
    });
    expect(sandboxEnv({ HOME: '/root' }, undefined)).toEqual({ HOME: '/root' });
    expect(parseCommandUser(undefined)).toBeUndefined();
  });

  it('runs the user-switching tests wherever the suite runs as root (as here and on CI)', () => {
    // The root-only tests below are skipped only for a non-root developer; CI runs as root.
    if (process.env.CI) expect(IS_ROOT).toBe(true);
    expect(typeof process.getuid).toBe('function');
  });
});

/** Processes (other than zombies) whose real uid is `uid`. */
function processesOf(uid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      const uidLine = /^Uid:\s+(\d+)/m.exec(status);
      const state = /^State:\s+(\S)/m.exec(status);
      if (uidLine && Number(uidLine[1]) === uid && state?.[1] !== 'Z') pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

describe.skipIf(!IS_ROOT)('commands as the command user (root only)', () => {
  let scratch: string;
  let sandbox: CommandSandbox;
  let worktree: string;
  let log: WorkerLog;

  beforeEach(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'cmd-user-'));
    sandbox = await prepareSandbox(scratch, USER);
    worktree = path.join(scratch, 'repo');
    mkdirSync(path.join(worktree, 'tool'), { recursive: true });
    writeFileSync(path.join(worktree, 'tool', 'tool.go'), 'package tool\n');
    await giveToCommandUser(worktree, USER);
    log = new WorkerLog({ secrets: [], echo: null });
  });

  afterEach(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  const run = (argv: string[], extra: { env?: NodeJS.ProcessEnv } = {}) =>
    runCommand(argv, {
      cwd: worktree,
      env: sandboxEnv({ PATH, ...extra.env }, sandbox),
      timeoutMs: 20_000,
      log,
      user: USER,
    });

  it('lays the attempt out: scratch traversable only, HOME/TMPDIR and worktree the user’s', () => {
    expect(lstatSync(scratch).mode & 0o777).toBe(0o711);
    expect(lstatSync(scratch).uid).toBe(0);
    for (const dir of [sandbox.home, sandbox.tmp, worktree, path.join(worktree, 'tool', 'tool.go')]) {
      expect(lstatSync(dir)).toMatchObject({ uid: USER.uid, gid: USER.gid });
    }
    expect(lstatSync(sandbox.home).mode & 0o777).toBe(0o700);
  });

  it('runs a command as that uid and gid, without root’s supplementary groups', async () => {
    const result = await run(['sh', '-c', 'id -u; id -g; id -G; echo "$HOME $TMPDIR"']);
    expect(result.ok, result.output).toBe(true);
    expect(result.output.trim().split('\n')).toEqual([
      String(USER.uid),
      String(USER.gid),
      String(USER.gid),
      `${sandbox.home} ${sandbox.tmp}`,
    ]);
  });

  it("cannot read the worker process's environment nor a root-only secret file", async () => {
    // A root process with a secret in its environment stands for the worker (the test process's
    // own /proc environ is its start-up environment).
    const worker = spawn('sleep', ['30'], { env: { PATH, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: SECRET } });
    await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(`/proc/${worker.pid}/environ`, 'utf8')).toContain(SECRET);
    const secretFile = path.join(tmpdir(), `cmd-user-secret-${process.pid}`);
    writeFileSync(secretFile, SECRET, { mode: 0o600 });
    try {
      const environ = await run(['cat', `/proc/${worker.pid}/environ`]);
      expect(environ.ok).toBe(false);
      expect(environ.output).not.toContain(SECRET);
      expect(environ.output).toMatch(/Permission denied/);
      const file = await run(['cat', secretFile]);
      expect(file.ok).toBe(false);
      expect(file.output).toMatch(/Permission denied/);
      // Nor can it signal the worker.
      const kill = await run(['sh', '-c', `kill -0 ${worker.pid}`]);
      expect(kill.ok).toBe(false);
      // The scratch directory is not listable; only the names it is given are reachable.
      const list = await run(['ls', scratch]);
      expect(list.ok).toBe(false);
      // The same for this (root) test process.
      expect((await run(['cat', `/proc/${process.pid}/environ`])).ok).toBe(false);
    } finally {
      worker.kill('SIGKILL');
      await rm(secretFile, { force: true });
    }
  });

  it('builds like go does: writes dist/, its cache and temp files, and the worker (root) reads them', async () => {
    const cache = path.join(sandbox.home, '.cache', 'go-build');
    const result = await run([
      'sh',
      '-c',
      `mkdir -p dist/bin "${cache}" && echo built > dist/bin/tool && echo '{"artifacts":[1]}' > dist/artifact-manifest.json && echo c > "${cache}/x" && echo t > "$TMPDIR/t"`,
    ]);
    expect(result.ok, result.output).toBe(true);
    expect(lstatSync(path.join(worktree, 'dist', 'bin', 'tool'))).toMatchObject({ uid: USER.uid });
    expect(readFileSync(path.join(worktree, 'dist', 'bin', 'tool'), 'utf8')).toBe('built\n');
    expect(readFileSync(path.join(worktree, 'dist', 'artifact-manifest.json'), 'utf8')).toContain(
      'artifacts',
    );
  });

  it('kills every process of the user when the command ends, even one that left its group', async () => {
    expect(processesOf(USER.uid)).toEqual([]);
    const result = await run([
      'sh',
      '-c',
      'setsid sh -c "sleep 60" </dev/null >/dev/null 2>&1 & sleep 0.2; exit 0',
    ]);
    expect(result.ok, result.output).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(processesOf(USER.uid)).toEqual([]);
  });

  it('hands files over without following links or taking hard links to root’s files', async () => {
    const outside = path.join(scratch, 'root-only');
    writeFileSync(outside, 'root\n', { mode: 0o600 });
    symlinkSync(outside, path.join(worktree, 'tool', 'link'));
    linkSync(outside, path.join(worktree, 'tool', 'hard'));
    writeFileSync(path.join(worktree, 'tool', 'new.go'), 'package tool\n');
    await giveToCommandUser(worktree, USER);
    expect(lstatSync(outside).uid).toBe(0);
    expect(lstatSync(path.join(worktree, 'tool', 'new.go')).uid).toBe(USER.uid);
    chmodSync(outside, 0o600);
  });

  it('model-coder tools write files the user owns and run the commands as the user', async () => {
    const tools = new WorktreeTools({
      worktree,
      testCommands: [['sh', '-c', 'id -u > dist-uid.txt && rm -f tool/extra/more.go']],
      buildCommands: [],
      env: { PATH },
      log: () => undefined,
      sandbox,
    });
    const wrote = await tools.execute({
      name: 'write_file',
      input: { path: 'tool/testdata/sample.txt', content: 'x\n' },
      rawInput: '',
    });
    expect(wrote.isError).toBe(false);
    await tools.execute({
      name: 'write_file',
      input: { path: 'tool/main_test.go', content: 'package tool\n' },
      rawInput: '',
    });
    for (const rel of ['tool/testdata', 'tool/testdata/sample.txt', 'tool/main_test.go']) {
      expect(lstatSync(path.join(worktree, rel))).toMatchObject({ uid: USER.uid, gid: USER.gid });
    }
    const tests = await tools.execute({ name: 'run_tests', input: {}, rawInput: '{}' });
    expect(tests.isError, tests.content).toBe(false);
    expect(readFileSync(path.join(worktree, 'dist-uid.txt'), 'utf8').trim()).toBe(String(USER.uid));
  });

  it('the external agent runs as the user; the worker’s git keeps the repository out of its reach', async () => {
    // A bare repository and a clone with a separate git directory, as the worker makes them.
    const bare = path.join(scratch, 'bare.git');
    const seed = path.join(scratch, 'seed');
    const git = (cwd: string, ...args: string[]) =>
      execFileSync('git', args, {
        cwd,
        stdio: 'pipe',
        env: { PATH, HOME: scratch, GIT_CONFIG_NOSYSTEM: '1' },
      });
    mkdirSync(seed);
    git(scratch, 'init', '-q', '--bare', '-b', 'build/20250601/run_abcdefghijklmnopqrstuvwxyz', bare);
    git(seed, 'init', '-q', '-b', 'build/20250601/run_abcdefghijklmnopqrstuvwxyz');
    mkdirSync(path.join(seed, 'web'));
    writeFileSync(path.join(seed, 'web', 'index.html'), '<p>old</p>\n');
    writeFileSync(path.join(seed, 'app.json'), '{}\n');
    git(seed, 'add', '-A');
    git(seed, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'base');
    git(seed, 'push', '-q', bare, 'HEAD:refs/heads/build/20250601/run_abcdefghijklmnopqrstuvwxyz');
    await rm(worktree, { recursive: true, force: true });
    const gitDir = path.join(scratch, 'git');
    await cloneBranch({
      url: bare,
      branch: 'build/20250601/run_abcdefghijklmnopqrstuvwxyz',
      dir: worktree,
      gitDir,
    });
    expect(() => lstatSync(path.join(worktree, '.git'))).toThrow(/ENOENT/);
    await giveToCommandUser(worktree, USER);
    chmodSync(gitDir, 0o700);

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
    const script = [
      `id -u > web/uid.txt`,
      `cat /proc/${process.pid}/environ > web/environ.txt 2>/dev/null || echo denied > web/environ.txt`,
      `ls ${gitDir} >/dev/null 2>&1 && echo readable > web/git.txt || echo denied > web/git.txt`,
      // A .git of its own making is ignored by the worker's git.
      `mkdir .git && echo '[core]' > .git/config`,
      `setsid sleep 60 </dev/null >/dev/null 2>&1 &`,
      `echo '{"summary":"The text reverser is ready."}'`,
    ].join('\n');
    const agent = new ExternalCommandCoder({
      argv: ['/bin/sh', '-c', script],
      profile: { testCommands: [], buildCommands: [], rules: [] },
      commandEnv: () => ({ PATH }),
      maxSeconds: 20,
      killGraceMs: 500,
    });
    const logs: string[] = [];
    const coded = await agent.code({ worktree, spec, attempt: 1, log: (l) => logs.push(l), sandbox, gitDir });
    expect(coded, logs.join('\n')).toMatchObject({ ok: true, summary: 'The text reverser is ready.' });
    expect(readFileSync(path.join(worktree, 'web', 'uid.txt'), 'utf8').trim()).toBe(String(USER.uid));
    expect(readFileSync(path.join(worktree, 'web', 'environ.txt'), 'utf8').trim()).toBe('denied');
    expect(readFileSync(path.join(worktree, 'web', 'git.txt'), 'utf8').trim()).toBe('denied');
    expect(processesOf(USER.uid)).toEqual([]);

    // The worker (root) commits and pushes the user's work through its own git directory.
    const pushed = await commitAndPush({
      dir: worktree,
      message: 'attempt',
      author: { name: 'W', email: 'w@w.invalid' },
      branch: 'build/20250601/run_abcdefghijklmnopqrstuvwxyz',
      url: bare,
      gitDir,
    });
    expect(pushed.committed).toBe(true);
    const files = git(
      scratch,
      '--git-dir',
      bare,
      'ls-tree',
      '-r',
      '--name-only',
      'build/20250601/run_abcdefghijklmnopqrstuvwxyz',
    ).toString();
    expect(files).toContain('web/uid.txt');
    expect(files).not.toContain('.git/');
  });
});
