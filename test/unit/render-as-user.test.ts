import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_AS_USER_SCRIPT, RUN_AS_ENV, renderCheck } from '../../lib/verify/render-check.ts';

// The render check's browser as the command user (`runAs`, the worker's COMMAND_USER).
const CHROMIUM = process.env.VERIFY_BROWSER || '/usr/bin/chromium';
const hasBrowser = existsSync(CHROMIUM);
const hasSetpriv = ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));
const isRoot = process.getuid?.() === 0;
const USER = { uid: 64126, gid: 64126 };
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let root: string;
let launcher: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'render-as-user-test-'));
  await chmod(root, 0o755);
  launcher = path.join(root, 'chromium-as-user');
  await writeFile(launcher, CHROMIUM_AS_USER_SCRIPT, { mode: 0o700 });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const run = (file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> =>
  new Promise((resolve) => {
    execFile(file, args, { env, timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });

const launcherEnv = (browser: string, user: { uid: unknown; gid: unknown } = USER) => ({
  PATH,
  [RUN_AS_ENV.browser]: browser,
  [RUN_AS_ENV.uid]: String(user.uid),
  [RUN_AS_ENV.gid]: String(user.gid),
});

/** A stand-in browser: prints what the exec'd process is and what it can reach. */
async function fakeBrowser(secret: string): Promise<string> {
  const file = path.join(root, 'fake-browser');
  await writeFile(
    file,
    `#!/bin/sh
grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs):' /proc/self/status
env | grep -c '^RENDER_AS_' || true
if cat '${secret}' >/dev/null 2>&1; then echo secret=readable; else echo secret=denied; fi
echo "args=$*"
`,
    { mode: 0o755 },
  );
  return file;
}

const field = (out: string, name: string) =>
  (new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(out)?.[1] ?? '').trim().split(/\s+/).join(' ');

describe('the chromium-as-user launcher fails closed', () => {
  it('refuses to start the browser without the user variables, as root or without a profile', async () => {
    const profile = await mkdtemp(path.join(root, 'profile-'));
    const args = [`--user-data-dir=${profile}`, '--remote-debugging-pipe'];
    const cases: NodeJS.ProcessEnv[] = [
      { PATH },
      { PATH, [RUN_AS_ENV.browser]: '/bin/true' },
      launcherEnv('/bin/true', { uid: '', gid: 64126 }),
      launcherEnv('/bin/true', { uid: 0, gid: 64126 }),
      launcherEnv('/bin/true', { uid: '000', gid: 64126 }),
      launcherEnv('/bin/true', { uid: 64126, gid: 0 }),
      launcherEnv('/bin/true', { uid: '-1', gid: 64126 }),
      launcherEnv('true'),
      launcherEnv('/nonexistent/chromium'),
    ];
    for (const env of cases) {
      const r = await run(launcher, args, env);
      expect({ env, code: r.code }).toEqual({ env, code: 97 });
      expect(r.stderr).toMatch(/^chromium-as-user: /);
    }
    const noProfile = await run(launcher, ['--remote-debugging-pipe'], launcherEnv('/bin/true'));
    expect(noProfile.code).toBe(97);
    expect(noProfile.stderr).toContain('no absolute --user-data-dir');
    const twoProfiles = await run(
      launcher,
      [`--user-data-dir=${profile}`, `--user-data-dir=${root}`],
      launcherEnv('/bin/true'),
    );
    expect(twoProfiles.code).toBe(97);
    expect((await stat(profile)).uid).toBe(process.getuid?.());
  });

  it.skipIf(!isRoot || !hasSetpriv)(
    'starts the browser as the user: no groups, no capabilities, no_new_privs, no root-only files',
    async () => {
      const secret = path.join(root, 'secret');
      await writeFile(secret, 'root only', { mode: 0o600 });
      const browser = await fakeBrowser(secret);
      const profile = await mkdtemp(path.join(root, 'profile-'));
      await mkdir(path.join(profile, 'Default'));
      await writeFile(path.join(profile, 'Default/Preferences'), '{}');
      // With the worker's Fargate capability set (no CAP_SETPCAP) as well as with all of root's.
      const fargate = ['--bounding-set=-all,+chown,+dac_override,+kill,+setgid,+setuid', '--', launcher];
      for (const [file, pre] of [
        [launcher, []],
        ['setpriv', fargate],
      ] as const) {
        const r = await run(
          file,
          [...pre, `--user-data-dir=${profile}`, '--remote-debugging-pipe'],
          launcherEnv(browser),
        );
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(field(r.stdout, 'Uid')).toBe('64126 64126 64126 64126');
        expect(field(r.stdout, 'Gid')).toBe('64126 64126 64126 64126');
        expect(field(r.stdout, 'Groups')).toBe('');
        for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb'])
          expect(field(r.stdout, cap)).toBe('0000000000000000');
        expect(field(r.stdout, 'NoNewPrivs')).toBe('1');
        expect(r.stdout).toMatch(/^0$/m); // none of the launcher's variables reach the browser
        expect(r.stdout).toContain('secret=denied');
        expect(r.stdout).toContain(`args=--user-data-dir=${profile} --remote-debugging-pipe`);
        for (const p of [profile, path.join(profile, 'Default/Preferences')])
          expect((await stat(p)).uid).toBe(USER.uid);
      }
    },
  );
});

interface Proc {
  pid: number;
  ppid: number;
  uids: string;
  cmdline: string;
}

async function processes(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = await readFile(`/proc/${name}/status`, 'utf8');
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').join(' ');
      out.push({
        pid: Number(name),
        ppid: Number(field(status, 'PPid')),
        uids: `${field(status, 'Uid')} / ${field(status, 'Gid')}`,
        cmdline,
      });
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

/** The browser this process launched (Playwright spawns it directly) and all its descendants. */
function launchedBrowserTree(procs: Proc[]): Proc[] {
  const main = procs.find((p) => p.ppid === process.pid && p.cmdline.includes('--remote-debugging-pipe'));
  if (!main) return [];
  const tree = [main];
  for (let i = 0; i < tree.length; i++) {
    for (const p of procs) if (p.ppid === tree[i]!.pid) tree.push(p);
  }
  return tree;
}

describe.skipIf(!isRoot || !hasBrowser || !hasSetpriv)('renderCheck with runAs (root)', () => {
  const page = (body: string) =>
    `<!doctype html><html><head><meta charset="utf-8"></head><body>${body}</body></html>`;
  const site = async (name: string, files: Record<string, string>) => {
    const dir = path.join(root, name);
    await mkdir(dir, { recursive: true });
    for (const [rel, body] of Object.entries(files)) await writeFile(path.join(dir, rel), body);
    return dir;
  };
  const check = (dir: string, settleMs?: number) =>
    renderCheck({
      dir,
      entrypoint: 'index.html',
      browser: CHROMIUM,
      timeoutMs: 20_000,
      runAs: USER,
      ...(settleMs !== undefined && { settleMs }),
    });

  it('passes a good page and fails a page whose script throws', async () => {
    const good = await site('good', {
      'index.html': page('<main id="app"></main><script src="app.js"></script>'),
      'app.js': 'document.getElementById("app").textContent = "Tip calculator";',
    });
    // A private temp directory (traversable, as /tmp is, so the user reaches its HOME and profile;
    // short: Chromium's singleton socket goes below it and a socket path has at most 107 bytes).
    const temp = await mkdtemp(path.join(tmpdir(), 'rau-'));
    await chmod(temp, 0o711);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = temp;
    try {
      const ok = await check(good);
      expect(ok.problems).toEqual([]);
      expect(ok.status).toBe('passed');
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    // The launcher, the browser's HOME and the (user-owned) profile are removed afterwards.
    expect(await readdir(temp)).toEqual([]);
    await rm(temp, { recursive: true });

    const throws = await site('throws', {
      'index.html': page('<h1>Calculator</h1><script src="app.js"></script>'),
      'app.js': 'const x = undefined; x.render();',
    });
    const bad = await check(throws);
    expect(bad.status).toBe('failed');
    expect(bad.problems.join(' ')).toContain('uncaught script error');
  }, 40_000);

  it('runs every browser process as the user while the page renders', async () => {
    const dir = await site('slow', {
      'index.html': page(
        '<h1>Slow</h1><script>setTimeout(() => { document.title = "done"; }, 800);</script>',
      ),
    });
    const seen = new Map<number, Proc>();
    let done = false;
    const rendering = check(dir, 1500).finally(() => {
      done = true;
    });
    while (!done) {
      for (const p of launchedBrowserTree(await processes())) seen.set(p.pid, p);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await rendering).status).toBe('passed');
    const procs = [...seen.values()];
    expect(procs.some((p) => p.cmdline.includes('--remote-debugging-pipe'))).toBe(true);
    expect(procs.some((p) => p.cmdline.includes('--type=renderer'))).toBe(true);
    for (const p of procs) {
      expect({ cmd: p.cmdline.slice(0, 80), uids: p.uids }).toEqual({
        cmd: p.cmdline.slice(0, 80),
        uids: '64126 64126 64126 64126 / 64126 64126 64126 64126',
      });
    }
  }, 40_000);

  it('refuses a root or invalid runAs before launching anything', async () => {
    const dir = await site('refused', { 'index.html': page('<h1>x</h1>') });
    await expect(
      renderCheck({ dir, entrypoint: 'index.html', browser: CHROMIUM, runAs: { uid: 0, gid: 0 } }),
    ).rejects.toThrow(/non-root/);
  });
});
