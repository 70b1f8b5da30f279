import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectNetworkSandbox, smokeBinary, smokeWeb } from '../../lib/verify/index.ts';
import { buildGo, cleanupTempDirs, HAS_GO, INDEX_HTML, shellBinary, tempDir } from './verify-fixtures.ts';

afterAll(cleanupTempDirs);

describe('smokeBinary', () => {
  const dir = tempDir('smoke');

  it('passes a binary that prints help and exits 0', async () => {
    const bin = shellBinary(dir, 'ok', 'echo "usage: ok [--help]"');
    const r = await smokeBinary({ file: bin });
    expect(r).toMatchObject({ passed: true, problems: [] });
    expect(r.attempts[0]).toMatchObject({ args: ['--help'], exitCode: 0, timedOut: false });
  });

  it('fails a binary that exits non-zero on --help and --version', async () => {
    const bin = shellBinary(dir, 'bad', 'echo "boom" >&2; exit 3');
    const r = await smokeBinary({ file: bin });
    expect(r.passed).toBe(false);
    expect(r.problems).toEqual(['--help exited 3; output: "boom"', '--version exited 3; output: "boom"']);
  });

  it('falls back to --version', async () => {
    const bin = shellBinary(dir, 'ver', '[ "$1" = "--version" ] && { echo "v1.0.0"; exit 0; }; exit 2');
    const r = await smokeBinary({ file: bin });
    expect(r.passed).toBe(true);
    expect(r.attempts.map((a) => a.exitCode)).toEqual([2, 0]);
  });

  it('fails a binary that prints nothing', async () => {
    const r = await smokeBinary({ file: shellBinary(dir, 'silent', 'exit 0') });
    expect(r.passed).toBe(false);
    expect(r.problems[0]).toBe('--help exited 0 but printed nothing');
  });

  it('kills a binary that hangs, with its children, after the timeout', async () => {
    const marker = path.join(dir, 'child-survived');
    const bin = shellBinary(dir, 'hang', `(sleep 2; touch ${marker}) & sleep 30`);
    const started = Date.now();
    const r = await smokeBinary({ file: bin, timeoutMs: 500 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.passed).toBe(false);
    expect(r.problems).toEqual(['--help timed out after 500 ms']);
    expect(r.attempts).toHaveLength(1); // no --version retry after a timeout
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(existsSync(marker)).toBe(false);
  });

  it('runs in a fresh scratch dir with an empty environment and removes it afterwards', async () => {
    process.env.BUSDK_TEST_SECRET = 'sekrit-value';
    try {
      const bin = shellBinary(dir, 'env', 'echo "cwd=$(pwd)"; env; read x && echo "stdin=$x"; exit 0');
      const r = await smokeBinary({ file: bin });
      expect(r.passed).toBe(true);
      const out = r.attempts[0]!.output;
      expect(out).not.toContain('sekrit-value');
      expect(out).toContain('PATH=/usr/bin:/bin');
      expect(out).not.toContain('stdin=');
      const cwd = /cwd=(.*)/.exec(out)![1]!;
      expect(out).toContain(`HOME=${cwd}`);
      expect(path.basename(cwd)).toMatch(/^busdk-smoke-/);
      expect(existsSync(cwd)).toBe(false);
      expect(readdirSync(os.tmpdir()).filter((n) => n === path.basename(cwd))).toEqual([]);
    } finally {
      delete process.env.BUSDK_TEST_SECRET;
    }
  });

  it('truncates output', async () => {
    const bin = shellBinary(
      dir,
      'loud',
      'i=0; while [ $i -lt 2000 ]; do echo "0123456789012345678901234567890123456789"; i=$((i+1)); done',
    );
    const r = await smokeBinary({ file: bin, maxOutputBytes: 1000 });
    expect(r.passed).toBe(true);
    expect(r.attempts[0]!.output.length).toBe(1000);
  });

  it('sets unreachable proxy variables when no network sandbox is used', async () => {
    const bin = shellBinary(dir, 'proxy', 'echo "proxy=$HTTPS_PROXY"');
    const r = await smokeBinary({ file: bin, sandbox: 'none' });
    expect(r.sandbox).toBe('none');
    expect(r.attempts[0]!.output).toContain('proxy=http://127.0.0.1:9');
  });

  describe('network isolation (real Go binary dialling a listener of this test)', () => {
    let server: Server;
    let target = '';
    let bin = '';
    let sandboxKind = 'none';
    beforeAll(async () => {
      sandboxKind = (await detectNetworkSandbox()).kind;
      server = createServer((s) => s.end());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const addr = server.address();
      target = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      if (HAS_GO) bin = buildGo(dir, { mode: 'dial', target, name: 'dial' });
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it.skipIf(!HAS_GO)('without a sandbox the dial reaches the listener (the probe works)', async () => {
      const r = await smokeBinary({ file: bin, sandbox: 'none' });
      expect(r.passed).toBe(false);
      expect(r.problems[0]).toContain('network reachable');
    });

    it.skipIf(!HAS_GO)('inside the sandbox the dial fails', async (ctx) => {
      if (sandboxKind === 'none') ctx.skip();
      const r = await smokeBinary({ file: bin });
      expect(r.sandbox).not.toBe('none');
      expect(r).toMatchObject({ passed: true, problems: [] });
      expect(r.attempts[0]!.output).toContain('network isolated');
    });
  });
});

describe('smokeWeb', () => {
  const site = (files: Record<string, string>) => {
    const dir = tempDir('web');
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), content);
    }
    return dir;
  };
  const assets = { 'assets/app.js': 'x=1', 'assets/style.css': 'b{}', 'logo.png': 'png' };

  it('passes a page whose scripts and styles are served with the right types', async () => {
    const r = await smokeWeb({
      dir: site({ 'index.html': INDEX_HTML, ...assets }),
      entrypoint: 'index.html',
    });
    expect(r).toEqual({ passed: true, problems: [], notes: [] });
  });

  it('fails a blank page, a missing entrypoint, a missing script and a mistyped stylesheet', async () => {
    const blank = await smokeWeb({ dir: site({ 'index.html': '   \n' }), entrypoint: 'index.html' });
    expect(blank.problems).toEqual([
      'GET /index.html returned an empty page',
      'GET / returned an empty page',
    ]);
    const noHtml = await smokeWeb({ dir: site({ 'index.html': 'just text' }), entrypoint: 'index.html' });
    expect(noHtml.problems[0]).toBe('GET /index.html has no <html> or <body>');
    const missing = await smokeWeb({
      dir: site({ 'other.html': '<html></html>' }),
      entrypoint: 'index.html',
    });
    expect(missing.problems[0]).toBe('GET /index.html answered 404');
    const refs = await smokeWeb({
      dir: site({
        'index.html': '<html><link rel="stylesheet" href="s.txt"><script src="gone.js"></script></html>',
        's.txt': 'b{}',
      }),
      entrypoint: 'index.html',
    });
    expect(refs.problems).toEqual([
      'stylesheet /s.txt content-type "text/plain; charset=utf-8"',
      'script /gone.js answered 404',
    ]);
  });

  it('notes external references without fetching them', async () => {
    const r = await smokeWeb({
      dir: site({ 'app.html': '<html><script src="https://cdn.example/x.js"></script></html>' }),
      entrypoint: 'app.html',
    });
    expect(r).toEqual({
      passed: true,
      problems: [],
      notes: ['external script reference not checked: https://cdn.example'],
    });
  });
});
