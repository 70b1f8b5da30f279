import { createReadStream } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { contentTypeFor } from './mime.ts';
import { isWithin } from './paths.ts';

export type StaticResolution =
  | { kind: 'file'; file: string; contentType: string; size: number }
  | { kind: 'redirect'; location: string }
  | { kind: 'error'; status: 400 | 404 };

export interface StaticOptions {
  /** File served for a directory request ending in `/` (default `index.html`). */
  index?: string;
  /** Extra response headers (e.g. a CSP for the preview origin). */
  headers?: Record<string, string>;
}

/**
 * Maps a raw request target (`req.url`, still percent-encoded) to a file below `root`, refusing
 * anything that could leave it. Rules: origin-form only (starts with one `/`; `//x`, `http://…`
 * and `*` are refused); query and fragment ignored; no backslash, NUL, encoded `/`, `\` or NUL
 * (`%2f`, `%5c`, `%00`); every segment is percent-decoded once and must not be `.`/`..`, empty
 * (`a//b`) or a dot-file (except `.well-known`); symlinks are never followed; a directory is
 * served only as its index file (no listings) and only with a trailing `/` (else a redirect).
 */
export async function resolveStaticRequest(
  root: string,
  rawUrl: string,
  opts: StaticOptions = {},
): Promise<StaticResolution> {
  const bad = { kind: 'error', status: 400 } as const;
  const notFound = { kind: 'error', status: 404 } as const;
  if (!rawUrl.startsWith('/') || rawUrl.startsWith('//')) return bad;
  const rawPath = rawUrl.split(/[?#]/, 1)[0] ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is refused on purpose
  if (/[\\\u0000]|%2f|%5c|%00/i.test(rawPath)) return bad;
  const rawSegments = rawPath.split('/').slice(1);
  const trailingSlash = rawSegments.at(-1) === '';
  if (trailingSlash) rawSegments.pop();
  const segments: string[] = [];
  for (const raw of rawSegments) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return bad;
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused on purpose
    if (seg === '' || seg === '.' || seg === '..' || /[/\\\u0000-\u001f]/.test(seg)) return bad;
    if (seg.startsWith('.') && seg !== '.well-known') return notFound;
    segments.push(seg);
  }
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    return notFound;
  }
  let target = path.join(realRoot, ...segments);
  if (!isWithin(realRoot, target)) return bad;
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(target);
    if (st.isDirectory()) {
      if (!trailingSlash) return { kind: 'redirect', location: `${rawPath}/` };
      target = path.join(target, opts.index ?? 'index.html');
      st = await lstat(target);
    } else if (trailingSlash) {
      return notFound;
    }
  } catch {
    return notFound;
  }
  if (!st.isFile()) return notFound;
  const resolved = await realpath(target).catch(() => undefined);
  if (resolved === undefined || !isWithin(realRoot, resolved)) return notFound;
  return { kind: 'file', file: resolved, contentType: contentTypeFor(resolved), size: st.size };
}

/** A Node request handler serving `root` with {@link resolveStaticRequest}; GET and HEAD only. */
export function createStaticHandler(
  root: string,
  opts: StaticOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const baseHeaders = {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    ...opts.headers,
  };
  const plain = (res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...baseHeaders, 'content-type': 'text/plain; charset=utf-8', ...extra });
    res.end(text);
  };
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      plain(res, 405, 'Method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    resolveStaticRequest(root, req.url ?? '', opts).then(
      (r) => {
        if (r.kind === 'error')
          return plain(res, r.status, r.status === 404 ? 'Not found\n' : 'Bad request\n');
        if (r.kind === 'redirect') return plain(res, 301, 'Moved\n', { location: r.location });
        res.writeHead(200, {
          ...baseHeaders,
          'content-type': r.contentType,
          'content-length': String(r.size),
        });
        if (req.method === 'HEAD') return res.end();
        const stream = createReadStream(r.file);
        stream.on('error', () => res.destroy());
        stream.pipe(res);
      },
      () => plain(res, 500, 'Internal error\n'),
    );
  };
}

export interface StaticServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:43121`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `root` on `host` (default 127.0.0.1) and `port` (default 0: an ephemeral port). */
export async function serveStatic(
  opts: { root: string; host?: string; port?: number } & StaticOptions,
): Promise<StaticServer> {
  const server = createServer(createStaticHandler(opts.root, opts));
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
