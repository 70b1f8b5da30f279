import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CandidateRefusedError,
  contentTypeFor,
  listCandidateFiles,
  type PutObject,
  readRegularFile,
  uploadCandidate,
} from '../../worker-image/src/upload.ts';

const RUN = `run_${'c'.repeat(26)}`;
let root: string;
let worktree: string;

async function writeDist(): Promise<void> {
  await mkdir(join(worktree, 'dist', 'web'), { recursive: true });
  await mkdir(join(worktree, 'dist', 'bin'), { recursive: true });
  await writeFile(join(worktree, 'dist', 'web', 'index.html'), '<!doctype html>');
  await writeFile(join(worktree, 'dist', 'web', 'app.js'), 'console.log(1)');
  await writeFile(join(worktree, 'dist', 'bin', 'tool-linux-amd64'), Buffer.alloc(1000, 1));
  await writeFile(join(worktree, 'dist', 'artifact-manifest.json'), '{"schema_version":1,"artifacts":[]}');
  // Source next to dist/ is never part of the candidate.
  await writeFile(join(worktree, 'main.go'), 'package main');
}

function recorder(): { put: PutObject; calls: { key: string; contentType: string; size: number }[] } {
  const calls: { key: string; contentType: string; size: number }[] = [];
  return {
    calls,
    put: async ({ key, body, contentType }) => {
      calls.push({ key, contentType, size: body.length });
    },
  };
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'worker-upload-'));
  worktree = join(root, 'repo');
  await mkdir(worktree);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('candidate upload', () => {
  it('uploads every file under dist/ to the attempt prefix, the manifest last', async () => {
    await writeDist();
    const { put, calls } = recorder();
    const result = await uploadCandidate({
      worktree,
      runId: RUN,
      attempt: 2,
      manifestRel: 'artifact-manifest.json',
      put,
    });
    const prefix = `candidates/${RUN}/2/`;
    expect(result).toEqual({ files: 4, bytes: 1000 + 15 + 14 + 35, prefix });
    expect(calls.map((c) => c.key).sort()).toEqual(
      ['artifact-manifest.json', 'bin/tool-linux-amd64', 'web/app.js', 'web/index.html'].map(
        (r) => prefix + r,
      ),
    );
    expect(calls.at(-1)!.key).toBe(`${prefix}artifact-manifest.json`);
    expect(calls.find((c) => c.key.endsWith('index.html'))!.contentType).toBe('text/html; charset=utf-8');
    expect(calls.find((c) => c.key.endsWith('linux-amd64'))!.contentType).toBe('application/octet-stream');
  });

  it('refuses a candidate without the manifest', async () => {
    await writeDist();
    const { put, calls } = recorder();
    await expect(
      uploadCandidate({ worktree, runId: RUN, attempt: 1, manifestRel: 'missing.json', put }),
    ).rejects.toThrow(CandidateRefusedError);
    expect(calls).toEqual([]);
  });

  it('refuses a symbolic link to a file outside dist/ without reading it', async () => {
    await writeDist();
    await writeFile(join(root, 'secret.txt'), 'secret');
    await symlink(join(root, 'secret.txt'), join(worktree, 'dist', 'web', 'leak.txt'));
    await expect(listCandidateFiles(worktree)).rejects.toThrow('dist/web/leak.txt is a symbolic link');
    const { put, calls } = recorder();
    await expect(
      uploadCandidate({ worktree, runId: RUN, attempt: 1, manifestRel: 'artifact-manifest.json', put }),
    ).rejects.toThrow(CandidateRefusedError);
    expect(calls).toEqual([]);
  });

  it('refuses a symbolic link to a directory and a dist/ that is itself a link', async () => {
    await writeDist();
    await symlink(worktree, join(worktree, 'dist', 'src'));
    await expect(listCandidateFiles(worktree)).rejects.toThrow('dist/src is a symbolic link');

    const other = join(root, 'other');
    await mkdir(join(other, 'dist'), { recursive: true });
    await writeFile(join(other, 'dist', 'a.txt'), 'a');
    await mkdir(join(root, 'linked'));
    await symlink(join(other, 'dist'), join(root, 'linked', 'dist'));
    await expect(listCandidateFiles(join(root, 'linked'))).rejects.toThrow('dist/ is a symbolic link');
  });

  it('refuses special files, a missing dist/ and an empty dist/', async () => {
    await expect(listCandidateFiles(worktree)).rejects.toThrow('no dist/ folder');
    await mkdir(join(worktree, 'dist'));
    await expect(listCandidateFiles(worktree)).rejects.toThrow('dist/ is empty');
    execFileSync('mkfifo', [join(worktree, 'dist', 'pipe')]);
    await expect(listCandidateFiles(worktree)).rejects.toThrow('dist/pipe is not a regular file');
  });

  it('never reads through a link swapped in after listing', async () => {
    await writeFile(join(root, 'secret.txt'), 'secret');
    await symlink(join(root, 'secret.txt'), join(root, 'link'));
    await expect(readRegularFile(join(root, 'link'))).rejects.toThrow(CandidateRefusedError);
    expect((await readRegularFile(join(root, 'secret.txt'))).toString()).toBe('secret');
  });

  it('picks content types by extension', () => {
    expect(contentTypeFor('web/style.css')).toBe('text/css; charset=utf-8');
    expect(contentTypeFor('web/app.JS')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('artifact-manifest.json')).toBe('application/json; charset=utf-8');
    expect(contentTypeFor('bin/tool-windows-amd64.exe')).toBe('application/octet-stream');
    expect(contentTypeFor('bin/tool')).toBe('application/octet-stream');
  });
});
