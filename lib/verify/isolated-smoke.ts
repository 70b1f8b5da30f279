import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { CheckOutcomeSchema, CliCheckSchema, MAX_CHECKS } from '../domain/acceptance.ts';
import { cliOutcome, runCliChecks } from './acceptance/cli-runner.ts';
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

/** The budget of the checks of one invocation (sum of their timeouts): with the download, within 90 s. */
export const MAX_CHECKS_BUDGET_MS = 50_000;

/**
 * The SmokeBinary function's second request kind: run acceptance cli checks
 * (lib/domain/acceptance.ts) on the same presigned, digest-checked binary, as the smoke runs it.
 * The checks' timeouts add up to at most {@link MAX_CHECKS_BUDGET_MS} (the invoker splits).
 */
export const CliChecksRequestSchema = z
  .strictObject({
    kind: z.literal('cli-checks'),
    url: z.string().url(),
    sha256: z.string().regex(/^[a-f0-9]{64}$/),
    sizeBytes: z.number().int().nonnegative().max(MAX_SMOKE_BINARY_BYTES),
    /** The binary's platform, each outcome's `ranOn`. */
    platform: z.string().min(1).max(40),
    checks: z.array(CliCheckSchema).min(1).max(MAX_CHECKS),
    maxOutputBytes: z
      .number()
      .int()
      .min(256)
      .max(256 * 1024)
      .optional(),
  })
  .refine((r) => r.checks.reduce((t, c) => t + c.timeoutMs, 0) <= MAX_CHECKS_BUDGET_MS, {
    message: `the checks' timeouts add up to more than ${MAX_CHECKS_BUDGET_MS} ms`,
  });
export type CliChecksRequest = z.input<typeof CliChecksRequestSchema>;

/** The function's answer to a {@link CliChecksRequest}. */
export const CLI_CHECKS_RESULT_SCHEMA = z.object({ outcomes: z.array(CheckOutcomeSchema) });
export type CliChecksResult = z.infer<typeof CLI_CHECKS_RESULT_SCHEMA>;

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
   * shared process table it would kill unrelated processes, so it takes effect only where
   * `AWS_LAMBDA_FUNCTION_NAME` is set (see {@link resetEnvironment}).
   */
  resetEnvironment?: boolean;
  fetch?: typeof fetch;
}

/** A candidate fault: the result fails with this problem, nothing was run. */
function refused(problem: string): BinarySmokeResult {
  return { passed: false, problems: [problem], sandbox: 'isolated-lambda', attempts: [] };
}

/** The downloaded bytes are not what the manifest says: a candidate fault, not the runner's. */
export class CandidateFault extends Error {}

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
  return withVerifiedDownload(req, opts, refused, async (file) => {
    const r = await smokeBinary({
      file,
      timeoutMs: req.timeoutMs,
      maxOutputBytes: req.maxOutputBytes,
      sandbox: opts.sandbox,
    });
    return { ...r, sandbox: 'isolated-lambda' };
  });
}

/**
 * The function's cli-checks work: the same verified download as {@link isolatedSmoke}, then
 * {@link runCliChecks} on it (each check in its own scratch copy). A wrong size or digest fails
 * every check with that reason; an invalid request or a failed download throws.
 */
export async function isolatedCliChecks(
  input: unknown,
  opts: IsolatedSmokeOptions = {},
): Promise<CliChecksResult> {
  const req = CliChecksRequestSchema.parse(input);
  const refuse = (problem: string): CliChecksResult => ({
    outcomes: req.checks.map((c) => cliOutcome(c.id, req.platform, [problem], 0)),
  });
  return withVerifiedDownload(req, opts, refuse, async (file) => ({
    outcomes: await runCliChecks({
      binary: file,
      platform: req.platform,
      checks: req.checks,
      ...(opts.sandbox && { sandbox: opts.sandbox }),
      ...(req.maxOutputBytes !== undefined && { maxOutputBytes: req.maxOutputBytes }),
    }),
  }));
}

/**
 * Downloads the presigned object to a fresh directory (https only), checks its size and sha256,
 * hands it to `use` and deletes it; with `resetEnvironment`, nothing of an earlier candidate
 * survives before or after. A candidate fault (wrong size or digest) becomes `refuse(problem)`.
 */
async function withVerifiedDownload<T>(
  req: { url: string; sha256: string; sizeBytes: number },
  opts: IsolatedSmokeOptions,
  refuse: (problem: string) => T,
  use: (file: string) => Promise<T>,
): Promise<T> {
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
      await downloadVerified(url, file, req, opts);
    } catch (err) {
      if (err instanceof CandidateFault) return refuse(err.message);
      throw err;
    }
    return await use(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (opts.resetEnvironment) await resetEnvironment(tempDir);
  }
}

/** Streams a presigned GET to `file`, cut off above `sizeBytes`; size or digest wrong: {@link CandidateFault}. */
export async function downloadVerified(
  url: URL,
  file: string,
  req: { sha256: string; sizeBytes: number },
  opts: Pick<IsolatedSmokeOptions, 'fetch' | 'downloadTimeoutMs'>,
  what = 'the staged binary',
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
    throw new CandidateFault(`${what} has ${declared} bytes, the manifest says ${req.sizeBytes}`);
  }
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > req.sizeBytes) {
        done(new CandidateFault(`${what} is larger than the manifest's ${req.sizeBytes} bytes`));
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
    throw new CandidateFault(`${what} has ${size} bytes, the manifest says ${req.sizeBytes}`);
  }
  const digest = hash.digest('hex');
  if (digest !== req.sha256) {
    throw new CandidateFault(`${what} does not match the manifest sha256`);
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

/**
 * Whether this process runs as a Lambda function: the runtime sets `AWS_LAMBDA_FUNCTION_NAME` in
 * every function's environment (and nothing of this project sets it elsewhere).
 */
export function inLambda(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
}

/**
 * Kills leftovers of earlier smokes (processes started after this one) and empties `tempDir`.
 * Only inside Lambda ({@link inLambda}), where the process table and `/tmp` belong to this one
 * function: run anywhere else (a handler called on a laptop or in a test run) it would kill
 * unrelated processes and wipe the machine's temp dir, so there it does nothing and returns
 * false.
 */
export async function resetEnvironment(tempDir: string): Promise<boolean> {
  if (!inLambda()) return false;
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
  return true;
}
