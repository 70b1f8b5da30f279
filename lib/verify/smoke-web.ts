import { request } from 'node:http';
import { serveStatic } from './static-server.ts';

export interface HttpResult {
  status: number;
  contentType: string;
  body: Buffer;
}

/** A plain GET against the local static server (no proxies, no redirects followed). */
export function httpGet(url: string, timeoutMs: number, maxBytes = 4 * 1024 * 1024): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < maxBytes) chunks.push(chunk.subarray(0, maxBytes - size));
        size += chunk.length;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface PageReference {
  tag: 'script' | 'link';
  url: string;
  /** `script` for scripts and module preloads, `style` for stylesheets, `other` for icons etc. */
  expect: 'script' | 'style' | 'other';
}

const TAG = /<(script|link)\b([^>]*)>/gi;
const ATTR = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/g;

const decodeEntities = (s: string): string =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** `<script src>` and `<link href>` references of an HTML page, comments ignored (at most `max`). */
export function pageReferences(html: string, max = 50): PageReference[] {
  const refs: PageReference[] = [];
  for (const tag of html.replace(/<!--[\s\S]*?-->/g, '').matchAll(TAG)) {
    const name = (tag[1] ?? '').toLowerCase() as 'script' | 'link';
    const attrs = new Map<string, string>();
    for (const a of (tag[2] ?? '').matchAll(ATTR)) {
      attrs.set((a[1] ?? '').toLowerCase(), decodeEntities(a[2] ?? a[3] ?? a[4] ?? ''));
    }
    if (name === 'script') {
      const src = attrs.get('src');
      if (src) refs.push({ tag: name, url: src.trim(), expect: 'script' });
    } else {
      const href = attrs.get('href');
      const rel = (attrs.get('rel') ?? '').toLowerCase().split(/\s+/);
      if (!href) continue;
      const expect = rel.includes('stylesheet')
        ? 'style'
        : rel.includes('modulepreload')
          ? 'script'
          : 'other';
      refs.push({ tag: name, url: href.trim(), expect });
    }
    if (refs.length >= max) break;
  }
  return refs;
}

export interface WebSmokeResult {
  passed: boolean;
  problems: string[];
  notes: string[];
}

const encodePath = (p: string): string => p.split('/').map(encodeURIComponent).join('/');

/**
 * Serves `dir` on 127.0.0.1 (ephemeral port) with the verification static server and checks:
 * the entrypoint (and `/` when the entrypoint is `index.html`) answers 200 `text/html` with a
 * non-empty body containing `<html` or `<body`; every same-origin `<script src>` answers 200 with
 * a JavaScript type, every `<link rel=stylesheet href>` 200 `text/css`, and other local links 200.
 * External references (another origin) are noted, not fetched.
 */
export async function smokeWeb(opts: {
  dir: string;
  entrypoint: string;
  timeoutMs?: number;
}): Promise<WebSmokeResult> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const problems: string[] = [];
  const notes: string[] = [];
  const server = await serveStatic({ root: opts.dir });
  try {
    const entryUrl = new URL(`/${encodePath(opts.entrypoint)}`, server.url);
    const pages = [entryUrl];
    if (opts.entrypoint === 'index.html') pages.push(new URL('/', server.url));
    let html = '';
    for (const page of pages) {
      const label = page.pathname;
      const res = await httpGet(page.href, timeoutMs).catch((err: Error) => err);
      if (res instanceof Error) {
        problems.push(`GET ${label} failed: ${res.message}`);
        continue;
      }
      if (res.status !== 200) problems.push(`GET ${label} answered ${res.status}`);
      else if (!res.contentType.toLowerCase().startsWith('text/html')) {
        problems.push(`GET ${label} content-type ${JSON.stringify(res.contentType)}, expected text/html`);
      } else if (res.body.toString('utf8').trim() === '')
        problems.push(`GET ${label} returned an empty page`);
      else if (!/<html|<body/i.test(res.body.toString('utf8')))
        problems.push(`GET ${label} has no <html> or <body>`);
      else if (page === entryUrl) html = res.body.toString('utf8');
    }
    for (const ref of pageReferences(html)) {
      if (/^data:/i.test(ref.url)) continue;
      let url: URL;
      try {
        url = new URL(ref.url, entryUrl);
      } catch {
        problems.push(`unparsable ${ref.tag} reference ${JSON.stringify(ref.url)}`);
        continue;
      }
      if (url.origin !== entryUrl.origin) {
        notes.push(`external ${ref.tag} reference not checked: ${url.origin}`);
        continue;
      }
      const res = await httpGet(`${server.url}${url.pathname}`, timeoutMs).catch((err: Error) => err);
      if (res instanceof Error) {
        problems.push(`GET ${url.pathname} failed: ${res.message}`);
        continue;
      }
      const type = res.contentType.toLowerCase();
      if (res.status !== 200) problems.push(`${ref.tag} ${url.pathname} answered ${res.status}`);
      else if (ref.expect === 'script' && !type.includes('javascript')) {
        problems.push(`script ${url.pathname} content-type ${JSON.stringify(res.contentType)}`);
      } else if (ref.expect === 'style' && !type.startsWith('text/css')) {
        problems.push(`stylesheet ${url.pathname} content-type ${JSON.stringify(res.contentType)}`);
      }
    }
  } finally {
    await server.close();
  }
  return { passed: problems.length === 0, problems, notes };
}
