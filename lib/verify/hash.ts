import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/** Lower-case hex SHA-256 of a file's bytes, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface DirectoryFileDigest {
  /** Path relative to the hashed directory, `/`-separated, no leading `./`. */
  rel: string;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
}

/** Byte-wise comparison of the UTF-8 encodings (the order of Go's `sort.Strings`). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The directory digest over already hashed files (see {@link hashDirectory} for the definition).
 * Input order does not matter; it is sorted here.
 */
export function directoryDigest(files: readonly DirectoryFileDigest[]): string {
  const sorted = [...files].sort((a, b) => compareUtf8(a.rel, b.rel));
  const hash = createHash('sha256');
  for (const f of sorted) hash.update(`${f.sha256}  ${f.rel}\n`, 'utf8');
  return hash.digest('hex');
}

export interface DirectoryHash {
  sha256: string;
  sizeBytes: number;
  fileCount: number;
}

/**
 * The canonical digest of a directory artifact (manifest kind `web`): the `sha256` and
 * `size_bytes` of a directory entry in `artifact-manifest.json`.
 *
 * Definition (byte-exact; the Go template build must produce the same values):
 *
 * 1. Collect every regular file below `dir`, recursively. Directories are descended and
 *    contribute nothing themselves (an empty directory changes nothing). A symbolic link or any
 *    other non-regular file anywhere below `dir` is an error (it is never followed or skipped).
 * 2. For each file, `rel` = its path relative to `dir`, with `/` as the separator, UTF-8, no
 *    leading `./` or `/` (e.g. `index.html`, `assets/app.js`).
 * 3. Sort the files by `rel`, comparing the UTF-8 bytes (Go: `sort.Strings`; plain byte order).
 * 4. For each file in that order, form the line `hex(sha256(file bytes)) + "  " + rel + "\n"`
 *    where `hex` is 64 lower-case hex digits — i.e. exactly what
 *    `find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum` prints inside the
 *    directory, so an operator can reproduce it with coreutils.
 * 5. `sha256` = lower-case hex SHA-256 of the concatenation of all lines (UTF-8 bytes). For an
 *    empty directory that is SHA-256 of the empty string.
 * 6. `size_bytes` = the sum of the sizes in bytes of all those files.
 *
 * The Go template build implements the same definition (`DirDigest` in
 * `template-repo/tools/build/main.go`); `test/template` checks the two agree on real builds.
 */
export async function hashDirectory(dir: string): Promise<DirectoryHash> {
  const files: DirectoryFileDigest[] = [];
  let sizeBytes = 0;
  const walk = async (abs: string, rel: string): Promise<void> => {
    const entries = await readdir(abs, { withFileTypes: true });
    for (const entry of entries) {
      const childAbs = path.join(abs, entry.name);
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const st = await lstat(childAbs);
      if (st.isDirectory()) {
        await walk(childAbs, childRel);
      } else if (st.isFile()) {
        files.push({ rel: childRel, sha256: await sha256File(childAbs) });
        sizeBytes += st.size;
      } else {
        throw new Error(`hashDirectory: not a regular file or directory: ${childRel}`);
      }
    }
  };
  const top = await lstat(dir);
  if (!top.isDirectory()) throw new Error('hashDirectory: not a directory');
  await walk(dir, '');
  return { sha256: directoryDigest(files), sizeBytes, fileCount: files.length };
}
