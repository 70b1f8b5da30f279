/**
 * Fixtures for the verification gate tests: a real Go binary (built with and without
 * -trimpath) when `go` exists, else a shell script, and a candidate directory shaped like the
 * template's `dist/` with a correct manifest.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ManifestEntry } from '../../lib/domain/manifest.ts';
import { detectHostPlatform, hashDirectory, sha256File } from '../../lib/verify/index.ts';

/** Set `BUSDK_VERIFY_NO_GO=1` to exercise the shell-script fallback on a machine with Go. */
export const HAS_GO =
  !process.env.BUSDK_VERIFY_NO_GO && spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
export const HOST = detectHostPlatform() ?? 'linux-amd64';

const GO_MAIN = `package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

var mode = "ok"
var target = ""

func main() {
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "broken")
		os.Exit(3)
	case "hang":
		time.Sleep(time.Hour)
	case "silent":
		os.Exit(0)
	case "dial":
		c, err := net.DialTimeout("tcp", target, 2*time.Second)
		if err == nil {
			c.Close()
			fmt.Println("network reachable")
			os.Exit(4)
		}
		fmt.Println("usage: tool (network isolated)")
		return
	}
	if len(os.Args) > 1 && (os.Args[1] == "--help" || os.Args[1] == "--version") {
		fmt.Println("usage: tool [--help]")
		return
	}
	fmt.Println("hello")
}
`;

const created: string[] = [];

/** A fresh temp dir, removed by {@link cleanupTempDirs}. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `busdk-${prefix}-`));
  created.push(dir);
  return dir;
}

/** Removes every temp dir this test file created (call from `afterAll`). */
export function cleanupTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Builds the Go fixture program (module `example.com/tool`) into `outDir`; returns the binary. */
export function buildGo(
  outDir: string,
  opts: { name?: string; mode?: string; target?: string; trimpath?: boolean } = {},
): string {
  const src = tempDir('gosrc');
  writeFileSync(path.join(src, 'go.mod'), 'module example.com/tool\n\ngo 1.19\n');
  writeFileSync(path.join(src, 'main.go'), GO_MAIN);
  const out = path.join(
    outDir,
    opts.name ?? `tool-${opts.mode ?? 'ok'}${opts.trimpath === false ? '-notrim' : ''}`,
  );
  const ldflags = ['-s', '-w', `-X main.mode=${opts.mode ?? 'ok'}`];
  if (opts.target) ldflags.push(`-X main.target=${opts.target}`);
  const args = [
    'build',
    ...(opts.trimpath === false ? [] : ['-trimpath']),
    '-ldflags',
    ldflags.join(' '),
    '-o',
    out,
    '.',
  ];
  execFileSync('go', args, {
    cwd: src,
    env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod', GO111MODULE: 'on' },
    stdio: 'pipe',
  });
  rmSync(src, { recursive: true, force: true });
  return out;
}

/** A shell-script stand-in for a binary (used when Go is missing, and for smoke tests). */
export function shellBinary(outDir: string, name: string, body: string): string {
  const file = path.join(outDir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

/** A real 1x1 PNG. */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Tool</title>
<link rel="stylesheet" href="assets/style.css">
<link rel="icon" href="logo.png">
</head>
<body><h1>Tool</h1><script type="module" src="./assets/app.js"></script></body>
</html>
`;

export interface Candidate {
  root: string;
  binRel: string;
  entries: ManifestEntry[];
}

/**
 * Writes a candidate: `web/` (index.html, assets/app.js, assets/style.css, logo.png) and/or
 * `bin/tool-<host>` (a copy of `binary`), plus a correct `artifact-manifest.json`.
 */
export async function makeCandidate(opts: { binary?: string; web?: boolean }): Promise<Candidate> {
  const root = tempDir('cand');
  const binRel = `bin/tool-${HOST}${HOST.startsWith('windows-') ? '.exe' : ''}`;
  if (opts.web !== false) {
    mkdirSync(path.join(root, 'web/assets'), { recursive: true });
    writeFileSync(path.join(root, 'web/index.html'), INDEX_HTML);
    writeFileSync(
      path.join(root, 'web/assets/app.js'),
      'document.querySelector("h1").textContent = "Ready";\n',
    );
    writeFileSync(path.join(root, 'web/assets/style.css'), 'body { font-family: sans-serif; }\n');
    writeFileSync(path.join(root, 'web/logo.png'), PNG);
  }
  if (opts.binary) {
    mkdirSync(path.join(root, 'bin'), { recursive: true });
    copyFileSync(opts.binary, path.join(root, binRel));
    chmodSync(path.join(root, binRel), 0o755);
  }
  const entries: ManifestEntry[] = [];
  if (opts.web !== false)
    entries.push({
      artifact_id: 'web',
      kind: 'web',
      name: 'Tool web app',
      path: 'web',
      sha256: '',
      size_bytes: 0,
      entrypoint: 'index.html',
      source_included: false,
    });
  if (opts.binary)
    entries.push({
      artifact_id: `tool-${HOST}`,
      kind: 'binary',
      name: 'tool',
      path: binRel,
      sha256: '',
      size_bytes: 0,
      platform: HOST,
      source_included: false,
    });
  await writeManifest(root, entries);
  return { root, binRel, entries };
}

/** Recomputes sha256/size of every entry (unless `raw`) and writes the manifest. */
export async function writeManifest(
  root: string,
  entries: ManifestEntry[],
  raw = false,
): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = [];
  for (const e of entries) {
    if (raw) {
      out.push(e);
      continue;
    }
    const abs = path.join(root, e.path);
    if (e.kind === 'web') {
      const h = await hashDirectory(abs);
      out.push({ ...e, sha256: h.sha256, size_bytes: h.sizeBytes });
    } else {
      out.push({ ...e, sha256: await sha256File(abs), size_bytes: statSync(abs).size });
    }
  }
  writeFileSync(
    path.join(root, 'artifact-manifest.json'),
    `${JSON.stringify({ schema_version: 1, artifacts: out }, null, 2)}\n`,
  );
  return out;
}
