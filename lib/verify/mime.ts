import path from 'node:path';

/**
 * Content types by lower-case file extension. Text types carry `charset=utf-8`. The one map for
 * every server and upload: the verification static server, the preview server, the local
 * gateway's portal files, the worker's staging upload and Publish (S3 object metadata).
 */
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.bmp': 'image/bmp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.wav': 'audio/wav',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
};

/**
 * The content type for a file name (or path); `application/octet-stream` when unknown. Binaries,
 * `.exe` included, are all octet-stream: downloads carry a Content-Disposition of their own.
 */
export function contentTypeFor(fileName: string): string {
  const ext = path.posix.extname(fileName.replaceAll('\\', '/')).toLowerCase();
  return TYPES[ext] ?? 'application/octet-stream';
}

/** Extensions with a known content type: the files a web artifact may contain. */
export const KNOWN_WEB_EXTENSIONS: ReadonlySet<string> = new Set(Object.keys(TYPES));
