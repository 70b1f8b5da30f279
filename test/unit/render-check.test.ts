import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBrowser, renderCheck } from '../../lib/verify/render-check.ts';
import { PUBLIC_SUMMARIES, verifyCandidate } from '../../lib/verify/verify-candidate.ts';
import { makeCandidate, writeManifest } from './verify-fixtures.ts';

const CHROMIUM = process.env.VERIFY_BROWSER || '/usr/bin/chromium';
const hasBrowser = existsSync(CHROMIUM);

let root: string;

async function site(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(root, name);
  for (const [rel, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), body);
  }
  return dir;
}

const html = (body: string, head = '') =>
  `<!doctype html><html><head><meta charset="utf-8">${head}</head><body>${body}</body></html>`;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'render-check-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('findBrowser', () => {
  it('honours VERIFY_BROWSER, including turning the check off', () => {
    expect(findBrowser({ VERIFY_BROWSER: 'none' })).toEqual({
      path: undefined,
      reason: 'VERIFY_BROWSER=none',
    });
    const missing = findBrowser({ VERIFY_BROWSER: '/nonexistent/chromium' });
    expect(missing.path).toBeUndefined();
    if (hasBrowser) expect(findBrowser({ VERIFY_BROWSER: CHROMIUM }).path).toBe(CHROMIUM);
  });
});

describe('renderCheck', () => {
  it('is skipped (not failed) without a browser', async () => {
    const dir = await site('skip', { 'index.html': html('<p>hi</p>') });
    const r = await renderCheck({ dir, entrypoint: 'index.html', browser: false });
    expect(r.status).toBe('skipped');
    expect(r.problems).toEqual([]);
    const saved = process.env.VERIFY_BROWSER;
    process.env.VERIFY_BROWSER = '/nonexistent/chromium';
    try {
      const r2 = await renderCheck({ dir, entrypoint: 'index.html' });
      expect(r2.status).toBe('skipped');
      expect(r2.notes.join(' ')).toContain('/nonexistent/chromium');
    } finally {
      if (saved === undefined) delete process.env.VERIFY_BROWSER;
      else process.env.VERIFY_BROWSER = saved;
    }
  });

  describe.skipIf(!hasBrowser)('in headless Chromium', () => {
    const check = (dir: string, entrypoint = 'index.html') =>
      renderCheck({ dir, entrypoint, browser: CHROMIUM, timeoutMs: 20_000 });

    it('passes a good page (script renders the content, stylesheet loads)', async () => {
      const dir = await site('good', {
        'index.html': html(
          '<main id="app"></main><script src="app.js"></script>',
          '<link rel="stylesheet" href="style.css">',
        ),
        'app.js': 'document.getElementById("app").textContent = "Tip calculator";',
        'style.css': 'body { font-family: sans-serif; }',
      });
      const r = await check(dir);
      expect(r.problems).toEqual([]);
      expect(r.status).toBe('passed');
    }, 40_000);

    it('passes a page with no text that draws something (canvas pixels)', async () => {
      const dir = await site('canvas', {
        'index.html': html(
          '<canvas id="c" width="200" height="200"></canvas><script src="draw.js"></script>',
        ),
        'draw.js':
          'const ctx = document.getElementById("c").getContext("2d"); ctx.fillStyle = "#0047ab"; ctx.fillRect(10, 10, 150, 150);',
      });
      expect((await check(dir)).status).toBe('passed');
    }, 40_000);

    it('fails a blank page', async () => {
      const dir = await site('blank', { 'index.html': html('<div id="app"></div>') });
      const r = await check(dir);
      expect(r.status).toBe('failed');
      expect(r.problems.join(' ')).toContain('blank');
    }, 40_000);

    it('fails a page whose script throws', async () => {
      const dir = await site('throws', {
        'index.html': html('<h1>Calculator</h1><script src="app.js"></script>'),
        'app.js': 'const x = undefined; x.render();',
      });
      const r = await check(dir);
      expect(r.status).toBe('failed');
      expect(r.problems.join(' ')).toContain('uncaught script error');
    }, 40_000);

    it('fails a page with a missing script', async () => {
      const dir = await site('missing', {
        'index.html': html('<h1>Calculator</h1><script src="app.js"></script>'),
      });
      const r = await check(dir);
      expect(r.status).toBe('failed');
      expect(r.problems.join(' ')).toContain('/app.js answered 404');
    }, 40_000);

    it('blocks and notes external requests instead of fetching them', async () => {
      const dir = await site('external', {
        'index.html': html('<h1>Offline</h1><img src="https://example.com/x.png" alt="">'),
      });
      const r = await check(dir);
      expect(r.status).toBe('passed');
      expect(r.notes).toContain('external request blocked: https://example.com');
    }, 40_000);
  });
});

describe('verifyCandidate runs the render check after the static web smoke', () => {
  const manifestOf = async (root: string) =>
    JSON.parse(
      await (await import('node:fs/promises')).readFile(path.join(root, 'artifact-manifest.json'), 'utf8'),
    ).artifacts;

  it('reports it as skipped (passing) when no browser is available', async () => {
    const c = await makeCandidate({});
    const r = await verifyCandidate({ root: c.root, expectedArtifactType: 'web', smoke: { browser: false } });
    expect(r.passed).toBe(true);
    const check = r.checks.find((x) => x.name === 'smoke.render');
    expect(check).toMatchObject({ passed: true });
    expect(check?.detail).toMatch(/^skipped: /);
  });

  it.skipIf(!hasBrowser)(
    'passes the fixture web app and fails one whose script throws',
    async () => {
      const c = await makeCandidate({});
      const ok = await verifyCandidate({
        root: c.root,
        expectedArtifactType: 'web',
        smoke: { browser: CHROMIUM },
      });
      expect(ok.internalReason).toBeUndefined();
      expect(ok.checks.find((x) => x.name === 'smoke.render')).toMatchObject({ passed: true });

      await writeFile(path.join(c.root, 'web/assets/app.js'), 'null.textContent = "boom";\n');
      await writeManifest(c.root, await manifestOf(c.root));
      const bad = await verifyCandidate({
        root: c.root,
        expectedArtifactType: 'web',
        smoke: { browser: CHROMIUM },
      });
      expect(bad.passed).toBe(false);
      expect(bad.publicSummary).toBe(PUBLIC_SUMMARIES.runtime);
      expect(bad.internalReason).toMatch(/smoke\.render: web: uncaught script error/);
    },
    60_000,
  );
});
