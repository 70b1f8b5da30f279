import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveStaticRequest, type StaticServer, serveStatic } from '../../lib/verify/index.ts';
import { cleanupTempDirs, tempDir } from './verify-fixtures.ts';

afterAll(cleanupTempDirs);

/** A raw request: the target is sent exactly as given (no URL normalisation). */
function raw(
  server: StaticServer,
  target: string,
  method = 'GET',
): Promise<{ status: number; type: string; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: target, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type'] ?? ''),
          location: res.headers.location,
          body,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serveStatic', () => {
  let server: StaticServer;
  let base: string;
  let root: string;

  beforeAll(async () => {
    // Prepare: <base>/secret.txt lies next to the served root and must never be reachable
    base = tempDir('static');
    root = path.join(base, 'site');
    mkdirSync(path.join(root, 'assets'), { recursive: true });
    mkdirSync(path.join(root, 'docs'), { recursive: true });
    mkdirSync(path.join(root, 'empty'), { recursive: true });
    writeFileSync(path.join(base, 'secret.txt'), 'TOP SECRET');
    writeFileSync(path.join(root, 'index.html'), '<html><body>home</body></html>');
    writeFileSync(path.join(root, 'assets/app.js'), 'console.log(1)');
    writeFileSync(path.join(root, 'assets/style.css'), 'body{}');
    writeFileSync(path.join(root, 'docs/index.html'), '<html>docs</html>');
    writeFileSync(path.join(root, 'empty/readme.txt'), 'no index here');
    writeFileSync(path.join(root, '.hidden'), 'hidden');
    symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'link.txt'));
    symlinkSync(base, path.join(root, 'up'));
    server = await serveStatic({ root });
  });
  afterAll(async () => {
    await server.close();
  });

  it('serves index.html for / and files with the right MIME type', async () => {
    await expect(raw(server, '/')).resolves.toMatchObject({
      status: 200,
      type: 'text/html; charset=utf-8',
      body: '<html><body>home</body></html>',
    });
    await expect(raw(server, '/index.html?x=1#f')).resolves.toMatchObject({
      status: 200,
      type: 'text/html; charset=utf-8',
    });
    await expect(raw(server, '/assets/app.js')).resolves.toMatchObject({
      status: 200,
      type: 'text/javascript; charset=utf-8',
    });
    await expect(raw(server, '/assets/style.css')).resolves.toMatchObject({
      status: 200,
      type: 'text/css; charset=utf-8',
    });
    await expect(raw(server, '/assets/%61pp.js')).resolves.toMatchObject({
      status: 200,
      body: 'console.log(1)',
    });
    await expect(raw(server, '/docs/')).resolves.toMatchObject({ status: 200, body: '<html>docs</html>' });
    await expect(raw(server, '/assets/app.js', 'HEAD')).resolves.toMatchObject({ status: 200, body: '' });
  });

  it.each([
    '/../secret.txt',
    '/assets/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/assets/%2e%2e/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/..%2Fsecret.txt',
    '/%2e%2e%2fsecret.txt',
    '/..%5csecret.txt',
    '/..\\secret.txt',
    '/index.html%00.png',
    '//etc/passwd',
    'http://evil.example/../secret.txt',
    '/assets//app.js',
    '/%',
  ])('refuses traversal and malformed targets: %s', async (target) => {
    const r = await raw(server, target);
    expect(r.status).toBe(400);
    expect(r.body).not.toContain('SECRET');
  });

  it('follows no symlinks and serves no dot-files', async () => {
    await expect(raw(server, '/link.txt')).resolves.toMatchObject({ status: 404 });
    await expect(raw(server, '/up/secret.txt')).resolves.toMatchObject({ status: 404 });
    await expect(raw(server, '/.hidden')).resolves.toMatchObject({ status: 404 });
  });

  it('lists no directories', async () => {
    const r = await raw(server, '/empty/');
    expect(r.status).toBe(404);
    expect(r.body).not.toContain('readme');
    await expect(raw(server, '/assets/')).resolves.toMatchObject({ status: 404 });
    await expect(raw(server, '/empty')).resolves.toMatchObject({ status: 301, location: '/empty/' });
  });

  it('answers 404 for missing files, a file with a trailing slash, and 405 for other methods', async () => {
    await expect(raw(server, '/nope.js')).resolves.toMatchObject({ status: 404 });
    await expect(raw(server, '/index.html/')).resolves.toMatchObject({ status: 404 });
    await expect(raw(server, '/index.html', 'POST')).resolves.toMatchObject({ status: 405 });
  });

  it('resolveStaticRequest refuses an absolute path smuggled as a segment', async () => {
    await expect(resolveStaticRequest(root, `/${encodeURIComponent('/etc/passwd')}`)).resolves.toEqual({
      kind: 'error',
      status: 400,
    });
    await expect(resolveStaticRequest(root, 'index.html')).resolves.toEqual({ kind: 'error', status: 400 });
  });
});
