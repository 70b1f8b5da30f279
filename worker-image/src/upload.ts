import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  DeleteObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { keys } from '../../lib/aws/keys.ts';
import { contentTypeFor } from '../../lib/verify/mime.ts';
import { DIST_DIR } from './profile.ts';

/**
 * Uploads the build output — every regular file under `dist/` and nothing else — to the staging
 * candidate prefix `candidates/{run_id}/{attempt}/`. Symbolic links anywhere in dist/ (dist itself
 * included) are refused, never followed; so are devices, sockets and FIFOs. Files are opened with
 * O_NOFOLLOW, so a link swapped in after the listing cannot redirect a read either. The manifest is
 * uploaded last: once it is there, everything it lists is there.
 */

export const MAX_CANDIDATE_FILES = 1000;
export const MAX_CANDIDATE_BYTES = 1024 * 1024 * 1024;
const UPLOAD_CONCURRENCY = 4;

export class CandidateRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CandidateRefusedError';
  }
}

export interface CandidateFile {
  /** Path relative to dist/, `/`-separated. */
  rel: string;
  abs: string;
  size: number;
}

/** Content types come from the one shared map (lib/verify/mime.ts). */
export { contentTypeFor };

/** Every regular file under `<worktree>/dist`, refusing links and special files. */
export async function listCandidateFiles(worktree: string): Promise<CandidateFile[]> {
  const root = path.join(worktree, DIST_DIR);
  const info = await lstat(root).catch(() => undefined);
  if (!info) throw new CandidateRefusedError(`the build produced no ${DIST_DIR}/ folder`);
  if (info.isSymbolicLink()) throw new CandidateRefusedError(`${DIST_DIR}/ is a symbolic link`);
  if (!info.isDirectory()) throw new CandidateRefusedError(`${DIST_DIR} is not a folder`);

  const files: CandidateFile[] = [];
  let total = 0;
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      const abs = path.join(dir, entry.name);
      if (entry.name.includes('\\')) {
        throw new CandidateRefusedError(`${DIST_DIR}/${rel} has a name that cannot be uploaded`);
      }
      if (entry.isSymbolicLink()) throw new CandidateRefusedError(`${DIST_DIR}/${rel} is a symbolic link`);
      if (entry.isDirectory()) {
        await walk(abs, rel);
        continue;
      }
      if (!entry.isFile()) throw new CandidateRefusedError(`${DIST_DIR}/${rel} is not a regular file`);
      const size = (await lstat(abs)).size;
      total += size;
      files.push({ rel, abs, size });
      if (files.length > MAX_CANDIDATE_FILES) {
        throw new CandidateRefusedError(`${DIST_DIR}/ has more than ${MAX_CANDIDATE_FILES} files`);
      }
      if (total > MAX_CANDIDATE_BYTES) {
        throw new CandidateRefusedError(`${DIST_DIR}/ is larger than ${MAX_CANDIDATE_BYTES} bytes`);
      }
    }
  };
  await walk(root, '');
  if (files.length === 0) throw new CandidateRefusedError(`${DIST_DIR}/ is empty`);
  return files;
}

/** Reads a file without following a symbolic link and checks it is still a regular file. */
export async function readRegularFile(abs: string): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new CandidateRefusedError('a candidate file became a symbolic link');
    }
    throw err;
  }
  try {
    if (!(await handle.stat()).isFile())
      throw new CandidateRefusedError('a candidate file is not a regular file');
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

export type PutObject = (input: { key: string; body: Buffer; contentType: string }) => Promise<void>;

export function s3Put(s3: S3Client, bucket: string): PutObject {
  return async ({ key, body, contentType }) => {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ContentLength: body.length,
      }),
    );
  };
}

export interface UploadResult {
  files: number;
  bytes: number;
  prefix: string;
}

/**
 * Lists and uploads the candidate. `manifestRel` (relative to dist/) must be among the files and
 * is uploaded last.
 */
export async function uploadCandidate(opts: {
  worktree: string;
  runId: string;
  attempt: number;
  manifestRel: string;
  put: PutObject;
  log?: (line: string) => void;
}): Promise<UploadResult> {
  const files = await listCandidateFiles(opts.worktree);
  const manifest = files.find((f) => f.rel === opts.manifestRel);
  if (!manifest) throw new CandidateRefusedError('the manifest is not in the build output');
  const rest = files.filter((f) => f !== manifest);
  let bytes = 0;
  const upload = async (file: CandidateFile) => {
    const body = await readRegularFile(file.abs);
    await opts.put({
      key: keys.candidate(opts.runId, opts.attempt, file.rel),
      body,
      contentType: contentTypeFor(file.rel),
    });
    bytes += body.length;
    opts.log?.(`uploaded ${DIST_DIR}/${file.rel} (${body.length} bytes)`);
  };
  let next = 0;
  const lanes = Array.from({ length: Math.min(UPLOAD_CONCURRENCY, rest.length) }, async () => {
    while (next < rest.length) await upload(rest[next++]!);
  });
  await Promise.all(lanes);
  await upload(manifest);
  return { files: files.length, bytes, prefix: keys.candidatePrefix(opts.runId, opts.attempt) };
}

/**
 * Removes objects left under an attempt's candidate prefix by an earlier run of the same attempt
 * (e.g. a task that was retried after a crash), so the candidate is exactly this build's output.
 * Returns how many objects were removed.
 */
export async function clearCandidatePrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let removed = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (!object.Key?.startsWith(prefix)) continue;
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
      removed++;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return removed;
}
