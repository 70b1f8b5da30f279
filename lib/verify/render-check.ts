import { accessSync, constants } from 'node:fs';
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
}

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
  try {
    browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS], timeout: timeoutMs });
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
