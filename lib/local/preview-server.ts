import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { GetObjectCommand, NoSuchKey } from '@aws-sdk/client-s3';
import { s3Client } from '../aws/clients.ts';
import { verifyPreviewToken } from '../aws/preview-links.ts';
import { previewContentSecurityPolicy } from '../domain/preview-policy.ts';
import { listen } from './listen.ts';

/**
 * The local preview origin (AWS: a separate CloudFront distribution). Serves one verified web
 * artifact per signed token from the published-artifacts bucket: exact keys only (no listing),
 * nothing outside the artifact's prefix, stored MIME types, strict security headers.
 */
export interface PreviewServerOptions {
  host: string;
  port: number;
  bucket: string;
  secret: () => Promise<string>;
  /** Origins allowed to frame previews (the portal). */
  frameAncestors: string[];
}

const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Splits `/p/{token}/{rest}` and validates every segment of `rest`; undefined when unsafe. */
export function parsePreviewPath(rawUrl: string): { token: string; rel: string } | undefined {
  const path = rawUrl.split('?')[0] ?? '';
  if (/%|\\|\0/.test(path)) return undefined; // no encoded traversal, no backslashes
  const m = /^\/p\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\/(.*)$/.exec(path);
  if (!m) return undefined;
  const rest = m[2] ?? '';
  if (rest === '') return { token: m[1]!, rel: '' };
  const parts = rest.split('/');
  if (parts.some((p) => !SAFE_SEGMENT.test(p) || p.includes('..'))) return undefined;
  return { token: m[1]!, rel: parts.join('/') };
}

function securityHeaders(frameAncestors: string[]): Record<string, string> {
  return {
    'content-security-policy': previewContentSecurityPolicy(frameAncestors),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  };
}

function notFound(res: ServerResponse, headers: Record<string, string>): void {
  res.writeHead(404, {
    ...headers,
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end('Not found');
}

export async function startPreviewServer(
  opts: PreviewServerOptions,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // Computed per request: the portal origin may only be known once the gateway listens.
    const headers = securityHeaders(opts.frameAncestors);
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...headers, allow: 'GET, HEAD' });
        res.end();
        return;
      }
      const parsed = parsePreviewPath(req.url ?? '/');
      const claims = parsed && (await verifyPreviewToken(parsed.token, await opts.secret()));
      if (!parsed || !claims) return notFound(res, headers);
      const rel = parsed.rel === '' ? claims.entrypoint : parsed.rel;
      try {
        const out = await s3Client().send(
          new GetObjectCommand({ Bucket: opts.bucket, Key: `${claims.prefix}${rel}` }),
        );
        const body = Buffer.from(await out.Body!.transformToByteArray());
        res.writeHead(200, {
          ...headers,
          'content-type': out.ContentType ?? 'application/octet-stream',
          'content-length': String(body.length),
          'cache-control': 'private, max-age=60',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch (err) {
        if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey')
          return notFound(res, headers);
        res.writeHead(502, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
        res.end('Preview unavailable');
      }
    })();
  });
  const { port } = await listen(server, opts.port, opts.host, {
    service: 'previews',
    envVar: 'PREVIEW_PORT',
  });
  return { url: `http://${opts.host === '127.0.0.1' ? 'localhost' : opts.host}:${port}`, server };
}
