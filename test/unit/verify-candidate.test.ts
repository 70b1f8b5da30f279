import {
  appendFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestEntry } from '../../lib/domain/manifest.ts';
import {
  findBrowser,
  PUBLIC_SUMMARIES,
  type RenderRecord,
  type VerificationReport,
  type VerifyCandidateOptions,
  verifyCandidate,
} from '../../lib/verify/index.ts';
import {
  buildGo,
  cleanupTempDirs,
  HAS_GO,
  HOST,
  makeCandidate,
  PNG,
  shellBinary,
  tempDir,
  writeManifest,
} from './verify-fixtures.ts';

afterAll(cleanupTempDirs);

let binaries: { ok: string; notrim?: string; fail: string; hang: string; silent: string };

beforeAll(() => {
  const out = tempDir('bins');
  binaries = HAS_GO
    ? {
        ok: buildGo(out),
        notrim: buildGo(out, { trimpath: false }),
        fail: buildGo(out, { mode: 'fail' }),
        hang: buildGo(out, { mode: 'hang' }),
        silent: buildGo(out, { mode: 'silent' }),
      }
    : {
        ok: shellBinary(out, 'ok', 'echo "usage: tool [--help]"'),
        fail: shellBinary(out, 'fail', 'echo broken >&2; exit 3'),
        hang: shellBinary(out, 'hang', 'sleep 60'),
        silent: shellBinary(out, 'silent', 'exit 0'),
      };
});

/** Without Go the stand-in binaries are scripts: skip the header check then. */
const verify = (root: string, o: Partial<VerifyCandidateOptions> = {}): Promise<VerificationReport> =>
  verifyCandidate({
    root,
    expectedArtifactType: 'both',
    hostPlatform: HOST,
    checkBinaryFormat: HAS_GO,
    smoke: { binaryTimeoutMs: 5_000 },
    ...o,
  });

const failed = (r: VerificationReport) => r.checks.filter((c) => !c.passed).map((c) => c.name);

/** Every failure must be reported with a fixed, path-free public summary. */
function expectFailure(r: VerificationReport, check: string, reason: RegExp): void {
  expect(r.passed).toBe(false);
  expect(failed(r)).toContain(check);
  expect(r.internalReason).toMatch(reason);
  expect(r.internalReason).toContain(`${check}: `);
  expect(Object.values(PUBLIC_SUMMARIES)).toContain(r.publicSummary);
  expect(r.publicSummary).not.toMatch(/\/|\.(go|js|html|png|map)\b|tool-/);
  expect(r.artifacts).toEqual([]);
}

const manifestOf = (root: string): ManifestEntry[] =>
  JSON.parse(readFileSync(path.join(root, 'artifact-manifest.json'), 'utf8')).artifacts;

describe('verifyCandidate: valid candidates pass', () => {
  it('web + binary: every check passes, the smoke ran and the entries are the deliverables', async () => {
    const c = await makeCandidate({ binary: binaries.ok });
    const r = await verify(c.root);
    expect(r.internalReason).toBeUndefined();
    expect(r.passed).toBe(true);
    expect(r.publicSummary).toBe(PUBLIC_SUMMARIES.passed);
    expect(r.checks.map((x) => x.name)).toEqual([
      'manifest.parse',
      'manifest.ids',
      'manifest.source_included',
      'manifest.kinds',
      'paths.manifest',
      'paths.tree',
      'files.integrity',
      'files.coverage',
      'source.policy',
      'binary.build_paths',
      ...(HAS_GO ? ['binary.format'] : []),
      'limits',
      'smoke.binary',
      'smoke.network_sandbox',
      'smoke.web',
      'smoke.render',
    ]);
    expect(r.artifacts).toEqual(manifestOf(c.root));
  });

  it('web only and binary only', async () => {
    const web = await makeCandidate({});
    expect((await verify(web.root, { expectedArtifactType: 'web' })).passed).toBe(true);
    const bin = await makeCandidate({ binary: binaries.ok, web: false });
    const r = await verify(bin.root, { expectedArtifactType: 'binary' });
    expect(r.internalReason).toBeUndefined();
    expect(r.passed).toBe(true);
  });

  it('accepts a custom manifest location', async () => {
    const c = await makeCandidate({});
    mkdirSync(path.join(c.root, 'meta'));
    writeFileSync(
      path.join(c.root, 'meta/m.json'),
      readFileSync(path.join(c.root, 'artifact-manifest.json')),
    );
    rmSync(path.join(c.root, 'artifact-manifest.json'));
    const r = await verify(c.root, { expectedArtifactType: 'web', manifestPath: 'meta/m.json' });
    expect(r.passed).toBe(true);
  });
});

describe('verifyCandidate: the manifest', () => {
  it('missing or not JSON or not the schema', async () => {
    const c = await makeCandidate({});
    writeFileSync(path.join(c.root, 'artifact-manifest.json'), '{"schema_version":1,');
    expectFailure(await verify(c.root, { expectedArtifactType: 'web' }), 'manifest.parse', /not valid JSON/);
    writeFileSync(
      path.join(c.root, 'artifact-manifest.json'),
      '{"schema_version":1,"artifacts":[{"kind":"web"}]}',
    );
    expectFailure(
      await verify(c.root, { expectedArtifactType: 'web' }),
      'manifest.parse',
      /manifest schema: artifacts\.0/,
    );
    rmSync(path.join(c.root, 'artifact-manifest.json'));
    const r = await verify(c.root, { expectedArtifactType: 'web' });
    expectFailure(r, 'manifest.parse', /manifest not found/);
    expect(r.publicSummary).toBe(PUBLIC_SUMMARIES.manifest);
  });

  it('duplicate artifact ids', async () => {
    const c = await makeCandidate({ binary: binaries.ok });
    const [web, bin] = manifestOf(c.root) as [ManifestEntry, ManifestEntry];
    await writeManifest(c.root, [web, { ...bin, artifact_id: 'web' }], true);
    expectFailure(await verify(c.root), 'manifest.ids', /duplicate artifact_id: web/);
  });

  it('source_included: true', async () => {
    const c = await makeCandidate({});
    await writeManifest(
      c.root,
      manifestOf(c.root).map((e) => ({ ...e, source_included: true })),
      true,
    );
    expectFailure(
      await verify(c.root, { expectedArtifactType: 'web' }),
      'manifest.source_included',
      /source_included is true: web/,
    );
  });

  it('web requested but no web entry', async () => {
    const c = await makeCandidate({ binary: binaries.ok, web: false });
    expectFailure(
      await verify(c.root, { expectedArtifactType: 'web' }),
      'manifest.kinds',
      /requested web but the manifest has no web entry/,
    );
    expectFailure(await verify(c.root, { expectedArtifactType: 'both' }), 'manifest.kinds', /no web entry/);
  });

  it('wrong type requested: a web entry when a binary was asked for', async () => {
    const c = await makeCandidate({ binary: binaries.ok });
    expectFailure(
      await verify(c.root, { expectedArtifactType: 'binary' }),
      'manifest.kinds',
      /requested binary but the manifest has a web entry/,
    );
  });

  it('evidence and log entries are refused in a candidate', async () => {
    const c = await makeCandidate({});
    writeFileSync(path.join(c.root, 'worker.log'), 'log');
    await writeManifest(c.root, [
      ...manifestOf(c.root),
      {
        artifact_id: 'log',
        kind: 'log',
        name: 'log',
        path: 'worker.log',
        sha256: '0'.repeat(64),
        size_bytes: 0,
        source_included: false,
      },
    ]);
    expectFailure(
      await verify(c.root, { expectedArtifactType: 'web' }),
      'manifest.kinds',
      /kind log is not deliverable/,
    );
  });

  it('a ".." path and an absolute path', async () => {
    const c = await makeCandidate({ binary: binaries.ok });
    const [web, bin] = manifestOf(c.root) as [ManifestEntry, ManifestEntry];
    await writeManifest(c.root, [web, { ...bin, path: '../outside/tool' }], true);
    expectFailure(await verify(c.root), 'paths.manifest', /unsafe path for tool-.*: ".." segment/);
    await writeManifest(c.root, [web, { ...bin, path: '/etc/passwd' }], true);
    const r = await verify(c.root);
    expectFailure(r, 'paths.manifest', /unsafe path for tool-.*: absolute path/);
    expect(failed(r)).toContain('files.coverage'); // the real binary is now not covered
  });
});

describe('verifyCandidate: files against the manifest', () => {
  it('checksum mismatch (same size)', async () => {
    const c = await makeCandidate({ binary: binaries.ok });
    const js = path.join(c.root, 'web/assets/app.js');
    writeFileSync(js, readFileSync(js, 'utf8').replace('Ready', 'Pwned'));
    const r = await verify(c.root);
    expectFailure(
      r,
      'files.integrity',
      /web: sha256 mismatch \(manifest [0-9a-f]{64}, actual [0-9a-f]{64}\)/,
    );
    expect(r.internalReason).not.toMatch(/size mismatch/);
    expect(r.publicSummary).toBe(PUBLIC_SUMMARIES.files);
  });

  it('size mismatch', async () => {
    const c = await makeCandidate({ binary: binaries.ok });
    const [web, bin] = manifestOf(c.root) as [ManifestEntry, ManifestEntry];
    await writeManifest(c.root, [web, { ...bin, size_bytes: bin.size_bytes + 1 }], true);
    expectFailure(
      await verify(c.root),
      'files.integrity',
      /tool-.*: size mismatch \(manifest \d+, actual \d+\)/,
    );
  });

  it('a binary changed after the manifest was written', async () => {
    const c = await makeCandidate({ binary: binaries.ok });
    appendFileSync(path.join(c.root, c.binRel), 'x');
    expectFailure(await verify(c.root), 'files.integrity', /size mismatch.*sha256 mismatch/);
  });

  it('missing file', async () => {
    const c = await makeCandidate({ binary: binaries.ok });
    rmSync(path.join(c.root, c.binRel));
    expectFailure(await verify(c.root), 'files.integrity', /tool-.*: missing bin\/tool-/);
  });

  it('web entrypoint missing from the web dir', async () => {
    const c = await makeCandidate({});
    rmSync(path.join(c.root, 'web/index.html'));
    await writeManifest(c.root, manifestOf(c.root));
    expectFailure(
      await verify(c.root, { expectedArtifactType: 'web' }),
      'files.integrity',
      /entrypoint index\.html not found in web/,
    );
  });

  it('extra file smuggled next to the artifacts', async () => {
    const c = await makeCandidate({ binary: binaries.ok });
    writeFileSync(path.join(c.root, 'bin/notes.txt'), 'hello');
    mkdirSync(path.join(c.root, 'stash'));
    writeFileSync(path.join(c.root, 'stash/data.bin'), 'x');
    const r = await verify(c.root);
    expectFailure(
      r,
      'files.coverage',
      /file not in the manifest: bin\/notes\.txt; file not in the manifest: stash\/data\.bin/,
    );
  });

  it('symlink to outside and symlink inside', async () => {
    const c = await makeCandidate({});
    symlinkSync('/etc/passwd', path.join(c.root, 'web/passwd.txt'));
    let r = await verify(c.root, { expectedArtifactType: 'web' });
    expectFailure(r, 'paths.tree', /symlink: web\/passwd\.txt -> \/etc\/passwd/);
    expect(failed(r)).not.toContain('smoke.web'); // nothing is served from an unsafe tree
    rmSync(path.join(c.root, 'web/passwd.txt'));
    symlinkSync('index.html', path.join(c.root, 'web/alias.html'));
    symlinkSync('assets', path.join(c.root, 'web/assets2'));
    r = await verify(c.root, { expectedArtifactType: 'web' });
    expectFailure(
      r,
      'paths.tree',
      /symlink: web\/alias\.html -> index\.html; symlink: web\/assets2 -> assets/,
    );
  });

  it('a symlinked artifact directory', async () => {
    const c = await makeCandidate({});
    const elsewhere = tempDir('elsewhere');
    rmSync(path.join(elsewhere), { recursive: true });
    // move web/ out and link it back
    renameSync(path.join(c.root, 'web'), elsewhere);
    symlinkSync(elsewhere, path.join(c.root, 'web'));
    const r = await verify(c.root, { expectedArtifactType: 'web' });
    expectFailure(r, 'paths.tree', /symlink: web -> /);
    expect(failed(r)).toContain('files.integrity');
  });
});

describe('verifyCandidate: source and content policy', () => {
  const withWebFile = async (rel: string, content: string | Buffer) => {
    const c = await makeCandidate({});
    mkdirSync(path.dirname(path.join(c.root, rel)), { recursive: true });
    writeFileSync(path.join(c.root, rel), content);
    await writeManifest(c.root, manifestOf(c.root)); // a consistent manifest: only the policy objects
    return verify(c.root, { expectedArtifactType: 'web' });
  };

  it('.go source file in the web dir', async () => {
    const r = await withWebFile('web/main.go', 'package main\n');
    expectFailure(r, 'source.policy', /source file \(\.go\): web\/main\.go/);
    expect(r.publicSummary).toBe(PUBLIC_SUMMARIES.content);
  });

  it('.map file', async () => {
    expectFailure(
      await withWebFile('web/assets/app.js.map', '{"version":3}'),
      'source.policy',
      /source map file: web\/assets\/app\.js\.map/,
    );
  });

  it('Go source copied into the web app under an innocent name', async () => {
    expectFailure(
      await withWebFile('web/notes.txt', 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(1) }\n'),
      'source.policy',
      /file contains source code: web\/notes\.txt/,
    );
  });

  it('sourceMappingURL comment', async () => {
    expectFailure(
      await withWebFile('web/assets/app.js', 'x=1;\n//# sourceMappingURL=app.js.map\n'),
      'source.policy',
      /sourceMappingURL comment: web\/assets\/app\.js/,
    );
  });

  it('zip disguised as .png (magic bytes), also when appended to a real PNG', async () => {
    const zip = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(60)]);
    expectFailure(
      await withWebFile('web/logo.png', zip),
      'source.policy',
      /archive content \(zip\): web\/logo\.png/,
    );
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    expectFailure(
      await withWebFile('web/logo.png', Buffer.concat([PNG, eocd])),
      'source.policy',
      /archive content \(zip \(appended\)\)/,
    );
    const gz = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0]);
    expectFailure(
      await withWebFile('web/data.json', gz),
      'source.policy',
      /archive content \(gzip\): web\/data\.json/,
    );
  });

  it('.git directory (inside the web dir and at the root)', async () => {
    expectFailure(
      await withWebFile('web/.git/HEAD', 'ref: refs/heads/main\n'),
      'source.policy',
      /forbidden directory \(\.git\): web\/\.git/,
    );
    const c = await makeCandidate({});
    mkdirSync(path.join(c.root, '.git'));
    writeFileSync(path.join(c.root, '.git/config'), '[core]\n');
    const r = await verify(c.root, { expectedArtifactType: 'web' });
    expectFailure(r, 'source.policy', /forbidden directory \(\.git\): \.git/);
    expect(failed(r)).toContain('files.coverage');
  });

  it('a file type that is not a web asset', async () => {
    expectFailure(
      await withWebFile('web/tool.exe', 'MZ'),
      'source.policy',
      /not allowed in a web artifact \(\.exe\)/,
    );
  });

  it('forbidden strings (the worktree path) in any file', async () => {
    const c = await makeCandidate({});
    const r = await verify(c.root, {
      expectedArtifactType: 'web',
      forbiddenStrings: ['/srv/wt/run-1', 'Ready'],
    });
    expectFailure(r, 'binary.build_paths', /web\/assets\/app\.js: forbidden string #2$/);
    expect(r.internalReason).not.toContain('Ready');
  });

  it.skipIf(!HAS_GO)(
    'a real Go binary built without -trimpath carries build paths; with -trimpath it passes',
    async () => {
      const c = await makeCandidate({ binary: binaries.notrim!, web: false });
      const r = await verify(c.root, { expectedArtifactType: 'binary' });
      expectFailure(r, 'binary.build_paths', /absolute source path "\/[^"]+\.go"/);
      expect(r.internalReason).toMatch(/build path marker "\/tmp\/"/); // the module lived under /tmp
      expect(failed(r)).toEqual(['binary.build_paths']);
      const ok = await makeCandidate({ binary: binaries.ok, web: false });
      expect((await verify(ok.root, { expectedArtifactType: 'binary' })).passed).toBe(true);
    },
  );

  it.skipIf(!HAS_GO)('binary header must match the declared platform', async () => {
    const c = await makeCandidate({ binary: binaries.ok, web: false });
    const other = HOST === 'linux-arm64' ? 'linux-amd64' : 'linux-arm64';
    const renamed = `bin/tool-${other}`;
    renameSync(path.join(c.root, c.binRel), path.join(c.root, renamed));
    const [bin] = manifestOf(c.root) as [ManifestEntry];
    await writeManifest(c.root, [{ ...bin, path: renamed, platform: other }]);
    const r = await verify(c.root, { expectedArtifactType: 'binary' });
    expectFailure(r, 'binary.format', new RegExp(`header says ${HOST}, manifest says ${other}`));
  });
});

describe('verifyCandidate: limits', () => {
  it('oversize file, oversize artifact, too many files, total', async () => {
    const c = await makeCandidate({ binary: binaries.ok });
    let r = await verify(c.root, { limits: { maxFileBytes: 20 } });
    expectFailure(r, 'limits', /file bin\/tool-\S+ is \d+ bytes \(limit 20\)/);
    expect(r.internalReason).toMatch(/files\.integrity: .*tool-\S+: not hashed/);
    expect(r.publicSummary).not.toBe(PUBLIC_SUMMARIES.passed);
    r = await verify(c.root, { limits: { maxArtifactBytes: 300 } });
    expectFailure(r, 'limits', /artifact web is \d+ bytes \(limit 300\)/);
    r = await verify(c.root, { limits: { maxFileCount: 3 } });
    expectFailure(r, 'limits', /6 files \(limit 3\)/);
    r = await verify(c.root, { limits: { maxTotalBytes: 1000 } });
    expectFailure(r, 'limits', /\d+ bytes in total \(limit 1000\)/);
  });
});

describe('verifyCandidate: runtime smoke', () => {
  it('a binary that exits non-zero on --help', async () => {
    const c = await makeCandidate({ binary: binaries.fail });
    const r = await verify(c.root);
    expectFailure(r, 'smoke.binary', /--help exited 3; output: "broken"/);
    expect(r.publicSummary).toBe(PUBLIC_SUMMARIES.runtime);
  });

  it('a binary that hangs (timeout)', async () => {
    const c = await makeCandidate({ binary: binaries.hang });
    const started = Date.now();
    const r = await verify(c.root, { smoke: { binaryTimeoutMs: 800 } });
    expectFailure(r, 'smoke.binary', /--help timed out after 800 ms/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a binary that prints nothing', async () => {
    const c = await makeCandidate({ binary: binaries.silent });
    expectFailure(await verify(c.root), 'smoke.binary', /printed nothing/);
  });

  it('no binary for the runner platform', async () => {
    const c = await makeCandidate({ binary: binaries.ok, web: false });
    const other = HOST === 'linux-arm64' ? 'linux-amd64' : 'linux-arm64';
    const r = await verify(c.root, {
      expectedArtifactType: 'binary',
      hostPlatform: other,
      checkBinaryFormat: false,
    });
    expectFailure(r, 'smoke.binary', new RegExp(`no binary for the runner platform ${other}`));
    const relaxed = await verify(c.root, {
      expectedArtifactType: 'binary',
      hostPlatform: other,
      checkBinaryFormat: false,
      requireHostBinary: false,
    });
    expect(relaxed.passed).toBe(true);
  });

  it('a blank web page and a script served with the wrong type', async () => {
    const c = await makeCandidate({});
    writeFileSync(path.join(c.root, 'web/index.html'), '<!-- nothing -->');
    await writeManifest(c.root, manifestOf(c.root));
    expectFailure(
      await verify(c.root, { expectedArtifactType: 'web' }),
      'smoke.web',
      /has no <html> or <body>/,
    );
    writeFileSync(
      path.join(c.root, 'web/index.html'),
      '<html><body><script src="assets/app.txt"></script><script src="assets/gone.js"></script></body></html>',
    );
    writeFileSync(path.join(c.root, 'web/assets/app.txt'), 'x=1');
    await writeManifest(c.root, manifestOf(c.root));
    expectFailure(
      await verify(c.root, { expectedArtifactType: 'web' }),
      'smoke.web',
      /script \/assets\/app\.txt content-type "text\/plain; charset=utf-8"; web: script \/assets\/gone\.js answered 404/,
    );
  });

  it('an unreadable root fails without throwing', async () => {
    const r = await verify(path.join(tempDir('gone'), 'nope'));
    expectFailure(r, 'paths.tree', /candidate root unreadable: ENOENT/);
  });
});

describe('verifyCandidate: worker render evidence (no browser at the gate)', () => {
  /** This runner cannot render (browser: false); the worker's evidence must stand in. */
  const gate = (root: string, workerRenders?: RenderRecord[], renderEvidence?: 'worker' | 'none') =>
    verify(root, {
      expectedArtifactType: 'web',
      smoke: {
        browser: false,
        ...(renderEvidence && { renderEvidence }),
        ...(workerRenders && { workerRenders }),
      },
    });
  const digestOf = (root: string) => manifestOf(root).find((e) => e.kind === 'web')!.sha256;
  const check = (r: VerificationReport, name: string) => r.checks.find((c) => c.name === name);

  it('passes with a passed worker render whose digest is the candidate’s web digest', async () => {
    const c = await makeCandidate({});
    const r = await gate(
      c.root,
      [{ artifact_id: 'web', status: 'passed', digest: digestOf(c.root) }],
      'worker',
    );
    expect(r.internalReason).toBeUndefined();
    expect(r.passed).toBe(true);
    expect(check(r, 'smoke.render')).toMatchObject({
      passed: true,
      detail: expect.stringMatching(/^skipped/),
    });
    expect(check(r, 'smoke.render_evidence')).toMatchObject({
      passed: true,
      detail: expect.stringContaining('the worker rendered web'),
    });
  });

  it('fails without evidence for the web artifact (also when the worker sent none at all)', async () => {
    const c = await makeCandidate({});
    expectFailure(await gate(c.root, [], 'worker'), 'smoke.render_evidence', /no render evidence for web/);
    expectFailure(
      await gate(c.root, undefined, 'worker'),
      'smoke.render_evidence',
      /no render evidence for web/,
    );
    const other = [{ artifact_id: 'web-2', status: 'passed' as const, digest: digestOf(c.root) }];
    const r = await gate(c.root, other, 'worker');
    expectFailure(r, 'smoke.render_evidence', /no render evidence for web/);
    expect(r.publicSummary).toBe(PUBLIC_SUMMARIES.error);
  });

  it('fails when the evidence digest does not match the staged candidate', async () => {
    const c = await makeCandidate({});
    const stale = digestOf(c.root);
    // The worker rendered other bytes than those that would be published.
    writeFileSync(path.join(c.root, 'web/assets/app.js'), 'document.body.textContent = "changed";\n');
    await writeManifest(c.root, manifestOf(c.root));
    expect(digestOf(c.root)).not.toBe(stale);
    expectFailure(
      await gate(c.root, [{ artifact_id: 'web', status: 'passed', digest: stale }], 'worker'),
      'smoke.render_evidence',
      /render evidence digest does not match the candidate \(web\)/,
    );
  });

  it('fails when the worker itself skipped the render', async () => {
    const c = await makeCandidate({});
    expectFailure(
      await gate(c.root, [{ artifact_id: 'web', status: 'skipped', digest: digestOf(c.root) }], 'worker'),
      'smoke.render_evidence',
      /the worker did not render it/,
    );
  });

  it('mode off (default or none): a skipped render passes as before, no evidence check', async () => {
    const c = await makeCandidate({});
    for (const r of [await gate(c.root), await gate(c.root, [], 'none')]) {
      expect(r.passed).toBe(true);
      expect(check(r, 'smoke.render')?.detail).toMatch(/^skipped: render check disabled/);
      expect(check(r, 'smoke.render_evidence')).toBeUndefined();
    }
  });

  it.skipIf(!findBrowser().path)('a gate that renders itself needs no worker evidence', async () => {
    const c = await makeCandidate({});
    const r = await verify(c.root, {
      expectedArtifactType: 'web',
      smoke: { renderEvidence: 'worker', workerRenders: [] },
    });
    expect(r.internalReason).toBeUndefined();
    expect(check(r, 'smoke.render')?.detail).toMatch(/rendered web in headless Chromium/);
    expect(check(r, 'smoke.render_evidence')).toBeUndefined();
  });
});
