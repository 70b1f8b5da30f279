import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * A throwaway HTTPS origin for the isolated functions, which fetch only `https:` presigned URLs:
 * a self-signed certificate for 127.0.0.1 / localhost made with openssl in `dir` (the caller's
 * scratch directory, removed with it), and a `node:https` server that answers GET of each given
 * path with its bytes (and a Content-Length, as S3 does). A process trusts it with
 * `NODE_EXTRA_CA_CERTS=<certFile>` (read by Node at start, honoured by fetch).
 */
export interface HttpsFixture {
  /** `https://127.0.0.1:<port>` */
  origin: string;
  certFile: string;
  /** Paths requested so far (with the query). */
  requests: string[];
  close(): Promise<void>;
}

export function selfSignedCert(dir: string): { certFile: string; keyFile: string } | { reason: string } {
  const certFile = path.join(dir, 'localhost-cert.pem');
  const keyFile = path.join(dir, 'localhost-key.pem');
  const run = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (run.error) return { reason: `openssl: ${run.error.message}` };
  if (run.status !== 0) return { reason: `openssl exited ${run.status}: ${run.stderr.slice(-500)}` };
  return { certFile, keyFile };
}

export async function serveHttps(opts: {
  certFile: string;
  keyFile: string;
  /** URL path (`/a/b`) → the bytes served there. */
  files: Record<string, Buffer>;
  /** Called with each request's path before it is answered. */
  onRequest?: (url: string) => void;
}): Promise<HttpsFixture> {
  const requests: string[] = [];
  const server = https.createServer(
    { cert: readFileSync(opts.certFile), key: readFileSync(opts.keyFile) },
    (req, res) => {
      requests.push(req.url ?? '');
      opts.onRequest?.(req.url ?? '');
      const body = opts.files[new URL(req.url ?? '/', 'https://x').pathname];
      if (req.method !== 'GET' || body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://127.0.0.1:${port}`,
    certFile: opts.certFile,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Why {@link selfSignedCert} cannot work here (no openssl), or undefined. */
export function opensslProblem(): string | undefined {
  const run = spawnSync('openssl', ['version'], { encoding: 'utf8', timeout: 10_000 });
  if (run.error) return `openssl: ${run.error.message}`;
  return run.status === 0 ? undefined : `openssl version exited ${run.status}`;
}
