import { accessSync, constants } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { serveStatic } from './static-server.ts';

/** Where a browser is looked for when `VERIFY_BROWSER` is unset (Debian / Ubuntu Chromium). */
export const BROWSER_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'] as const;

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-dev-shm-usage',
] as const;

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export type BrowserLookup = { path: string } | { path: undefined; reason: string };

/**
 * The Chromium for the render check: `VERIFY_BROWSER` (a path; `none` turns the check off), else
 * the first executable of {@link BROWSER_CANDIDATES}. Never downloads a browser.
 */
export function findBrowser(env: NodeJS.ProcessEnv = process.env): BrowserLookup {
  const configured = env.VERIFY_BROWSER?.trim();
  if (configured === 'none' || configured === 'off')
    return { path: undefined, reason: 'VERIFY_BROWSER=none' };
  if (configured) {
    return executable(configured)
      ? { path: configured }
      : { path: undefined, reason: `VERIFY_BROWSER is not an executable: ${configured}` };
  }
  const found = BROWSER_CANDIDATES.find(executable);
  return found
    ? { path: found }
    : {
        path: undefined,
        reason: `no browser found (set VERIFY_BROWSER; looked at ${BROWSER_CANDIDATES.join(', ')})`,
      };
}

export interface RenderCheckOptions {
  /** The web artifact's directory (served with the verification static server). */
  dir: string;
  entrypoint: string;
  /** Chromium executable; `undefined` → {@link findBrowser}; `false` → skipped. */
  browser?: string | false;
  /** Budget for launch + load + settle (default 15 s). */
  timeoutMs?: number;
  /** Time to let scripts run after `load` before judging the page (default 300 ms). */
  settleMs?: number;
  viewport?: { width: number; height: number };
  /** Chromium's command line (default {@link CHROMIUM_ARGS}; Lambda's Chromium needs its own). */
  launchArgs?: readonly string[];
  /**
   * Run Chromium as this unprivileged user instead of the caller's (the worker's `COMMAND_USER`):
   * the model-written page then runs in a browser without root's files, credentials or
   * capabilities. The caller must be root; the browser is started through
   * {@link CHROMIUM_AS_USER_SCRIPT} (needs `setpriv`, util-linux) with a minimal environment.
   * Its HOME and Playwright's profile go below `os.tmpdir()`, which the user must be able to
   * traverse (`/tmp`) and which must be short (Chromium's singleton socket path: at most 107 bytes).
   */
  runAs?: { uid: number; gid: number };
}

/** The environment variables {@link CHROMIUM_AS_USER_SCRIPT} reads (and clears before the browser). */
export const RUN_AS_ENV = {
  browser: 'RENDER_AS_BROWSER',
  uid: 'RENDER_AS_UID',
  gid: 'RENDER_AS_GID',
} as const;

/**
 * The launcher Playwright starts (as `executablePath`) when {@link RenderCheckOptions.runAs} is set;
 * written at run time into a root-only temporary directory (the worker is one bundled file, so it
 * ships no separate script). It runs as root: gives the profile directory Playwright created (as
 * root, `--user-data-dir=`) to the user, then replaces itself (exec: Playwright's pipe on fds 3/4
 * and its process-group kill still reach the browser) with the real browser as the user, without
 * supplementary groups, capabilities or the means to regain any (no_new_privs). Changing every uid
 * from 0 to the user clears the permitted, effective and ambient capabilities; the bounding set is
 * emptied too where the caller holds CAP_SETPCAP (setpriv skips that silently where it does not,
 * e.g. the Fargate worker: no setuid programs are left in the image and no_new_privs forbids file
 * capabilities). Without the user variables, or with a root id, it refuses to start (exit 97).
 */
export const CHROMIUM_AS_USER_SCRIPT = `#!/bin/sh
set -eu
refuse() { echo "chromium-as-user: $*" >&2; exit 97; }
browser=\${${RUN_AS_ENV.browser}:-}
uid=\${${RUN_AS_ENV.uid}:-}
gid=\${${RUN_AS_ENV.gid}:-}
case $uid in '' | *[!0-9]*) refuse "${RUN_AS_ENV.uid} must be a number" ;; esac
case $gid in '' | *[!0-9]*) refuse "${RUN_AS_ENV.gid} must be a number" ;; esac
[ "$uid" -gt 0 ] && [ "$gid" -gt 0 ] || refuse "will not run the browser as root"
case $browser in /*) ;; *) refuse "${RUN_AS_ENV.browser} must be an absolute path" ;; esac
[ -x "$browser" ] || refuse "not an executable: $browser"
profile=
for arg in "$@"; do
  case $arg in
    --user-data-dir=*)
      [ -z "$profile" ] || refuse "more than one --user-data-dir"
      profile=\${arg#--user-data-dir=}
      ;;
  esac
done
case $profile in /*) ;; *) refuse "no absolute --user-data-dir among the arguments" ;; esac
[ -d "$profile" ] && [ ! -L "$profile" ] || refuse "the profile is not a directory: $profile"
chown -R -- "$uid:$gid" "$profile"
unset ${RUN_AS_ENV.browser} ${RUN_AS_ENV.uid} ${RUN_AS_ENV.gid}
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all --bounding-set=-all \\
  --no-new-privs -- "$browser" "$@"
`;

/** The browser's whole environment when it runs as another user (nothing of the worker's). */
const RUN_AS_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunAsLaunch {
  executablePath: string;
  env: Record<string, string>;
  /** Removes the launcher and the browser's HOME (after the browser has exited). */
  cleanup: () => Promise<void>;
}

/**
 * A root-only directory (0711: the user may traverse it, not list it) holding the launcher (0700)
 * and the browser's HOME (`home/`, the user's, 0700; also its TMPDIR).
 */
export async function prepareRunAs(
  browser: string,
  user: { uid: number; gid: number },
): Promise<RunAsLaunch> {
  const base = await mkdtemp(path.join(tmpdir(), 'render-as-user-'));
  try {
    await chmod(base, 0o711);
    const launcher = path.join(base, 'chromium-as-user');
    await writeFile(launcher, CHROMIUM_AS_USER_SCRIPT, { mode: 0o700, flag: 'wx' });
    const home = path.join(base, 'home');
    await mkdir(home, { mode: 0o700 });
    await chown(home, user.uid, user.gid);
    return {
      executablePath: launcher,
      env: {
        PATH: RUN_AS_PATH,
        HOME: home,
        TMPDIR: home,
        [RUN_AS_ENV.browser]: browser,
        [RUN_AS_ENV.uid]: String(user.uid),
        [RUN_AS_ENV.gid]: String(user.gid),
      },
      cleanup: () => rm(base, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(base, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

const validId = (n: number) => Number.isSafeInteger(n) && n > 0 && n < 2 ** 31 - 1;

export interface RenderCheckResult {
  status: 'passed' | 'failed' | 'skipped';
  problems: string[];
  notes: string[];
}

const encodePath = (p: string): string => p.split('/').map(encodeURIComponent).join('/');

/**
 * Renders the entry page in headless Chromium from a local static server and fails when: an
 * uncaught script error occurs (`pageerror`), a same-origin request fails or answers ≥ 400
 * (e.g. a missing script), or the page is blank (no visible text and only white / transparent
 * pixels). Requests to other origins are blocked (the artifact is judged offline) and noted.
 * Without a browser the check is `skipped` with the reason in `notes`, never failed; callers
 * decide what a skip means (the worker's `RENDER_CHECK=required` fails the attempt, the gate's
 * `RENDER_EVIDENCE=worker` requires the worker's render evidence: lib/verify/render-evidence.ts).
 */
export async function renderCheck(opts: RenderCheckOptions): Promise<RenderCheckResult> {
  const notes: string[] = [];
  const problems: string[] = [];
  let executablePath: string | undefined;
  if (opts.browser === false) return { status: 'skipped', problems, notes: ['render check disabled'] };
  if (opts.browser) executablePath = opts.browser;
  else {
    const found = findBrowser();
    if (found.path === undefined) return { status: 'skipped', problems, notes: [found.reason] };
    executablePath = found.path;
  }
  const runAs = opts.runAs;
  if (runAs) {
    // A configuration error, not a page problem: thrown, never reported as a failed render.
    if (!validId(runAs.uid) || !validId(runAs.gid)) throw new Error('runAs needs a non-root uid and gid');
    if (process.getuid?.() !== 0) throw new Error('runAs needs the render check to run as root');
  }
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const settleMs = opts.settleMs ?? 300;
  const viewport = opts.viewport ?? { width: 800, height: 600 };

  // Not a literal specifier: the Lambda and worker bundles must not pull playwright-core in. Where
  // it is not installed (a bundle without node_modules) the check is skipped, like without Chromium.
  const playwrightModule = 'playwright-core';
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = (await import(playwrightModule)) as typeof import('playwright-core'));
  } catch {
    return { status: 'skipped', problems, notes: ['playwright-core is not installed'] };
  }
  const server = await serveStatic({ root: opts.dir });
  const origin = new URL(server.url).origin;
  let browser: Browser | undefined;
  let asUser: RunAsLaunch | undefined;
  try {
    if (runAs) asUser = await prepareRunAs(executablePath, runAs);
    browser = await chromium.launch({
      executablePath: asUser?.executablePath ?? executablePath,
      args: opts.launchArgs ? [...opts.launchArgs] : [...CHROMIUM_ARGS],
      timeout: timeoutMs,
      ...(asUser && { env: asUser.env }),
    });
    const context = await browser.newContext({ viewport, serviceWorkers: 'block', acceptDownloads: false });
    context.setDefaultTimeout(timeoutMs);
    const external = new Set<string>();
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url.startsWith('data:') || url.startsWith('blob:'))
        return route.continue();
      try {
        external.add(new URL(url).origin);
      } catch {
        external.add(url.slice(0, 40));
      }
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`uncaught script error: ${oneLine(err.message)}`));
    page.on('requestfailed', (req) => {
      if (req.url().startsWith(`${origin}/`))
        problems.push(
          `request failed: ${new URL(req.url()).pathname} (${req.failure()?.errorText ?? 'error'})`,
        );
    });
    page.on('response', (res) => {
      if (res.url().startsWith(`${origin}/`) && res.status() >= 400)
        problems.push(`${new URL(res.url()).pathname} answered ${res.status()}`);
    });
    page.on('crash', () => problems.push('the page crashed'));

    const entry = `${origin}/${encodePath(opts.entrypoint)}`;
    const response = await page.goto(entry, { waitUntil: 'load', timeout: timeoutMs });
    if (!response) problems.push('the entry page did not load');
    await page.waitForTimeout(settleMs);
    if (!(await hasVisibleContent(page)))
      problems.push('the page rendered blank (no visible text, only white)');
    for (const o of external) notes.push(`external request blocked: ${o}`);
  } catch (err) {
    problems.push(`render failed: ${oneLine((err as Error).message)}`);
  } finally {
    await browser?.close().catch(() => undefined);
    await asUser?.cleanup().catch(() => undefined);
    await server.close();
  }
  return { status: problems.length === 0 ? 'passed' : 'failed', problems: [...new Set(problems)], notes };
}

function oneLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** Visible text in the body, or any non-white, non-transparent pixel in a screenshot. */
async function hasVisibleContent(page: Page): Promise<boolean> {
  const text = await page.evaluate(() => (document.body?.innerText ?? '').trim().length);
  if (text > 0) return true;
  const png = (await page.screenshot({ type: 'png', fullPage: false })).toString('base64');
  // Decode the screenshot in a fresh about:blank page (no artifact CSP, no artifact code).
  const probe = await page.context().newPage();
  try {
    return await probe.evaluate(async (b64: string) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d');
      if (!ctx) return true;
      ctx.drawImage(img, 0, 0);
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
        if (a > 0 && (r < 245 || g < 245 || b < 245)) return true;
      }
      return false;
    }, png);
  } finally {
    await probe.close();
  }
}
