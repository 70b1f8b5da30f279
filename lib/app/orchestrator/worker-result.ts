import { z } from 'zod';
import { keys } from '../../aws/keys.ts';
import type { FailureCode } from '../../domain/status.ts';
import { MAX_RENDER_RECORDS, RenderRecordSchema } from '../../verify/render-evidence.ts';
import type { ArtifactStore } from './ports.ts';
import { clip } from './state.ts';

/**
 * The worker's own report of an attempt (worker-image/src/result.ts). Extra fields are ignored.
 * `repairable: false` marks a failure no repair attempt can fix (e.g. the worker image lacks
 * Chromium while `RENDER_CHECK=required`). `render`: the worker's render evidence, one record per
 * web artifact (lib/verify/render-evidence.ts); optional (older workers wrote none), and a
 * malformed list counts as no evidence rather than as an unreadable result.
 */
export const WorkerResultSchema = z.object({
  ok: z.boolean(),
  code: z.string().max(100).optional(),
  reason: z.string().optional(),
  repairable: z.boolean().optional(),
  render: z.array(RenderRecordSchema).max(MAX_RENDER_RECORDS).optional().catch(undefined),
  /** The commit the worker pushed (the version's commit once verified and published). */
  commit: z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .optional()
    .catch(undefined),
});
export type WorkerResult = z.infer<typeof WorkerResultSchema>;

/** The worker's result, or undefined when it wrote none (crash, timeout) or it is unreadable. */
export async function readWorkerResult(
  artifacts: ArtifactStore,
  runId: string,
  attempt: number,
): Promise<WorkerResult | undefined> {
  let json: unknown;
  try {
    json = await artifacts.getJson('evidence', keys.workerResult(runId, attempt));
  } catch (err) {
    if ((err as Error).name === 'InvalidJsonObjectError')
      return { ok: false, reason: 'the worker result was not JSON' };
    throw err;
  }
  if (json === undefined) return undefined;
  const parsed = WorkerResultSchema.safeParse(json);
  return parsed.success ? parsed.data : { ok: false, reason: 'the worker result was not valid' };
}

export interface WorkerFailure {
  code: Extract<FailureCode, 'no_matching_recipe' | 'worker_failed' | 'timeout' | 'internal_error'>;
  repairable: boolean;
  /** Internal only. */
  reason: string;
}

interface TaskErrorLike {
  Error: string;
  Cause?: string | undefined;
}

/** Reads the interesting parts of an `ecs:runTask.sync` failure cause (a JSON task description). */
function describeEcsCause(cause: string | undefined): string | undefined {
  if (!cause) return undefined;
  try {
    const task = JSON.parse(cause) as {
      StoppedReason?: string;
      StopCode?: string;
      Containers?: { Name?: string; ExitCode?: number; Reason?: string }[];
    };
    const parts: string[] = [];
    if (task.StopCode) parts.push(`stop code ${task.StopCode}`);
    if (task.StoppedReason) parts.push(task.StoppedReason);
    for (const c of task.Containers ?? []) {
      if (c.ExitCode !== undefined) parts.push(`${c.Name ?? 'container'} exit code ${c.ExitCode}`);
      if (c.Reason) parts.push(c.Reason);
    }
    return parts.length > 0 ? parts.join('; ') : clip(cause, 500);
  } catch {
    return clip(cause, 500);
  }
}

/** Classifies a failed worker attempt from its own result and/or the task error. */
export function classifyWorkerFailure(
  result: WorkerResult | undefined,
  workerError: TaskErrorLike | undefined,
): WorkerFailure {
  if (result?.code === 'no_matching_recipe') {
    return {
      code: 'no_matching_recipe',
      repairable: false,
      reason: clip(`no_matching_recipe: ${result.reason ?? 'no recipe matched the build spec'}`),
    };
  }
  if (result && !result.ok && result.repairable === false) {
    // The worker's environment, not the build, is at fault: repairing cannot help. The customer
    // sees only the fixed `internal_error` sentence; the reason stays internal.
    return {
      code: 'internal_error',
      repairable: false,
      reason: clip(`${result.code ?? 'internal'} (not repairable): ${result.reason ?? 'no reason given'}`),
    };
  }
  const timedOut = workerError?.Error === 'States.Timeout' || result?.code === 'timeout';
  const parts: string[] = [];
  if (result && !result.ok)
    parts.push(`${result.code ?? 'worker_failed'}: ${result.reason ?? 'no reason given'}`);
  if (workerError) {
    const detail = describeEcsCause(workerError.Cause);
    parts.push(`worker task ${workerError.Error}${detail ? ` (${detail})` : ''}`);
  }
  if (parts.length === 0) parts.push('the worker ended without a result');
  return { code: timedOut ? 'timeout' : 'worker_failed', repairable: true, reason: clip(parts.join(' | ')) };
}
