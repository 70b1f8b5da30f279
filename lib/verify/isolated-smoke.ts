import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { type BinarySmokeResult, SMOKE_SANDBOX_KINDS, smokeBinary } from './smoke-binary.ts';

/** The largest binary the smoke function accepts (the verifier's per-artifact limit). */
export const MAX_SMOKE_BINARY_BYTES = 128 * 1024 * 1024;

/**
 * The SmokeBinary function's input: a short-lived presigned GET of one staged candidate binary,
 * plus the manifest's sha256 and size of the bytes VerifyArtifacts verified. Options as in
 * {@link smokeBinary}.
 */
export const SmokeRequestSchema = z.strictObject({
  url: z.string().url(),
  sha256: z.string().regex(/^[a-f0-9]{64}$/),
  sizeBytes: z.number().int().nonnegative().max(MAX_SMOKE_BINARY_BYTES),
  // Two attempts plus the download stay within the function timeout (90 s).
  timeoutMs: z.number().int().min(100).max(25_000).optional(),
  maxOutputBytes: z
    .number()
    .int()
    .min(256)
    .max(256 * 1024)
    .optional(),
});
export type SmokeRequest = z.infer<typeof SmokeRequestSchema>;

/** The SmokeBinary function's response (a {@link BinarySmokeResult}); VerifyArtifacts parses it. */
export const BINARY_SMOKE_RESULT_SCHEMA = z.object({
  passed: z.boolean(),
  problems: z.array(z.string()),
  sandbox: z.enum(SMOKE_SANDBOX_KINDS),
  attempts: z.array(
    z.object({
      args: z.array(z.string()),
      exitCode: z.number().int().nullable(),
      signal: z.string().nullable(),
      timedOut: z.boolean(),
      output: z.string(),
    }),
  ),
});

export interface IsolatedSmokeOptions {
  /** Parent of the download directory (default: the OS temp dir, `/tmp` on Lambda). */
  tempDir?: string;
  /** Accept `http:` URLs (tests with a local server). The function itself accepts only `https:`. */
  allowHttp?: boolean;
  /** Bound on the whole download (default 30 s). */
  downloadTimeoutMs?: number;
  /** `auto` (default) lets {@link smokeBinary} try a namespace; Lambda has none. */
  sandbox?: 'auto' | 'none';
  /**
   * Before and after the smoke, kill every process this one did not start before it (a binary
   * that daemonized out of its process group) and empty the temp dir, so nothing of one candidate
   * survives into the next invocation of a warm environment. Only for the Lambda function: in a
   * shared process table it would kill unrelated processes.
   */
  resetEnvironment?: boolean;
  fetch?: typeof fetch;
}

/** A candidate fault: the result fails with this problem, nothing was run. */
function refused(problem: string): BinarySmokeResult {
  return { passed: false, problems: [problem], sandbox: 'isolated-lambda', attempts: [] };
}

class CandidateFault extends Error {}

/**
 * The SmokeBinary function's work: download the presigned object to a fresh directory (streamed,
 * cut off above `sizeBytes`), check its size and sha256 against the manifest, make it executable,
 * run {@link smokeBinary} on it and delete it. Returns the smoke result with `sandbox:
 * 'isolated-lambda'`. A wrong size or digest is a failed result (a candidate fault); an invalid
 * request, an HTTP error or a network failure throws (the caller's or the infrastructure's fault).
 */
export async function isolatedSmoke(
  input: unknown,
  opts: IsolatedSmokeOptions = {},
): Promise<BinarySmokeResult> {
  const req = SmokeRequestSchema.parse(input);
  const url = new URL(req.url);
  if (url.protocol !== 'https:' && !(opts.allowHttp && url.protocol === 'http:')) {
    throw new Error(`SmokeBinary: refusing a ${url.protocol} URL (https only)`);
  }
  const tempDir = opts.tempDir ?? os.tmpdir();
  if (opts.resetEnvironment) await resetEnvironment(tempDir);
  const dir = await mkdtemp(path.join(tempDir, 'smoke-dl-'));
  try {
    const file = path.join(dir, 'candidate');
    try {
      await download(url, file, req, opts);
    } catch (err) {
      if (err instanceof CandidateFault) return refused(err.message);
      throw err;
    }
    const r = await smokeBinary({
      file,
      timeoutMs: req.timeoutMs,
      maxOutputBytes: req.maxOutputBytes,
      sandbox: opts.sandbox,
    });
    return { ...r, sandbox: 'isolated-lambda' };
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (opts.resetEnvironment) await resetEnvironment(tempDir);
  }
}

async function download(
  url: URL,
  file: string,
  req: SmokeRequest,
  opts: IsolatedSmokeOptions,
): Promise<void> {
  const res = await (opts.fetch ?? fetch)(url, {
    redirect: 'error',
    signal: AbortSignal.timeout(opts.downloadTimeoutMs ?? 30_000),
  });
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`SmokeBinary: download failed with HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared !== req.sizeBytes) {
    await res.body.cancel().catch(() => undefined);
    throw new CandidateFault(`the staged binary has ${declared} bytes, the manifest says ${req.sizeBytes}`);
  }
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > req.sizeBytes) {
        done(new CandidateFault(`the staged binary is larger than the manifest's ${req.sizeBytes} bytes`));
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(
    Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
    meter,
    createWriteStream(file, { mode: 0o600 }),
  );
  if (size !== req.sizeBytes) {
    throw new CandidateFault(`the staged binary has ${size} bytes, the manifest says ${req.sizeBytes}`);
  }
  const digest = hash.digest('hex');
  if (digest !== req.sha256) {
    throw new CandidateFault('the staged binary does not match the manifest sha256');
  }
}

/** Start time (clock ticks since boot) of a process, from `/proc/<pid>/stat`; undefined if gone. */
async function startTime(pid: number | 'self'): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; starttime is field 22 (index 19 after it).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const value = Number(rest[19]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Kills leftovers of earlier smokes (processes started after this one) and empties `tempDir`. */
async function resetEnvironment(tempDir: string): Promise<void> {
  if (process.platform === 'linux') {
    const own = await startTime('self');
    const pids = (await readdir('/proc').catch(() => [] as string[]))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .filter((pid) => pid !== process.pid);
    for (const pid of pids) {
      const started = await startTime(pid);
      if (own === undefined || started === undefined || started <= own) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, or not ours
      }
    }
  }
  for (const name of await readdir(tempDir).catch(() => [] as string[])) {
    await rm(path.join(tempDir, name), { recursive: true, force: true }).catch(() => undefined);
  }
}
