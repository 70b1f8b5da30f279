import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';

/** Entries never taken from the template folder, whatever its `.gitignore` says. */
const ALWAYS_EXCLUDED_ROOT = new Set(['.git', 'dist']);

type FileMode = '100644' | '100755' | '120000';

export interface SnapshotBlob {
  type: 'blob';
  name: string;
  mode: FileMode;
  oid: string;
  content: Uint8Array;
}

export interface SnapshotTree {
  type: 'tree';
  name: string;
  mode: '40000';
  oid: string;
  entries: SnapshotEntry[];
}

export type SnapshotEntry = SnapshotBlob | SnapshotTree;

/** Git object id (SHA-1 of `{type} {size}\0{body}`), the same hash `git hash-object` computes. */
function hashObject(type: 'blob' | 'tree', body: Uint8Array): string {
  return createHash('sha1').update(`${type} ${body.byteLength}\0`).update(body).digest('hex');
}

/** Git orders tree entries bytewise by name, with sub-trees compared as if named `name/`. */
function entryKey(entry: SnapshotEntry): Buffer {
  return Buffer.from(entry.type === 'tree' ? `${entry.name}/` : entry.name, 'utf8');
}

function treeBody(entries: SnapshotEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(Buffer.from(`${entry.mode} ${entry.name}\0`, 'utf8'), Buffer.from(entry.oid, 'hex'));
  }
  return Buffer.concat(parts);
}

function makeTree(name: string, entries: SnapshotEntry[]): SnapshotTree {
  entries.sort((a, b) => Buffer.compare(entryKey(a), entryKey(b)));
  return { type: 'tree', name, mode: '40000', oid: hashObject('tree', treeBody(entries)), entries };
}

async function isIgnored(templateDir: string, ignoreGitdir: string, filepath: string): Promise<boolean> {
  return git.isIgnored({ fs, dir: templateDir, gitdir: ignoreGitdir, filepath });
}

async function walk(
  templateDir: string,
  ignoreGitdir: string,
  relDir: string,
  name: string,
): Promise<SnapshotTree | undefined> {
  const absDir = relDir ? join(templateDir, relDir) : templateDir;
  const dirents = await readdir(absDir, { withFileTypes: true });
  const entries: SnapshotEntry[] = [];
  for (const dirent of dirents) {
    if (dirent.name === '.git') continue;
    if (!relDir && ALWAYS_EXCLUDED_ROOT.has(dirent.name)) continue;
    const rel = relDir ? `${relDir}/${dirent.name}` : dirent.name;
    const abs = join(templateDir, rel);
    const info = await lstat(abs);
    if (info.isDirectory()) {
      if (await isIgnored(templateDir, ignoreGitdir, `${rel}/`)) continue;
      const sub = await walk(templateDir, ignoreGitdir, rel, dirent.name);
      if (sub) entries.push(sub);
      continue;
    }
    if (!info.isFile() && !info.isSymbolicLink()) continue;
    if (await isIgnored(templateDir, ignoreGitdir, rel)) continue;
    let content: Uint8Array;
    let mode: FileMode;
    if (info.isSymbolicLink()) {
      content = Buffer.from(await readlink(abs), 'utf8');
      mode = '120000';
    } else {
      content = await readFile(abs);
      mode = info.mode & 0o111 ? '100755' : '100644';
    }
    entries.push({ type: 'blob', name: dirent.name, mode, oid: hashObject('blob', content), content });
  }
  // Git does not track empty directories.
  if (relDir && entries.length === 0) return undefined;
  return makeTree(name, entries);
}

/**
 * Reads the template folder into an in-memory git tree (nothing is written). The root tree id is
 * the template's content hash: it changes exactly when a tracked file's path, content or
 * executable bit changes. `.git`, the top-level `dist/` and whatever the template's `.gitignore`
 * files list are left out; empty directories are left out as git does.
 */
export async function snapshotTemplate(templateDir: string, ignoreGitdir: string): Promise<SnapshotTree> {
  const root = await walk(templateDir, ignoreGitdir, '', '');
  if (!root) throw new Error('template folder could not be read');
  return root;
}

/** Writes the snapshot's blobs and trees into the repository; returns the root tree id. */
export async function writeSnapshot(gitdir: string, tree: SnapshotTree): Promise<string> {
  const written: { mode: string; path: string; oid: string; type: 'blob' | 'tree' }[] = [];
  for (const entry of tree.entries) {
    const oid =
      entry.type === 'tree'
        ? await writeSnapshot(gitdir, entry)
        : await git.writeBlob({ fs, gitdir, blob: entry.content });
    if (oid !== entry.oid) throw new Error('object id mismatch while writing the template tree');
    written.push({ mode: entry.mode, path: entry.name, oid, type: entry.type });
  }
  const oid = await git.writeTree({ fs, gitdir, tree: written });
  if (oid !== tree.oid) throw new Error('tree id mismatch while writing the template tree');
  return oid;
}
