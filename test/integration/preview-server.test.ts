/**
 * The local preview origin against real s3rver: signed, expiring, artifact-bound tokens; stored
 * MIME types; security headers; traversal refused; and, in real Chromium, the portal origin's
 * cookie never reaches the preview origin (while the portal may still frame it).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetClients, s3Client } from '../../lib/aws/clients.ts';
import { previewUrl } from '../../lib/aws/preview-links.ts';
import { signToken } from '../../lib/aws/signed-token.ts';
import { previewContentSecurityPolicy } from '../../lib/infra/preview-distribution.ts';
import { startPreviewServer } from '../../lib/local/preview-server.ts';
import { type LocalS3, startS3 } from '../../lib/local/s3.ts';
import { contentTypeFor } from '../../lib/verify/index.ts';

const BUCKET = 'preview-test-artifacts';
const SECRET = 'preview-secret-for-integration-tests-0123456789';
const RUN_A = 'run_aaaaaaaaaaaaaaaaaaaaaaaaaa';
const RUN_B = 'run_bbbbbbbbbbbbbbbbbbbbbbbbbb';
const FILES: Record<string, string> = {
  'index.html':
    '<!doctype html><html><head><link rel="stylesheet" href="style.css"><script src="app.js" defer></script></head><body><h1 id="t">Tip calculator</h1></body></html>',
  'app.js': 'document.getElementById("t").dataset.ready = "yes";',
  'style.css': 'h1 { color: #123456; }',
  'assets/logo.svg': '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>',
  'data.json': '{"ok":true}',
};
const CHROMIUM = process.env.VERIFY_BROWSER || '/usr/bin/chromium';

let root: string;
let s3: LocalS3;
let preview: Awaited<ReturnType<typeof startPreviewServer>>;
let portal: Server;
let portalUrl: string;
const seen: { url: string; cookie: string | undefined }[] = [];
const portalCookies: (string | undefined)[] = [];
const savedEnv = { ...process.env };

const claimsFor = (runId: string, artifactId: string) => ({
  runId,
  artifactId,
  prefix: `runs/${runId}/${artifactId}/`,
  entrypoint: 'index.html',
});

/** A raw GET (Node does not normalize the request target, so traversal reaches the server as sent). */
function rawGet(
  base: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: target, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const pathOf = (url: string) => new URL(url).pathname;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'preview-int-'));
  s3 = await startS3({ dataDir: root, port: 0 });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  });
  delete process.env.AWS_SESSION_TOKEN;
  resetClients();
  await s3Client().send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (const [run, art, marker] of [
    [RUN_A, 'web', 'A'],
    [RUN_B, 'web', 'B'],
    [RUN_A, 'other', 'OTHER'],
  ] as const) {
    for (const [rel, body] of Object.entries(FILES)) {
      await s3Client().send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `runs/${run}/${art}/${rel}`,
          Body: rel === 'index.html' ? body.replace('Tip calculator', `Tip calculator ${marker}`) : body,
          ContentType: contentTypeFor(rel),
        }),
      );
    }
  }

  // A stand-in portal on 127.0.0.1 that sets a session cookie and can frame a preview.
  portal = createServer((req, res) => {
    portalCookies.push(req.headers.cookie);
    const u = new URL(req.url ?? '/', 'http://x');
    const frame = u.searchParams.get('frame');
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'set-cookie': 'bb_session=portal-session-value; Path=/; HttpOnly; SameSite=Lax',
    });
    res.end(
      `<!doctype html><html><body><p>portal</p>${frame ? `<iframe id="pv" src="${frame}"></iframe>` : ''}</body></html>`,
    );
  });
  await new Promise<void>((done) => portal.listen(0, '127.0.0.1', () => done()));
  portalUrl = `http://127.0.0.1:${(portal.address() as AddressInfo).port}`;

  preview = await startPreviewServer({
    host: '127.0.0.1',
    port: 0,
    bucket: BUCKET,
    secret: async () => SECRET,
    frameAncestors: [portalUrl],
  });
  preview.server.on('request', (req) => seen.push({ url: req.url ?? '', cookie: req.headers.cookie }));
}, 60_000);

afterAll(async () => {
  await new Promise<void>((done) => preview?.server.close(() => done()));
  await new Promise<void>((done) => portal?.close(() => done()));
  await s3?.stop();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  resetClients();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('local preview origin', () => {
  it('is another origin than the portal (host name and port)', () => {
    expect(new URL(preview.url).hostname).toBe('localhost');
    expect(new URL(preview.url).origin).not.toBe(new URL(portalUrl).origin);
  });

  it('serves a valid token: entry page for the bare link, assets with their stored MIME types', async () => {
    const link = await previewUrl(preview.url, claimsFor(RUN_A, 'web'), SECRET);
    const page = await rawGet(preview.url, pathOf(link));
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('Tip calculator A');
    const expected: Record<string, RegExp> = {
      'index.html': /^text\/html/,
      'app.js': /^text\/javascript/,
      'style.css': /^text\/css/,
      'assets/logo.svg': /^image\/svg\+xml/,
      'data.json': /^application\/json/,
    };
    for (const [rel, type] of Object.entries(expected)) {
      const r = await rawGet(preview.url, `${pathOf(link)}${rel}`);
      expect(r.status, rel).toBe(200);
      expect(String(r.headers['content-type']), rel).toMatch(type);
    }
  });

  it('sends the security headers: CSP with frame-ancestors of the portal, nosniff, no referrer', async () => {
    const link = await previewUrl(preview.url, claimsFor(RUN_A, 'web'), SECRET);
    const r = await rawGet(preview.url, pathOf(link));
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toBe(previewContentSecurityPolicy([portalUrl])); // the same policy as on CloudFront
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain(`frame-ancestors 'self' ${portalUrl}`);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
  });

  it('refuses expired, tampered, session-key-signed and foreign-artifact tokens', async () => {
    const expired = await previewUrl(preview.url, claimsFor(RUN_A, 'web'), SECRET, -5);
    expect((await rawGet(preview.url, pathOf(expired))).status).toBe(404);

    const good = pathOf(await previewUrl(preview.url, claimsFor(RUN_A, 'web'), SECRET));
    const [, , token] = good.split('/');
    const [h, p, s] = token!.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const swapped = Buffer.from(
      JSON.stringify({ ...payload, sub: RUN_B, prefix: `runs/${RUN_B}/web/` }),
    ).toString('base64url');
    expect((await rawGet(preview.url, `/p/${h}.${swapped}.${s}/`)).status).toBe(404);

    const sessionSigned = await previewUrl(
      preview.url,
      claimsFor(RUN_A, 'web'),
      'the-session-secret-not-preview',
    );
    expect((await rawGet(preview.url, pathOf(sessionSigned))).status).toBe(404);

    // Correctly signed but bound to another artifact's prefix than its own claims: refused.
    const crossed = await signToken(
      { aid: 'web', prefix: `runs/${RUN_A}/other/`, entry: 'index.html' },
      RUN_A,
      'artifact-preview',
      SECRET,
      600,
    );
    expect((await rawGet(preview.url, `/p/${crossed}/`)).status).toBe(404);

    // A token for run B's artifact only ever shows run B's artifact.
    const b = await previewUrl(preview.url, claimsFor(RUN_B, 'web'), SECRET);
    const rb = await rawGet(preview.url, pathOf(b));
    expect(rb.body).toContain('Tip calculator B');
    expect(rb.body).not.toContain('Tip calculator A');
  });

  it('refuses traversal, encoded paths, absolute paths and directory listings', async () => {
    const base = pathOf(await previewUrl(preview.url, claimsFor(RUN_A, 'web'), SECRET)).replace(/\/$/, '');
    const attempts = [
      '/../other/index.html',
      '/../../runs/x/index.html',
      '/..%2fother%2findex.html',
      '/%2e%2e/other/index.html',
      '/a/%2E%2E/%2E%2E/other/index.html',
      '/..\\other\\index.html',
      '//etc/passwd',
      '/assets/',
      '/assets',
      '/.hidden',
      '/missing.html',
    ];
    for (const a of attempts) {
      const r = await rawGet(preview.url, `${base}${a}`);
      expect(r.status, a).toBe(404);
      expect(r.body, a).not.toContain('Tip calculator');
    }
    expect((await rawGet(preview.url, `/runs/${RUN_A}/web/index.html`)).status).toBe(404);
    expect((await rawGet(preview.url, '/')).status).toBe(404);
  });

  it.skipIf(!existsSync(CHROMIUM))(
    "never receives the portal origin's cookie, and the portal may frame the preview (real Chromium)",
    async () => {
      const link = await previewUrl(preview.url, claimsFor(RUN_A, 'web'), SECRET);
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      try {
        const page = await (await browser.newContext()).newPage();
        await page.goto(`${portalUrl}/`);
        // The cookie is set on the portal origin and sent back to it (positive control).
        await page.goto(`${portalUrl}/?frame=${encodeURIComponent(link)}`);
        expect(portalCookies.at(-1)).toContain('bb_session=portal-session-value');
        const frame = page.frameLocator('#pv');
        await expect
          .poll(async () => frame.locator('h1').getAttribute('data-ready'), { timeout: 10_000 })
          .toBe('yes');
        expect(await frame.locator('h1').textContent()).toContain('Tip calculator A');

        seen.length = 0;
        await page.goto(link);
        expect(await page.locator('h1').textContent()).toContain('Tip calculator A');
        await expect.poll(() => page.locator('h1').getAttribute('data-ready')).toBe('yes');
        const previewRequests = [...seen];
        expect(previewRequests.length).toBeGreaterThanOrEqual(3); // page, script, stylesheet
        for (const r of previewRequests) expect(r.cookie, r.url).toBeUndefined();

        // Control: the same server addressed by the portal's host name WOULD get the cookie (cookies
        // ignore ports), so the separate host name is what keeps the session away from previews.
        seen.length = 0;
        await page.goto(link.replace('//localhost:', '//127.0.0.1:'));
        expect(seen[0]?.cookie).toContain('bb_session=portal-session-value');
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
