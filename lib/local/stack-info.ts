import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * The dummy credentials every client of the local emulators uses (s3rver accepts only its built-in
 * `S3RVER` key pair; dynalite and the local Step Functions endpoint accept anything). Not secrets.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** File name of the stack info under the data dir. */
export const STACK_INFO_FILE = 'local-stack.json';

const url = z.url({ protocol: /^https?$/ });

/**
 * What a running local stack (`npm start`) tells the operator CLI: where its endpoints listen and
 * which resources it serves. Written at start, removed at a clean stop. It never holds secrets
 * (no session secret, no keys): the file is for addresses and names only.
 */
export const LocalStackInfoSchema = z
  .object({
    /** Base URL of the local API gateway (portal + `/api/v1`), e.g. `http://127.0.0.1:3000`. */
    apiUrl: url,
    /** Base URL of the preview origin (a separate port). */
    previewUrl: url.optional(),
    dynamoEndpoint: url,
    s3Endpoint: url,
    /** Local Step Functions endpoint; absent when the stack runs without one. */
    sfnEndpoint: url.optional(),
    stateMachineArn: z.string().min(1).optional(),
    region: z.string().min(1),
    tableName: z.string().min(1),
    buckets: z
      .object({ staging: z.string().min(1), artifacts: z.string().min(1), evidence: z.string().min(1) })
      .strict(),
    /** Path of the template's bare repository (`templateBareDir(dataDir)`). */
    repoDir: z.string().min(1),
    /** Absolute path of the data dir the stack uses. */
    dataDir: z.string().min(1),
    /** Process id of the stack; the CLI treats the stack as stopped when it is not alive. */
    pid: z.number().int().positive(),
    startedAt: z.string().min(1),
  })
  .strict();
export type LocalStackInfo = z.infer<typeof LocalStackInfoSchema>;

export function stackInfoPath(dataDir: string): string {
  return join(dataDir, STACK_INFO_FILE);
}

/** Writes `<dataDir>/local-stack.json` atomically with mode 0600. */
export async function writeStackInfo(dataDir: string, info: LocalStackInfo): Promise<string> {
  const valid = LocalStackInfoSchema.parse(info);
  await mkdir(dataDir, { recursive: true });
  const file = stackInfoPath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(valid, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
  return file;
}

export class StackInfoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackInfoError';
  }
}

/**
 * Reads the stack info; `undefined` when the file does not exist. A file that is not valid JSON or
 * does not match the schema throws StackInfoError (it is not silently treated as "not running").
 */
export async function readStackInfo(dataDir: string): Promise<LocalStackInfo | undefined> {
  const file = stackInfoPath(dataDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new StackInfoError(`${file} is not valid JSON`);
  }
  const parsed = LocalStackInfoSchema.safeParse(json);
  if (!parsed.success) throw new StackInfoError(`${file} does not describe a local stack`);
  return parsed.data;
}

/**
 * Removes the stack info. With `pid`, only when the file still names that process (a stack that
 * stops must not remove the file of another stack started on the same data dir since).
 */
export async function removeStackInfo(dataDir: string, pid?: number): Promise<void> {
  if (pid !== undefined) {
    const info = await readStackInfo(dataDir).catch(() => undefined);
    if (info && info.pid !== pid) return;
  }
  await rm(stackInfoPath(dataDir), { force: true });
}
