import { chmod, lstat, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { AcceptanceChecksSchema } from '../../../lib/domain/acceptance.ts';
import { ArtifactTypeSchema } from '../../../lib/domain/build-spec.ts';
import type { CommandUser } from '../command-user.ts';

/**
 * The self-check file: what the `self-check` command of the worker program
 * (self-check-command.ts) needs to run the gate's checks on an external agent's current build —
 * the approved checks, the artifact type, the worktree and its `dist/`, and the browser. The
 * worker writes it outside the worktree, in a fresh directory of its own (0711: traversable, not
 * listable or writable by anyone else) as a read-only file (0444), so the agent can read and run
 * it; run as `COMMAND_USER` it cannot alter it (without one the agent runs as the worker's own
 * user, who could — harmless, as the gate trusts nothing of it). It is read back strictly: any other key,
 * a relative path or an oversize file is refused. Nothing in it is secret; nothing the
 * self-check reports is ever trusted by the gate.
 */

export const SELF_CHECK_FILE_VERSION = 1;
export const SELF_CHECK_FILE_NAME = 'self-check.json';
/** Far above any real file (≤ 8 bounded checks); a larger file is refused unread. */
export const MAX_SELF_CHECK_FILE_BYTES = 256 * 1024;

const AbsolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine(
    (p) => path.isAbsolute(p) && path.normalize(p) === p && !p.includes('\0'),
    'must be an absolute, normalized path',
  );

export const SelfCheckFileSchema = z
  .object({
    version: z.literal(SELF_CHECK_FILE_VERSION),
    /** The agent's worktree (real path). */
    worktree: AbsolutePath,
    /** The build's output, `<worktree>/dist`. */
    distDir: AbsolutePath,
    artifactType: ArtifactTypeSchema,
    /** The approved checks that apply to the artifact type. */
    checks: AcceptanceChecksSchema,
    /** Chromium for the render and web checks; `false`: none (those checks are skipped). */
    browser: z.union([AbsolutePath, z.literal(false)]),
  })
  .strict()
  .refine((f) => f.distDir === path.join(f.worktree, 'dist'), {
    message: 'distDir must be the worktree’s dist/',
    path: ['distDir'],
  });
export type SelfCheckFile = z.infer<typeof SelfCheckFileSchema>;
export type SelfCheckFileInput = z.input<typeof SelfCheckFileSchema>;

export class SelfCheckFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelfCheckFileError';
  }
}

/** Text → validated file, or a {@link SelfCheckFileError} naming the first problems. */
export function parseSelfCheckFile(text: string): SelfCheckFile {
  if (Buffer.byteLength(text) > MAX_SELF_CHECK_FILE_BYTES) {
    throw new SelfCheckFileError(`the self-check file is over ${MAX_SELF_CHECK_FILE_BYTES} bytes`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SelfCheckFileError('the self-check file is not valid JSON');
  }
  const parsed = SelfCheckFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`)
      .join('; ');
    throw new SelfCheckFileError(`the self-check file is invalid (${problems.slice(0, 600)})`);
  }
  return parsed.data;
}

/** Reads and validates a self-check file: a regular file (no symlink), at most the size limit. */
export async function readSelfCheckFile(file: string): Promise<SelfCheckFile> {
  const info = await lstat(file).catch(() => undefined);
  if (!info) throw new SelfCheckFileError(`cannot read the self-check file ${file}`);
  if (!info.isFile()) throw new SelfCheckFileError('the self-check file is not a regular file');
  if (info.size > MAX_SELF_CHECK_FILE_BYTES) {
    throw new SelfCheckFileError(`the self-check file is over ${MAX_SELF_CHECK_FILE_BYTES} bytes`);
  }
  let text: string;
  try {
    const handle = await open(file, 'r');
    try {
      const buf = Buffer.alloc(MAX_SELF_CHECK_FILE_BYTES + 1);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    throw new SelfCheckFileError(`cannot read the self-check file ${file}`);
  }
  return parseSelfCheckFile(text);
}

export interface WrittenSelfCheckFile {
  /** The file's absolute path (what the agent passes to `self-check`). */
  file: string;
  /** Removes the file and its directory (never throws). */
  remove: () => Promise<void>;
}

/**
 * Writes `content` (validated first) as `<fresh dir>/self-check.json`: the directory 0711 under
 * `parent` (default: the worker's tmpdir, outside any worktree), the file 0444, both the
 * writer's. With `user` every directory above the file must let that user through (else a
 * {@link SelfCheckFileError}): the agent runs as the user and must reach the file.
 */
export async function writeSelfCheckFile(
  content: SelfCheckFileInput,
  opts: { parent?: string; user?: CommandUser } = {},
): Promise<WrittenSelfCheckFile> {
  const valid = SelfCheckFileSchema.parse(content);
  const dir = await mkdtemp(path.join(opts.parent ?? tmpdir(), 'busdk-self-check-'));
  const remove = () => rm(dir, { recursive: true, force: true }).catch(() => undefined);
  try {
    await chmod(dir, 0o711);
    const file = path.join(dir, SELF_CHECK_FILE_NAME);
    await writeFile(file, `${JSON.stringify(valid)}\n`, { flag: 'wx', mode: 0o444 });
    await chmod(file, 0o444);
    if (opts.user) {
      const problem = await unreachableBy(dir, opts.user);
      if (problem) throw new SelfCheckFileError(problem);
    }
    return { file, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** Why `user` cannot traverse down to `dir` (each directory needs its x bit for the user). */
async function unreachableBy(dir: string, user: CommandUser): Promise<string | undefined> {
  let current = path.resolve(dir);
  for (;;) {
    const info = await stat(current);
    const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if ((info.mode & bit) === 0) return `the command user cannot reach ${current}`;
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}
