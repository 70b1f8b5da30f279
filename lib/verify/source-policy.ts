import path from 'node:path';
import { KNOWN_WEB_EXTENSIONS } from './mime.ts';

/**
 * What may never be delivered: source code, build metadata, VCS data, source maps and archives
 * (an archive's contents cannot be inspected here, so none is accepted, whatever its name).
 */
// biome-ignore format: a dense list reads better
export const SOURCE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.go', '.ts', '.tsx', '.mts', '.cts', '.jsx', '.vue', '.svelte', '.coffee', '.elm', '.dart',
  '.c', '.h', '.cc', '.cpp', '.cxx', '.hpp', '.hh', '.m', '.mm', '.s', '.asm', '.zig', '.nim',
  '.rs', '.py', '.pyc', '.pyi', '.java', '.class', '.kt', '.kts', '.scala', '.groovy', '.gradle',
  '.rb', '.php', '.pl', '.pm', '.lua', '.swift', '.cs', '.fs', '.vb', '.ex', '.exs', '.erl',
  '.hs', '.ml', '.r', '.jl', '.sh', '.bash', '.zsh', '.fish', '.ps1', '.psm1', '.bat', '.cmd',
  '.scss', '.sass', '.less', '.styl', '.proto', '.tmpl', '.gotmpl', '.mod', '.sum', '.patch',
  '.diff', '.md', '.mk', '.cmake', '.toml', '.lock', '.ini', '.env', '.pem', '.key', '.log',
]);

/** File names that are source or build metadata whatever their extension. */
// biome-ignore format: a dense list reads better
export const SOURCE_FILE_NAMES: ReadonlySet<string> = new Set([
  'go.mod', 'go.sum', 'go.work', 'go.work.sum', 'makefile', 'gnumakefile', 'dockerfile',
  'containerfile', 'agents.md', 'claude.md', 'readme.md', 'package.json', 'package-lock.json',
  'pnpm-lock.yaml', 'yarn.lock', 'tsconfig.json', 'jsconfig.json', 'vite.config.js',
  'webpack.config.js', 'rollup.config.js', 'cargo.toml', 'cargo.lock', 'build.sh', 'justfile',
  'taskfile.yml', '.gitignore', '.gitattributes', '.gitmodules', '.dockerignore', '.npmrc',
  '.editorconfig', '.ds_store', 'thumbs.db',
]);

/** Directory names that hold VCS data, dependencies or caches. */
export const FORBIDDEN_DIR_NAMES: ReadonlySet<string> = new Set([
  '.git',
  '.svn',
  '.hg',
  '.bzr',
  'node_modules',
  '__pycache__',
  '.idea',
  '.vscode',
]);

// biome-ignore format: a dense list reads better
export const ARCHIVE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.zip', '.tar', '.tgz', '.gz', '.bz2', '.tbz', '.tbz2', '.xz', '.txz', '.zst', '.lz', '.lzma',
  '.br', '.7z', '.rar', '.jar', '.war', '.ear', '.apk', '.aar', '.cab', '.cpio', '.deb', '.rpm',
  '.dmg', '.iso', '.whl', '.egg', '.nupkg', '.crx', '.xpi', '.a', '.ar',
]);

/** Text assets that may reference a source map. */
const SOURCE_MAP_CARRIERS: ReadonlySet<string> = new Set(['.js', '.mjs', '.css', '.html', '.htm']);

/**
 * Name-based policy for one file of the candidate (`rel` relative to the candidate root,
 * `inWeb` when it lies inside a web artifact directory). Returns the problem or undefined.
 * Web directories are allow-listed: only extensions with a known web content type.
 */
export function filePolicyProblem(rel: string, inWeb: boolean): string | undefined {
  const segments = rel.split('/');
  const dirHit = segments.slice(0, -1).find((s) => FORBIDDEN_DIR_NAMES.has(s.toLowerCase()));
  if (dirHit !== undefined) return `file inside a forbidden directory (${dirHit}): ${rel}`;
  const base = (segments.at(-1) ?? rel).toLowerCase();
  if (FORBIDDEN_DIR_NAMES.has(base)) return `forbidden VCS/dependency entry: ${rel}`;
  if (SOURCE_FILE_NAMES.has(base) || base === '.env' || base.startsWith('.env.')) {
    return `source or build file: ${rel}`;
  }
  const ext = path.posix.extname(base);
  if (ext === '.map') return `source map file: ${rel}`;
  if (ARCHIVE_EXTENSIONS.has(ext)) return `archive file: ${rel}`;
  if (SOURCE_EXTENSIONS.has(ext)) return `source file (${ext}): ${rel}`;
  if (inWeb && !KNOWN_WEB_EXTENSIONS.has(ext)) {
    return `file type not allowed in a web artifact (${ext || 'no extension'}): ${rel}`;
  }
  return undefined;
}

/** Name-based policy for a directory of the candidate. */
export function dirPolicyProblem(rel: string): string | undefined {
  const base = (rel.split('/').at(-1) ?? rel).toLowerCase();
  if (FORBIDDEN_DIR_NAMES.has(base)) return `forbidden directory (${base}): ${rel}`;
  return undefined;
}

const startsWith = (buf: Buffer, bytes: readonly number[], at = 0): boolean =>
  buf.length >= at + bytes.length && bytes.every((b, i) => buf[at + i] === b);

/**
 * The archive format recognised by magic bytes, or undefined. Checks leading signatures (zip,
 * gzip, tar `ustar` at 257, 7z, rar, bzip2, xz, zstd, cab) and, for zip, an end-of-central-
 * directory record that ends exactly at the end of the file (a zip appended to, say, a PNG).
 */
export function archiveFormat(
  buf: Buffer,
  opts: { trailingZip: boolean } = { trailingZip: true },
): string | undefined {
  if (startsWith(buf, [0x50, 0x4b, 0x03, 0x04]) || startsWith(buf, [0x50, 0x4b, 0x05, 0x06])) return 'zip';
  if (startsWith(buf, [0x50, 0x4b, 0x07, 0x08])) return 'zip';
  if (startsWith(buf, [0x1f, 0x8b])) return 'gzip';
  if (buf.length >= 262 && buf.toString('latin1', 257, 262) === 'ustar') return 'tar';
  if (startsWith(buf, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return '7z';
  if (startsWith(buf, [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07])) return 'rar';
  if (
    startsWith(buf, [0x42, 0x5a, 0x68]) &&
    (buf[3] ?? 0) >= 0x31 &&
    (buf[3] ?? 0) <= 0x39 &&
    startsWith(buf, [0x31, 0x41, 0x59, 0x26, 0x53, 0x59], 4)
  ) {
    return 'bzip2';
  }
  if (startsWith(buf, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (startsWith(buf, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  if (startsWith(buf, [0x4d, 0x53, 0x43, 0x46, 0x00, 0x00, 0x00, 0x00])) return 'cab';
  if (opts.trailingZip && hasTrailingZip(buf)) return 'zip (appended)';
  return undefined;
}

function hasTrailingZip(buf: Buffer): boolean {
  const eocd = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
  const from = Math.max(0, buf.length - (22 + 0xffff));
  let at = buf.lastIndexOf(eocd);
  while (at >= from) {
    if (at + 22 <= buf.length && at + 22 + buf.readUInt16LE(at + 20) === buf.length) return true;
    if (at === 0) break;
    at = buf.lastIndexOf(eocd, at - 1);
  }
  return false;
}

/** Leading signatures of binary web asset types: the content must match the extension. */
const ASSET_SIGNATURES: Readonly<Record<string, (buf: Buffer) => boolean>> = {
  '.png': (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  '.jpg': (b) => startsWith(b, [0xff, 0xd8, 0xff]),
  '.jpeg': (b) => startsWith(b, [0xff, 0xd8, 0xff]),
  '.gif': (b) => startsWith(b, [0x47, 0x49, 0x46, 0x38]),
  '.webp': (b) => startsWith(b, [0x52, 0x49, 0x46, 0x46]) && b.toString('latin1', 8, 12) === 'WEBP',
  '.ico': (b) => startsWith(b, [0x00, 0x00, 0x01, 0x00]),
  '.woff': (b) => startsWith(b, [0x77, 0x4f, 0x46, 0x46]),
  '.woff2': (b) => startsWith(b, [0x77, 0x4f, 0x46, 0x32]),
  '.wasm': (b) => startsWith(b, [0x00, 0x61, 0x73, 0x6d]),
};

/** A problem when a binary web asset's bytes do not match its extension (e.g. a zip named .png). */
export function assetContentProblem(rel: string, buf: Buffer): string | undefined {
  const ext = path.posix.extname(rel).toLowerCase();
  const check = ASSET_SIGNATURES[ext];
  if (check && !check(buf)) return `content does not match its ${ext} extension: ${rel}`;
  return undefined;
}

/** A `//# sourceMappingURL=` (or `@`) comment: a web file pointing at its source map. */
export const SOURCE_MAP_COMMENT = /[#@]\s*sourceMappingURL\s*=/;

/** A Go package clause on its own line, plus an import, function or type declaration. */
const GO_PACKAGE_CLAUSE = /^\s*package\s+[A-Za-z_]\w*\s*$/m;
const GO_BODY = /^\s*(?:import\s*[("]|func\s|type\s+\w+\s+(?:struct|interface)\b)/m;

/** True when text reads as Go source, whatever the file is called. */
export function looksLikeGoSource(text: string): boolean {
  return GO_PACKAGE_CLAUSE.test(text) && GO_BODY.test(text);
}

/**
 * A problem when a delivered web file carries source code under an innocent name (e.g. `main.go`
 * copied to `web/notes.txt`): extensions alone cannot enforce "source is never delivered".
 */
export function embeddedSourceProblem(rel: string, buf: Buffer): string | undefined {
  if (buf.length > 4 * 1024 * 1024) return undefined;
  if (looksLikeGoSource(buf.toString('utf8'))) return `file contains source code: ${rel}`;
  return undefined;
}

/** A problem when a script/style/page carries a `sourceMappingURL` comment. */
export function sourceMapCommentProblem(rel: string, buf: Buffer): string | undefined {
  const ext = path.posix.extname(rel).toLowerCase();
  if (!SOURCE_MAP_CARRIERS.has(ext)) return undefined;
  if (SOURCE_MAP_COMMENT.test(buf.toString('latin1'))) return `sourceMappingURL comment: ${rel}`;
  return undefined;
}

/**
 * Literal markers of build machines' paths. A binary built with `-trimpath` contains only
 * module-relative file names (`example.com/tool/main.go`, `fmt/print.go`); one built without it
 * contains absolute ones (`/home/u/src/tool/main.go`, `/usr/lib/go/src/fmt/print.go`).
 */
export const DEFAULT_BUILD_PATH_MARKERS: readonly string[] = [
  '/home/',
  '/root/',
  '/tmp/',
  '/work/',
  '/builds/',
  '/Users/',
  '/go/pkg/mod/',
  '/usr/local/go/src/',
  '/usr/lib/go/src/',
  'C:\\Users\\',
  'C:/Users/',
];

const PATH_CHAR = 'A-Za-z0-9_.@+~\\-';
/** An absolute POSIX path to a source file: `/dir/.../file.go` not preceded by a path character. */
const ABSOLUTE_SOURCE_PATH = new RegExp(
  `(?<![${PATH_CHAR}/])/(?:[${PATH_CHAR}]{1,255}/){1,64}[${PATH_CHAR}]{1,255}\\.(?:go|c|h|rs|py|ts|java)(?![A-Za-z0-9_])`,
  'g',
);
/** An absolute Windows path to a source file: `X:\dir\file.go` or `X:/dir/file.go`. */
const WINDOWS_SOURCE_PATH = new RegExp(
  `(?<![A-Za-z0-9])[A-Za-z]:[\\\\/](?:[${PATH_CHAR} ]{1,255}[\\\\/]){0,64}[${PATH_CHAR}]{1,255}\\.(?:go|c|h|rs|py|ts|java)(?![A-Za-z0-9_])`,
  'g',
);

/**
 * Build paths inside a file's bytes: every `forbiddenStrings` entry (the worktree path, branch
 * name…; reported as `forbidden string #<1-based index>`, never echoed, since one may be a
 * secret), literal `markers` and, when `sourcePaths`, absolute paths of source files (both
 * reported with the printable text found). Returns up to `max` findings.
 */
export function findBuildPaths(
  buf: Buffer,
  opts: {
    markers: readonly string[];
    forbiddenStrings: readonly string[];
    sourcePaths: boolean;
    max?: number;
  },
): string[] {
  const max = opts.max ?? 5;
  const findings: string[] = [];
  /** The printable run starting at `at` (at least `min` bytes, at most 120). */
  const snippet = (at: number, min: number): string => {
    let end = at;
    const limit = Math.min(buf.length, at + 120);
    while (end < limit && (end < at + min || ((buf[end] ?? 0) >= 0x20 && (buf[end] ?? 0) <= 0x7e))) end++;
    return JSON.stringify(buf.toString('latin1', at, end).replace(/[^\x20-\x7e]/g, '?'));
  };
  for (const [i, s] of opts.forbiddenStrings.entries()) {
    if (s.length < 3) continue;
    // Reported by position only: a forbidden string may be a secret and must not be echoed.
    if (buf.includes(Buffer.from(s, 'utf8'))) findings.push(`forbidden string #${i + 1}`);
    if (findings.length >= max) return findings;
  }
  for (const m of opts.markers) {
    const at = buf.indexOf(Buffer.from(m, 'utf8'));
    if (at >= 0) findings.push(`build path marker ${JSON.stringify(m)} in ${snippet(at, m.length)}`);
    if (findings.length >= max) return findings;
  }
  if (opts.sourcePaths) {
    const text = buf.toString('latin1');
    for (const re of [ABSOLUTE_SOURCE_PATH, WINDOWS_SOURCE_PATH]) {
      re.lastIndex = 0;
      for (const match of text.matchAll(re)) {
        findings.push(`absolute source path ${snippet(match.index ?? 0, match[0].length)}`);
        if (findings.length >= max) return findings;
      }
    }
  }
  return findings;
}
