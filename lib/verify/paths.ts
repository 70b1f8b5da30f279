import { lstat, readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Why a path taken from the manifest is unsafe, or undefined when it is a plain relative path.
 * Accepted: `/`-separated, relative, already normalised (no `.`/`..`/empty segments, no trailing
 * slash), no backslash, no drive letter, no NUL or other control characters.
 */
export function manifestPathProblem(p: string): string | undefined {
  if (p.length === 0) return 'empty path';
  if (CONTROL_CHARS.test(p)) return 'control character or NUL in path';
  if (p.includes('\\')) return 'backslash in path';
  if (p.startsWith('/')) return 'absolute path';
  if (/^[A-Za-z]:/.test(p)) return 'drive letter in path';
  const segments = p.split('/');
  if (segments.includes('..')) return '".." segment in path';
  if (segments.includes('.')) return '"." segment in path';
  if (segments.includes('')) return 'empty segment or trailing slash in path';
  if (path.posix.normalize(p) !== p) return 'path is not normalised';
  return undefined;
}

/** True when `child` is `parent` itself or lies below it (both absolute, already resolved). */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** True when the `/`-separated relative path `rel` is `base` or lies below it. */
export function relIsWithin(base: string, rel: string): boolean {
  return rel === base || rel.startsWith(`${base}/`);
}

export interface TreeFile {
  /** Path relative to the candidate root, `/`-separated. */
  rel: string;
  abs: string;
  size: number;
}

export interface TreeWalk {
  /** The resolved (realpath) candidate root; everything below was walked from here. */
  realRoot: string;
  files: TreeFile[];
  /** Relative paths of directories (not including the root). */
  dirs: string[];
  /** Symlinks, special files, hard links, unsafe names, entries resolving outside the root. */
  problems: string[];
  /** The walk stopped early because there were more than `maxEntries` entries. */
  truncated: boolean;
}

/**
 * Walks the candidate tree with `lstat` only: nothing is followed. Every regular file and
 * directory is confirmed (realpath) to resolve inside the root. Symbolic links (to anywhere),
 * FIFOs, sockets, devices, hard-linked files (a hard link can alias a file outside the tree) and
 * names with control characters or backslashes are reported as problems.
 */
export async function walkCandidate(root: string, opts: { maxEntries: number }): Promise<TreeWalk> {
  const realRoot = await realpath(root);
  const result: TreeWalk = { realRoot, files: [], dirs: [], problems: [], truncated: false };
  let seen = 0;
  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = (await readdir(abs)).sort();
    for (const name of names) {
      if (++seen > opts.maxEntries) {
        result.truncated = true;
        return;
      }
      const childAbs = path.join(abs, name);
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (CONTROL_CHARS.test(name) || name.includes('\\')) {
        result.problems.push(`unsafe file name: ${JSON.stringify(childRel)}`);
        continue;
      }
      let st: Awaited<ReturnType<typeof lstat>>;
      try {
        st = await lstat(childAbs);
      } catch {
        result.problems.push(`unreadable entry: ${JSON.stringify(childRel)}`);
        continue;
      }
      if (st.isSymbolicLink()) {
        const target = await readlink(childAbs).catch(() => '?');
        result.problems.push(`symlink: ${childRel} -> ${target}`);
        continue;
      }
      if (!st.isFile() && !st.isDirectory()) {
        result.problems.push(`special file (not a regular file or directory): ${childRel}`);
        continue;
      }
      const resolved = await realpath(childAbs).catch(() => undefined);
      if (resolved === undefined || !isWithin(realRoot, resolved)) {
        result.problems.push(`resolves outside the candidate root: ${childRel}`);
        continue;
      }
      if (st.isDirectory()) {
        result.dirs.push(childRel);
        await walk(childAbs, childRel);
        if (result.truncated) return;
      } else {
        if (st.nlink > 1) result.problems.push(`hard-linked file (${st.nlink} links): ${childRel}`);
        result.files.push({ rel: childRel, abs: childAbs, size: st.size });
      }
    }
  };
  await walk(realRoot, '');
  return result;
}
