import type { Browser, BrowserContext, Download, Locator, Page } from 'playwright-core';
import type { CheckOutcome, WebCheck, WebExpectation, WebStep } from '../../domain/acceptance.ts';
import { clipDetail } from '../../domain/acceptance.ts';
import { numberShown } from '../../domain/acceptance-eval.ts';
import { CHROMIUM_ARGS, findBrowser, prepareRunAs, type RunAsLaunch } from '../render-check.ts';
import { serveStatic } from '../static-server.ts';
import type { RunWebChecks, WebChecksInput, WebChecksResult } from './types.ts';

/** Budget of one whole check (load, steps, expectations); a check over it fails. */
export const WEB_CHECK_TIMEOUT_MS = 30_000;
/** How long one step waits for its control to appear / become actionable. */
export const STEP_TIMEOUT_MS = 5_000;
/** How long expectations are retried after the last step (the page may update asynchronously). */
export const EXPECT_SETTLE_MS = 2_000;
/** The largest download a check reads (the rest is cut). */
export const MAX_DOWNLOAD_BYTES = 1024 * 1024;
/** The largest screenshot kept: a full-page one over it is replaced by the viewport only. */
export const MAX_SCREENSHOT_BYTES = 2 * 1024 * 1024;
const VIEWPORT = { width: 1000, height: 800 };

/** A step or expectation the page could not satisfy: the check fails with this text. */
class CheckFailure extends Error {}

const q = (s: string) => `'${clipDetail(s, 80)}'`;
const oneLine = (s: string) => clipDetail((s.split('\n')[0] ?? '').trim(), 200);
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const encodePath = (p: string): string => p.split('/').map(encodeURIComponent).join('/');

/**
 * The local web check runner: serves the web artifact's directory with the verification static
 * server and runs each check in a fresh browser context (fresh storage, downloads accepted, no
 * service workers) of one headless Chromium. Everything outside the static server's origin is
 * blocked (requests and WebSockets). Steps address the page only through Playwright's user-facing
 * locators (getByLabel, getByRole with a name, getByText); a label or name that matches several
 * elements fails the step instead of picking one. Expectations are retried for a moment after the
 * last step. The outcome's detail names the failing step or expectation (expected vs. saw).
 * Without a browser (or without playwright-core) the result is `skipped`, never failed.
 */
export const runWebChecks: RunWebChecks = async (input: WebChecksInput): Promise<WebChecksResult> => {
  const notes: string[] = [];
  let executablePath: string;
  if (input.browser === false) return { status: 'skipped', outcomes: [], notes: ['web checks disabled'] };
  if (input.browser) executablePath = input.browser;
  else {
    const found = findBrowser();
    if (found.path === undefined) return { status: 'skipped', outcomes: [], notes: [found.reason] };
    executablePath = found.path;
  }
  // Not a literal specifier: bundles without node_modules must not pull playwright-core in.
  const playwrightModule = 'playwright-core';
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = (await import(playwrightModule)) as typeof import('playwright-core'));
  } catch {
    return { status: 'skipped', outcomes: [], notes: ['playwright-core is not installed'] };
  }
  const server = await serveStatic({ root: input.dir });
  const origin = new URL(server.url).origin;
  const entry = `${origin}/${encodePath(input.entrypoint)}`;
  let browser: Browser | undefined;
  const outcomes: CheckOutcome[] = [];
  let screenshot: Buffer | undefined;
  let asUser: RunAsLaunch | undefined;
  try {
    // The coder's self-check under COMMAND_USER: the model-written page never runs in a root browser.
    if (input.runAs) asUser = await prepareRunAs(executablePath, input.runAs);
    browser = await chromium.launch({
      executablePath: asUser?.executablePath ?? executablePath,
      args: input.launchArgs ? [...input.launchArgs] : [...CHROMIUM_ARGS],
      timeout: WEB_CHECK_TIMEOUT_MS,
      ...(asUser && { env: asUser.env }),
    });
    const blocked = new Set<string>();
    for (const [i, check] of input.checks.entries()) {
      const last = i === input.checks.length - 1;
      const started = performance.now();
      const context = await browser.newContext({
        viewport: VIEWPORT,
        serviceWorkers: 'block',
        acceptDownloads: true,
      });
      let problem: string | undefined;
      try {
        await isolate(context, origin, blocked);
        const page = await context.newPage();
        problem = await withTimeout(
          runCheck(page, entry, check),
          input.checkTimeoutMs ?? WEB_CHECK_TIMEOUT_MS,
        );
        if (last && input.screenshot) screenshot = await takeScreenshot(page);
      } finally {
        await context.close().catch(() => undefined);
      }
      outcomes.push({
        id: check.id,
        kind: 'web',
        passed: problem === undefined,
        ranOn: 'web',
        durationMs: Math.max(0, Math.round(performance.now() - started)),
        ...(problem !== undefined && { detail: clipDetail(problem, 2_000) }),
      });
    }
    for (const o of blocked) notes.push(`external request blocked: ${o}`);
  } finally {
    await browser?.close().catch(() => undefined);
    await asUser?.cleanup().catch(() => undefined);
    await server.close();
  }
  return { status: 'ran', outcomes, notes, ...(screenshot && { screenshot }) };
};

/** Only the static server's origin (and the page's own data: / blob: URLs) is reachable. */
async function isolate(context: BrowserContext, origin: string, blocked: Set<string>): Promise<void> {
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`) || url.startsWith('data:') || url.startsWith('blob:'))
      return route.continue();
    try {
      blocked.add(new URL(url).origin);
    } catch {
      blocked.add(url.slice(0, 40));
    }
    return route.abort('blockedbyclient');
  });
  await context.routeWebSocket(/.*/, (ws) => {
    blocked.add(ws.url().slice(0, 60));
    return ws.close();
  });
}

/** Resolves with the check's failure (undefined: passed), or a timeout failure. */
async function withTimeout(work: Promise<string | undefined>, ms: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`the check did not finish within ${ms} ms`), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Downloaded {
  name: string;
  text: string;
}

/** Loads the entry page, performs the steps, judges the expectations; returns the failure or undefined. */
async function runCheck(page: Page, entry: string, check: WebCheck): Promise<string | undefined> {
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  let lastDownload: Promise<Downloaded> | undefined;
  page.on('download', (d) => {
    lastDownload = readDownload(d);
  });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(oneLine(err.message)));
  try {
    const res = await page.goto(entry, { waitUntil: 'load', timeout: STEP_TIMEOUT_MS * 2 });
    if (!res || res.status() >= 400) return `the entry page did not load (${res?.status() ?? 'no response'})`;
  } catch (err) {
    return `the entry page did not load: ${oneLine((err as Error).message)}`;
  }
  for (const [i, step] of check.steps.entries()) {
    try {
      await perform(page, step);
    } catch (err) {
      const why = err instanceof CheckFailure ? err.message : oneLine((err as Error).message);
      const script = errors.length > 0 ? ` (script error: ${errors[0]})` : '';
      return `step ${i + 1} ${describeStep(step)}: ${why}${script}`;
    }
  }
  const deadline = Date.now() + EXPECT_SETTLE_MS;
  for (;;) {
    const problems: string[] = [];
    for (const [i, exp] of check.expect.entries()) {
      const p = await judge(page, exp, lastDownload).catch((err: Error) =>
        err instanceof CheckFailure ? err.message : oneLine(err.message),
      );
      if (p) problems.push(`expectation ${i + 1}: ${p}`);
    }
    if (problems.length === 0) return undefined;
    if (Date.now() >= deadline) {
      const script = errors.length > 0 ? ` (script error: ${errors[0]})` : '';
      return `${problems.join('; ')}${script}`;
    }
    await page.waitForTimeout(200);
  }
}

function describeStep(step: WebStep): string {
  switch (step.action) {
    case 'fill':
      return `fill ${q(step.label)}`;
    case 'select':
      return `select ${q(step.option)} in ${q(step.label)}`;
    case 'check':
      return `${step.checked ? 'tick' : 'untick'} ${q(step.label)}`;
    case 'click':
      return `click ${step.role} ${q(step.name)}`;
    case 'upload':
      return `upload ${q(step.file.name)} to ${q(step.label)}`;
    case 'press':
      return `press ${step.key}${step.label ? ` in ${q(step.label)}` : ''}`;
    case 'wait_for_text':
      return `wait for ${q(step.text)}`;
  }
}

/**
 * The one element a person would mean: an exact match of the label / name if there is exactly
 * one, else the one partial match. None, or several, is a failure naming what was looked for.
 */
async function theOne(exact: Locator, loose: Locator, what: string): Promise<Locator> {
  await loose
    .first()
    .waitFor({ state: 'attached', timeout: STEP_TIMEOUT_MS })
    .catch(() => undefined);
  const exactCount = await exact.count();
  if (exactCount === 1) return exact;
  if (exactCount > 1) throw new CheckFailure(`${exactCount} elements match ${what}; it must name one`);
  const looseCount = await loose.count();
  if (looseCount === 1) return loose;
  if (looseCount > 1) throw new CheckFailure(`${looseCount} elements match ${what}; it must name one`);
  throw new CheckFailure(`no ${what}`);
}

const byLabel = (page: Page, label: string, kind = 'field') =>
  theOne(page.getByLabel(label, { exact: true }), page.getByLabel(label), `${kind} with that label`);

async function perform(page: Page, step: WebStep): Promise<void> {
  switch (step.action) {
    case 'fill':
      await (await byLabel(page, step.label)).fill(step.value);
      return;
    case 'select': {
      const field = await byLabel(page, step.label, 'list');
      try {
        await field.selectOption({ label: step.option }, { timeout: STEP_TIMEOUT_MS });
      } catch (err) {
        throw new CheckFailure(`no option ${q(step.option)} (${oneLine((err as Error).message)})`);
      }
      return;
    }
    case 'check':
      await (await byLabel(page, step.label, 'checkbox')).setChecked(step.checked);
      return;
    case 'click': {
      const target = await theOne(
        page.getByRole(step.role, { name: step.name, exact: true }),
        page.getByRole(step.role, { name: step.name }),
        `${step.role} with that name`,
      );
      await target.click();
      return;
    }
    case 'upload':
      await (await byLabel(page, step.label, 'file field')).setInputFiles({
        name: step.file.name,
        mimeType: step.file.mimeType,
        buffer: Buffer.from(step.file.content, 'utf8'),
      });
      return;
    case 'press':
      if (step.label) await (await byLabel(page, step.label)).press(step.key);
      else await page.keyboard.press(step.key);
      return;
    case 'wait_for_text':
      try {
        await page.getByText(step.text).first().waitFor({ state: 'visible', timeout: step.timeoutMs });
      } catch {
        throw new CheckFailure(`the text did not appear within ${step.timeoutMs} ms`);
      }
      return;
  }
}

/** The page's visible text (what a person reads), whitespace runs collapsed per line. */
async function visibleText(page: Page): Promise<string> {
  const text = await page.evaluate(() => document.body?.innerText ?? '');
  return text
    .split('\n')
    .map((l) => l.replace(/[ \t\u00a0]+/g, ' ').trim())
    .filter((l) => l.length > 0)
    .join('\n');
}

async function judge(
  page: Page,
  exp: WebExpectation,
  lastDownload: Promise<Downloaded> | undefined,
): Promise<string | undefined> {
  switch (exp.type) {
    case 'text': {
      const locator = exp.ignoreCase
        ? page.getByText(exp.text)
        : page.getByText(new RegExp(escapeRegExp(exp.text)));
      const text = await visibleText(page);
      const inText = exp.ignoreCase
        ? text.toLowerCase().includes(exp.text.toLowerCase())
        : text.includes(exp.text);
      const shown = inText || (await locator.first().isVisible());
      if (shown === exp.visible) return undefined;
      return exp.visible
        ? `expected the text ${q(exp.text)} on the page; saw ${JSON.stringify(clipDetail(text, 200))}`
        : `expected no text ${q(exp.text)} on the page, but it is shown`;
    }
    case 'number': {
      const text = await visibleText(page);
      const r = numberShown(text, exp);
      if (r.ok) return undefined;
      const near = exp.near ? ` near ${q(exp.near)}` : '';
      return `expected ${exp.value} (±${exp.tolerance})${near}; saw ${r.seen.slice(0, 8).join(', ') || 'no number'} in ${JSON.stringify(clipDetail(text, 200))}`;
    }
    case 'field': {
      const field = await byLabel(page, exp.label);
      const value = await field.inputValue({ timeout: STEP_TIMEOUT_MS });
      if (exp.equals !== undefined) {
        return value.trim() === exp.equals.trim()
          ? undefined
          : `expected ${q(exp.label)} to hold ${JSON.stringify(exp.equals)}; it holds ${JSON.stringify(clipDetail(value, 200))}`;
      }
      const n = exp.number;
      if (!n) return undefined;
      const r = numberShown(value, n);
      return r.ok
        ? undefined
        : `expected ${q(exp.label)} to hold ${n.value} (±${n.tolerance}); it holds ${JSON.stringify(clipDetail(value, 200))}`;
    }
    case 'download': {
      if (!lastDownload) return 'expected a download; none was started';
      const d = await lastDownload;
      if (exp.fileName && d.name !== exp.fileName)
        return `expected the download to be named ${q(exp.fileName)}; it is ${q(d.name)}`;
      const missing = exp.contains.filter((c) => !d.text.includes(c));
      return missing.length === 0
        ? undefined
        : `expected the download to contain ${missing.map((m) => JSON.stringify(m)).join(', ')}; it holds ${JSON.stringify(clipDetail(d.text, 200))}`;
    }
  }
}

/** A download's name and content as text, read up to {@link MAX_DOWNLOAD_BYTES}. */
async function readDownload(d: Download): Promise<Downloaded> {
  const name = d.suggestedFilename();
  const stream = await d.createReadStream();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const room = MAX_DOWNLOAD_BYTES - size;
    if (room <= 0) break;
    chunks.push(chunk.subarray(0, room));
    size += Math.min(chunk.length, room);
  }
  stream.destroy();
  return { name, text: Buffer.concat(chunks).toString('utf8') };
}

/** The page at the end of the checks: full page, or the viewport only when that is too large. */
async function takeScreenshot(page: Page): Promise<Buffer | undefined> {
  try {
    const full = await page.screenshot({ type: 'png', fullPage: true, timeout: STEP_TIMEOUT_MS });
    if (full.length <= MAX_SCREENSHOT_BYTES) return full;
    const view = await page.screenshot({ type: 'png', fullPage: false, timeout: STEP_TIMEOUT_MS });
    return view.length <= MAX_SCREENSHOT_BYTES ? view : undefined;
  } catch {
    return undefined;
  }
}
