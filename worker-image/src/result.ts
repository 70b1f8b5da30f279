import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { keys } from '../../lib/aws/keys.ts';
import { CoderReportSchema } from '../../lib/domain/coder-report.ts';
import { MAX_RENDER_RECORDS, RenderRecordSchema } from '../../lib/verify/render-evidence.ts';

/**
 * `runs/{run_id}/{attempt}/result.json` in the evidence bucket: how the attempt ended, read by the
 * orchestrator (RecordWorkerFailure) to decide between repair and failure. Internal only —
 * `reason` may quote compiler output; `summary` is the coder's short description.
 * `repairable: false` (on a failure): no repair attempt can fix it (e.g. `RENDER_CHECK=required`
 * and the image lacks Chromium); the orchestrator fails the run with `internal_error`.
 * `render` (on success): the render evidence, per web artifact `{ artifact_id, status, digest }`
 * with the directory digest of the rendered files (lib/verify/render-evidence.ts); the gate
 * (`RENDER_EVIDENCE=worker`) accepts it in place of its own render for exactly those bytes.
 * `coder` (model and command coders, success or failure): steps, tokens by kind, budget left and
 * why the coder stopped (lib/domain/coder-report.ts), for `bus-build show`.
 */
export const WORKER_FAILURE_CODES = [
  'no_matching_recipe',
  'coder_failed',
  'build_failed',
  'tests_failed',
  'internal',
  /** The worker's infrastructure failed (clone, push, upload, the store): retried, not repaired. */
  'infrastructure',
  /** A newer attempt holds the run (the lease is stale): this attempt stopped before any effect. */
  'stale_attempt',
] as const;
export type WorkerFailureCode = (typeof WORKER_FAILURE_CODES)[number];

export const WorkerResultSchema = z
  .object({
    ok: z.boolean(),
    code: z.enum(WORKER_FAILURE_CODES).optional(),
    reason: z.string().max(8000).optional(),
    summary: z.string().max(1000).optional(),
    commit: z
      .string()
      .regex(/^[0-9a-f]{40}$/)
      .optional(),
    repairable: z.literal(false).optional(),
    /** The worker id of the attempt's lease; the orchestrator ignores a result of another worker. */
    workerId: z.string().max(100).optional(),
    render: z.array(RenderRecordSchema).max(MAX_RENDER_RECORDS).optional(),
    coder: CoderReportSchema.optional(),
  })
  .strict();
export type WorkerResult = z.infer<typeof WorkerResultSchema>;

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_NO_MATCHING_RECIPE = 2;

export function exitCodeFor(result: WorkerResult): number {
  if (result.ok) return EXIT_OK;
  return result.code === 'no_matching_recipe' ? EXIT_NO_MATCHING_RECIPE : EXIT_FAILED;
}

/** The result key sits next to the worker log (`keys.workerLog`). */
export function workerResultKey(runId: string, attempt: number): string {
  return keys.workerResult(runId, attempt);
}

/** Writes the log first, then the result (the result is the "attempt finished" marker). */
export async function writeEvidence(opts: {
  s3: S3Client;
  bucket: string;
  runId: string;
  attempt: number;
  logText: string;
  result: WorkerResult;
  /** False: the log only (a stale attempt reports nothing the orchestrator would read). */
  writeResult?: boolean;
}): Promise<void> {
  const result = WorkerResultSchema.parse(opts.result);
  await opts.s3.send(
    new PutObjectCommand({
      Bucket: opts.bucket,
      Key: keys.workerLog(opts.runId, opts.attempt),
      Body: opts.logText,
      ContentType: 'text/plain; charset=utf-8',
    }),
  );
  if (opts.writeResult === false) return;
  await opts.s3.send(
    new PutObjectCommand({
      Bucket: opts.bucket,
      Key: workerResultKey(opts.runId, opts.attempt),
      Body: `${JSON.stringify(result, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );
}
