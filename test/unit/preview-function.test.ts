import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { previewUrl, verifyPreviewToken } from '../../lib/aws/preview-links.ts';
import { signToken } from '../../lib/aws/signed-token.ts';
import {
  type CfRequest,
  type CfResponse,
  loadPreviewFunction,
  PREVIEW_KEY_NAME,
} from '../../lib/infra/preview-function/load.ts';
import { parsePreviewPath } from '../../lib/local/preview-server.ts';

/**
 * The CloudFront Function of the preview distribution, loaded from the very file CDK deploys and
 * driven with viewer-request events: tokens made by the API's signer (lib/aws/preview-links.ts).
 */
const KEY = `${'k'.repeat(20)}preview-key-for-tests-0123456789`;
const handler = loadPreviewFunction({ [PREVIEW_KEY_NAME]: KEY });
const RUN = 'run_01hx7k2m3n4p5q6r7s8t9v0w1x';
const ART = 'web';
const claims = { runId: RUN, artifactId: ART, prefix: `runs/${RUN}/${ART}/`, entrypoint: 'index.html' };

function event(uri: string, method = 'GET'): { request: CfRequest } {
  return {
    request: {
      method,
      uri,
      querystring: { t: { value: 'x' } },
      headers: { host: { value: 'preview.example' } },
      cookies: { session: { value: 'secret' } },
    },
  };
}

async function tokenFor(c = claims, secret = KEY, ttl = 600): Promise<string> {
  const url = await previewUrl('https://preview.example', c, secret, ttl);
  return /\/p\/([^/]+)\/$/.exec(url)![1]!;
}

const isResponse = (r: CfRequest | CfResponse): r is CfResponse => 'statusCode' in r;

async function run(uri: string, method = 'GET') {
  return handler(event(uri, method));
}

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}

describe('preview CloudFront Function (viewer-request)', () => {
  it('rewrites a valid token to the artifact prefix, entrypoint for the bare link', async () => {
    const token = await tokenFor();
    const out = await run(`/p/${token}/`);
    expect(isResponse(out)).toBe(false);
    const req = out as CfRequest;
    expect(req.uri).toBe(`/runs/${RUN}/${ART}/index.html`);
    expect(req.querystring).toEqual({});
    expect(req.cookies).toEqual({});
  });

  it('rewrites nested asset paths inside the artifact', async () => {
    const token = await tokenFor();
    expect(((await run(`/p/${token}/assets/app.js`)) as CfRequest).uri).toBe(
      `/runs/${RUN}/${ART}/assets/app.js`,
    );
    expect(((await run(`/p/${token}/style.css`, 'HEAD')) as CfRequest).uri).toBe(
      `/runs/${RUN}/${ART}/style.css`,
    );
  });

  it('refuses expired tokens', async () => {
    const token = await tokenFor(claims, KEY, -5);
    const out = await run(`/p/${token}/`);
    expect(out).toMatchObject({ statusCode: 404 });
  });

  it('refuses tokens signed with another key (e.g. the session key)', async () => {
    const token = await tokenFor(claims, 'session-secret-that-is-not-the-preview-key');
    expect(await run(`/p/${token}/`)).toMatchObject({ statusCode: 404 });
  });

  it('refuses tampered tokens: changed payload, changed signature, alg none', async () => {
    const token = await tokenFor();
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    const other = b64url(JSON.stringify({ ...payload, aid: 'other', prefix: `runs/${RUN}/other/` }));
    expect(await run(`/p/${h}.${other}.${s}/`)).toMatchObject({ statusCode: 404 });
    const flipped = s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1);
    expect(await run(`/p/${h}.${p}.${flipped}/`)).toMatchObject({ statusCode: 404 });
    const none = b64url(JSON.stringify({ alg: 'none' }));
    expect(await run(`/p/${none}.${p}.${s}/`)).toMatchObject({ statusCode: 404 });
  });

  it("refuses a token whose prefix is not its own run's artifact (never grants another artifact)", async () => {
    // Correctly signed, but the prefix points at another artifact: the claim binding is checked.
    const forged = await signToken(
      { aid: ART, prefix: `runs/${RUN}/other/`, entry: 'index.html' },
      RUN,
      'artifact-preview',
      KEY,
      600,
    );
    expect(await run(`/p/${forged}/`)).toMatchObject({ statusCode: 404 });
    const otherAudience = await signToken(
      { aid: ART, prefix: `runs/${RUN}/${ART}/`, entry: 'index.html' },
      RUN,
      'artifact-download',
      KEY,
      600,
    );
    expect(await run(`/p/${otherAudience}/`)).toMatchObject({ statusCode: 404 });
    // The rewrite always uses the token's own prefix: a path cannot climb into another artifact.
    const token = await tokenFor();
    const other = await tokenFor({ ...claims, artifactId: 'web2', prefix: `runs/${RUN}/web2/` });
    expect(((await run(`/p/${other}/index.html`)) as CfRequest).uri).toBe(`/runs/${RUN}/web2/index.html`);
    expect(((await run(`/p/${token}/index.html`)) as CfRequest).uri).toBe(`/runs/${RUN}/${ART}/index.html`);
  });

  it('accepts an HMAC it computes the same way Node does (format check, independent of jose)', async () => {
    const h = b64url(JSON.stringify({ alg: 'HS256' }));
    const p = b64url(
      JSON.stringify({
        sub: RUN,
        aid: ART,
        prefix: `runs/${RUN}/${ART}/`,
        entry: 'index.html',
        aud: 'artifact-preview',
        exp: Math.floor(Date.now() / 1000) + 60,
      }),
    );
    const s = createHmac('sha256', KEY).update(`${h}.${p}`).digest('base64url');
    expect(((await run(`/p/${h}.${p}.${s}/`)) as CfRequest).uri).toBe(`/runs/${RUN}/${ART}/index.html`);
  });

  const TRAVERSALS = [
    '/../../other/index.html',
    '/a/../../x',
    '/..%2f..%2fsecret',
    '/%2e%2e/%2e%2e/x',
    '/%252e%252e/x',
    '/a\\..\\b',
    '//etc/passwd',
    '/.env',
    '/a/./b',
    '/a//b',
    '/x..y/z',
  ];

  it('refuses traversal and encoded paths exactly like the local preview server', async () => {
    const token = await tokenFor();
    for (const t of TRAVERSALS) {
      const uri = `/p/${token}${t}`;
      expect(await run(uri), uri).toMatchObject({ statusCode: 404 });
      expect(parsePreviewPath(uri), uri).toBeUndefined();
    }
  });

  /** A token signed with the right key by hand: any claims, `exp` only when given. */
  async function handMade(payload: Record<string, unknown>, exp?: number): Promise<string> {
    const jwt = new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).setSubject(RUN);
    jwt.setAudience('artifact-preview');
    if (exp !== undefined) jwt.setExpirationTime(exp);
    return jwt.sign(new TextEncoder().encode(KEY));
  }
  const prefix = `runs/${RUN}/${ART}/`;
  const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

  it('both refuse a token without exp, and tokens whose entry is unsafe', async () => {
    const noExp = await handMade({ aid: ART, prefix, entry: 'index.html' });
    const fine = await handMade({ aid: ART, prefix, entry: 'index.html' }, inAnHour());
    const badEntries = ['../secret.html', '', '/index.html', 'a//b.html', '.env', 'a/%2e%2e/b'];
    const refused = [noExp];
    for (const entry of badEntries) refused.push(await handMade({ aid: ART, prefix, entry }, inAnHour()));
    for (const t of refused) {
      expect(await run(`/p/${t}/`), t).toMatchObject({ statusCode: 404 });
      expect(await verifyPreviewToken(t, KEY), t).toBeUndefined();
    }
    expect(isResponse(await run(`/p/${fine}/`))).toBe(false);
    expect(await verifyPreviewToken(fine, KEY)).toMatchObject({ entrypoint: 'index.html' });
  });

  it('agrees with the local server on which paths and tokens are valid (parity table)', async () => {
    const good = await tokenFor();
    const expired = await tokenFor(claims, KEY, -1);
    const noExp = await handMade({ aid: ART, prefix, entry: 'index.html' });
    const badEntry = await handMade({ aid: ART, prefix, entry: '../../other/index.html' }, inAnHour());
    const cases = [
      `/p/${noExp}/`,
      `/p/${badEntry}/`,
      `/p/${badEntry}/index.html`,
      `/p/${good}/`,
      `/p/${good}/index.html`,
      `/p/${good}/js/app.js`,
      `/p/${expired}/`,
      `/p/${good}`,
      `/p/not-a-token/`,
      '/',
      '/index.html',
      ...TRAVERSALS.map((t) => `/p/${good}${t}`),
    ];
    for (const uri of cases) {
      const parsed = parsePreviewPath(uri);
      const local = parsed ? await verifyPreviewToken(parsed.token, KEY) : undefined;
      const edge = await run(uri);
      expect(isResponse(edge), uri).toBe(!local);
    }
  });

  it('refuses methods other than GET/HEAD and paths outside /p/', async () => {
    const token = await tokenFor();
    expect(await run(`/p/${token}/`, 'POST')).toMatchObject({ statusCode: 404 });
    expect(await run(`/runs/${RUN}/${ART}/index.html`)).toMatchObject({ statusCode: 404 });
    expect(await run('/')).toMatchObject({ statusCode: 404 });
  });

  it('answers 503 (not a pass) when the key is missing from the KeyValueStore', async () => {
    const noKey = loadPreviewFunction({});
    const token = await tokenFor();
    expect(await noKey(event(`/p/${token}/`))).toMatchObject({ statusCode: 503 });
  });

  it('generated refusals are not cacheable and carry nosniff', async () => {
    const out = (await run('/p/x.y.z/../')) as CfResponse;
    expect(out.headers?.['cache-control']?.value).toBe('no-store');
    expect(out.headers?.['x-content-type-options']?.value).toBe('nosniff');
  });
});
