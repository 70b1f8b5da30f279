import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ManifestEntry } from '../../lib/domain/manifest.ts';
import {
  archiveFormat,
  assetContentProblem,
  compareUtf8,
  contentTypeFor,
  DEFAULT_BUILD_PATH_MARKERS,
  directoryDigest,
  executablePlatform,
  filePolicyProblem,
  findBuildPaths,
  hashDirectory,
  kindProblems,
  manifestPathProblem,
  manifestPathProblems,
  pageReferences,
  parseManifest,
  sourceMapCommentProblem,
} from '../../lib/verify/index.ts';
import { cleanupTempDirs, PNG, tempDir } from './verify-fixtures.ts';

afterAll(cleanupTempDirs);

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('hashDirectory (the canonical web artifact digest)', () => {
  it('is sha256 over sorted sha256sum-style "<sha256>  <rel>\\n" lines and size is the sum of file sizes', async () => {
    // Prepare
    const dir = tempDir('hash');
    mkdirSync(path.join(dir, 'assets/sub'), { recursive: true });
    mkdirSync(path.join(dir, 'empty'));
    writeFileSync(path.join(dir, 'index.html'), '<html></html>');
    writeFileSync(path.join(dir, 'assets/app.js'), 'x=1');
    writeFileSync(path.join(dir, 'assets/sub/b.css'), 'b{}');
    writeFileSync(path.join(dir, 'Z.txt'), 'zz');
    // Act
    const h = await hashDirectory(dir);
    // Assess: byte order puts upper case before lower case and "assets/…" before "index.html"
    const lines = [
      `${sha('zz')}  Z.txt\n`,
      `${sha('x=1')}  assets/app.js\n`,
      `${sha('b{}')}  assets/sub/b.css\n`,
      `${sha('<html></html>')}  index.html\n`,
    ].join('');
    expect(h).toEqual({ sha256: sha(lines), sizeBytes: 13 + 3 + 3 + 2, fileCount: 4 });
  });

  it('of an empty directory is the sha256 of the empty string', async () => {
    expect((await hashDirectory(tempDir('hash-empty'))).sha256).toBe(sha(''));
  });

  it('sorts by UTF-8 bytes, not UTF-16 code units', () => {
    // U+FF5E (3 UTF-8 bytes EF BD 9E) < U+1F600 (F0 …) in bytes, but > in UTF-16 (D83D …)
    expect(compareUtf8('\uff5e', '\u{1f600}')).toBeLessThan(0);
    expect('\uff5e' < '\u{1f600}').toBe(false);
    const a = directoryDigest([
      { rel: '\u{1f600}', sha256: sha('a') },
      { rel: '\uff5e', sha256: sha('b') },
    ]);
    expect(a).toBe(sha(`${sha('b')}  \uff5e\n${sha('a')}  \u{1f600}\n`));
  });

  it('refuses symlinks instead of following or skipping them', async () => {
    const dir = tempDir('hash-link');
    writeFileSync(path.join(dir, 'a.txt'), 'a');
    symlinkSync('/etc/passwd', path.join(dir, 'b.txt'));
    await expect(hashDirectory(dir)).rejects.toThrow(/not a regular file/);
  });
});

describe('manifestPathProblem', () => {
  it.each([
    ['web', undefined],
    ['bin/tool-linux-amd64', undefined],
    ['bin/tool-windows-amd64.exe', undefined],
    ['../outside', '".." segment in path'],
    ['bin/../../x', '".." segment in path'],
    ['/etc/passwd', 'absolute path'],
    ['C:/Windows/x.exe', 'drive letter in path'],
    ['bin\\tool', 'backslash in path'],
    ['bin/\0tool', 'control character or NUL in path'],
    ['./web', '"." segment in path'],
    ['web/', 'empty segment or trailing slash in path'],
    ['bin//tool', 'empty segment or trailing slash in path'],
    ['', 'empty path'],
  ])('%j → %s', (p, expected) => {
    expect(manifestPathProblem(p)).toBe(expected);
  });

  it('flags overlapping entries and entries covering the manifest', () => {
    const e = (id: string, p: string) => ({ artifact_id: id, path: p }) as ManifestEntry;
    expect(manifestPathProblems([e('a', 'web'), e('b', 'web/x.js')], 'artifact-manifest.json')).toEqual([
      'paths overlap: a and b',
    ]);
    expect(manifestPathProblems([e('a', 'meta')], 'meta/artifact-manifest.json')).toEqual([
      'path of a covers the manifest',
    ]);
  });
});

describe('parseManifest and kindProblems', () => {
  it('reports invalid JSON and schema violations', () => {
    expect(parseManifest('{nope')).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/not valid JSON/)],
    });
    const r = parseManifest(JSON.stringify({ schema_version: 2, artifacts: [] }));
    expect(r).toMatchObject({ ok: false, problems: [expect.stringMatching(/schema_version/)] });
  });

  const web = { artifact_id: 'w', kind: 'web', path: 'web', entrypoint: 'index.html' } as ManifestEntry;
  const bin = {
    artifact_id: 'b',
    kind: 'binary',
    path: 'bin/t-linux-amd64',
    platform: 'linux-amd64',
  } as ManifestEntry;
  it('requires exactly the requested kinds', () => {
    expect(kindProblems([web, bin], 'both')).toEqual([]);
    expect(kindProblems([web], 'web')).toEqual([]);
    expect(kindProblems([bin], 'binary')).toEqual([]);
    expect(kindProblems([bin], 'web')).toEqual([
      'requested web but the manifest has no web entry',
      'requested web but the manifest has binary entries',
    ]);
    expect(kindProblems([web, bin], 'binary')).toEqual(['requested binary but the manifest has a web entry']);
    expect(kindProblems([web], 'both')).toEqual(['requested both but the manifest has no binary entry']);
  });

  it('refuses evidence, log and archive entries and checks platform/entrypoint', () => {
    const ev = { artifact_id: 'e', kind: 'evidence', path: 'e.txt' } as ManifestEntry;
    const ar = { artifact_id: 'a', kind: 'archive', path: 'a.zip' } as ManifestEntry;
    expect(kindProblems([web, ev, ar], 'web')).toEqual([
      'kind evidence is not deliverable and not accepted in a candidate: e',
      'kind archive is not accepted in a candidate: a',
    ]);
    const winNoExe = { ...bin, platform: 'windows-amd64', path: 'bin/t-windows-amd64' } as ManifestEntry;
    expect(kindProblems([winNoExe], 'binary')).toEqual([
      'binary file name does not match platform windows-amd64: b',
    ]);
    expect(kindProblems([{ ...web, entrypoint: '../x.html' }], 'web')[0]).toMatch(/entrypoint unsafe/);
    expect(kindProblems([{ ...bin, platform: undefined }], 'binary')).toEqual(['binary without platform: b']);
  });
});

describe('contentTypeFor', () => {
  it.each([
    ['index.html', 'text/html; charset=utf-8'],
    ['a/b/APP.JS', 'text/javascript; charset=utf-8'],
    ['m.mjs', 'text/javascript; charset=utf-8'],
    ['s.css', 'text/css; charset=utf-8'],
    ['i.svg', 'image/svg+xml'],
    ['p.png', 'image/png'],
    ['f.woff2', 'font/woff2'],
    ['manifest.webmanifest', 'application/manifest+json; charset=utf-8'],
    ['x.wasm', 'application/wasm'],
    ['tool-linux-amd64', 'application/octet-stream'],
    ['tool-windows-amd64.exe', 'application/octet-stream'],
  ])('%s → %s', (name, type) => expect(contentTypeFor(name)).toBe(type));
});

describe('source policy', () => {
  it.each([
    ['web/main.go', true, /source file \(\.go\)/],
    ['web/app.ts', true, /source file \(\.ts\)/],
    ['web/App.tsx', true, /source file/],
    ['web/app.js.map', true, /source map file/],
    ['web/go.mod', true, /source or build file/],
    ['bin/Makefile', false, /source or build file/],
    ['web/AGENTS.md', true, /source or build file/],
    ['web/.git/config', true, /forbidden directory \(\.git\)/],
    ['web/node_modules/x/index.js', true, /forbidden directory/],
    ['web/bundle.zip', true, /archive file/],
    ['bin/tool.tar.gz', false, /archive file/],
    ['web/data.bin', true, /not allowed in a web artifact/],
    ['web/.env', true, /source or build file/],
    ['web/run.sh', true, /source file/],
  ])('%s is refused', (rel, inWeb, reason) => {
    expect(filePolicyProblem(rel, inWeb)).toMatch(reason);
  });

  it.each([
    ['web/index.html'],
    ['web/assets/app.js'],
    ['web/assets/app.mjs'],
    ['web/assets/style.css'],
    ['web/assets/vendor/lib.js'],
    ['web/logo.svg'],
    ['web/favicon.ico'],
    ['web/data.json'],
    ['web/robots.txt'],
    ['web/site.webmanifest'],
    ['web/font.woff2'],
  ])('%s is allowed in a web dir', (rel) => {
    expect(filePolicyProblem(rel, true)).toBeUndefined();
  });

  it('recognises archives by magic bytes', () => {
    const pad = (b: number[], n = 300) => Buffer.concat([Buffer.from(b), Buffer.alloc(n)]);
    expect(archiveFormat(pad([0x50, 0x4b, 0x03, 0x04]))).toBe('zip');
    expect(archiveFormat(pad([0x1f, 0x8b, 0x08]))).toBe('gzip');
    const tar = Buffer.alloc(512);
    tar.write('ustar', 257, 'latin1');
    expect(archiveFormat(tar)).toBe('tar');
    expect(archiveFormat(pad([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]))).toBe('7z');
    expect(archiveFormat(pad([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00]))).toBe('rar');
    expect(archiveFormat(pad([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toBe('xz');
    // a PNG with a zip appended (a valid zip: the end-of-central-directory record ends the file)
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    expect(archiveFormat(Buffer.concat([PNG, eocd]))).toBe('zip (appended)');
    expect(archiveFormat(PNG)).toBeUndefined();
    expect(archiveFormat(Buffer.from('<html><body>PK</body></html>'))).toBeUndefined();
  });

  it('checks binary web assets against their extension', () => {
    expect(assetContentProblem('web/logo.png', PNG)).toBeUndefined();
    expect(assetContentProblem('web/logo.png', Buffer.from('GIF89a'))).toMatch(/does not match its \.png/);
    expect(assetContentProblem('web/app.js', Buffer.from('x'))).toBeUndefined();
  });

  it('finds sourceMappingURL comments in scripts and styles only', () => {
    expect(sourceMapCommentProblem('web/a.js', Buffer.from('x=1\n//# sourceMappingURL=a.js.map\n'))).toMatch(
      /sourceMappingURL comment/,
    );
    expect(
      sourceMapCommentProblem('web/a.css', Buffer.from('b{}\n/*# sourceMappingURL=a.css.map */')),
    ).toMatch(/sourceMappingURL/);
    expect(sourceMapCommentProblem('web/a.js', Buffer.from('x=1'))).toBeUndefined();
    expect(sourceMapCommentProblem('web/a.txt', Buffer.from('//# sourceMappingURL=x'))).toBeUndefined();
  });

  it('finds build paths: markers, absolute source paths, forbidden strings; not module-relative paths', () => {
    const scan = (s: string, forbiddenStrings: string[] = []) =>
      findBuildPaths(Buffer.from(s, 'latin1'), {
        markers: DEFAULT_BUILD_PATH_MARKERS,
        forbiddenStrings,
        sourcePaths: true,
      });
    expect(
      scan('\0example.com/tool/main.go\0fmt/print.go\0github.com/a/b@v1.2.3/c.go\0/etc/hosts\0'),
    ).toEqual([]);
    expect(scan('\0/usr/lib/go-1.19/src/fmt/print.go\0')).toEqual([
      'absolute source path "/usr/lib/go-1.19/src/fmt/print.go"',
    ]);
    expect(scan('\0/home/dev/tool\0')[0]).toMatch(/build path marker "\/home\/"/);
    expect(scan('\0C:\\src\\tool\\main.go\0')[0]).toMatch(
      /absolute source path "C:\\\\src\\\\tool\\\\main.go"/,
    );
    expect(scan('\0/srv/wt/run-1\0', ['x', '/srv/wt/run-1'])).toEqual(['forbidden string #2']);
  });
});

describe('executablePlatform', () => {
  it('reads ELF, Mach-O and PE headers', () => {
    const elf = Buffer.alloc(64);
    elf.writeUInt32BE(0x7f454c46, 0);
    elf[5] = 1;
    elf.writeUInt16LE(0xb7, 18);
    expect(executablePlatform(elf)).toEqual({ platform: 'linux-arm64' });
    const macho = Buffer.alloc(32);
    macho.writeUInt32LE(0xfeedfacf, 0);
    macho.writeUInt32LE(0x01000007, 4);
    expect(executablePlatform(macho)).toEqual({ platform: 'darwin-amd64' });
    const pe = Buffer.alloc(256);
    pe.write('MZ', 0, 'latin1');
    pe.writeUInt32LE(0x80, 0x3c);
    pe.writeUInt32BE(0x50450000, 0x80);
    pe.writeUInt16LE(0x8664, 0x84);
    expect(executablePlatform(pe)).toEqual({ platform: 'windows-amd64' });
    expect(executablePlatform(Buffer.from('#!/bin/sh\necho hi\n'))).toEqual({
      problem: 'not an ELF, Mach-O or PE executable',
    });
  });
});

describe('pageReferences', () => {
  it('extracts script src and link href with the expected type', () => {
    const refs = pageReferences(
      `<link rel="stylesheet" href="a.css?v=1"><link rel=icon href='i.png'><script src="x.js" defer></script>` +
        `<!-- <script src="old.js"></script> --><script>inline()</script><link rel="modulepreload" href="/m.js"><script src="https://cdn.example/x.js"></script>`,
    );
    expect(refs).toEqual([
      { tag: 'link', url: 'a.css?v=1', expect: 'style' },
      { tag: 'link', url: 'i.png', expect: 'other' },
      { tag: 'script', url: 'x.js', expect: 'script' },
      { tag: 'link', url: '/m.js', expect: 'script' },
      { tag: 'script', url: 'https://cdn.example/x.js', expect: 'script' },
    ]);
  });
});
