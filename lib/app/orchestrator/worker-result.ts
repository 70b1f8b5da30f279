import { z } from 'zod';
import { keys } from '../../aws/keys.ts';
import type { FailureCode } from '../../domain/status.ts';
import { log } from '../../log.ts';
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
  /** The worker id of the attempt's lease (worker-image/src/result.ts); absent before the assignment. */
  workerId: z.string().max(100).optional(),
  render: z.array(RenderRecordSchema).max(MAX_RENDER_RECORDS).optional().catch(undefined),
  /** The commit the worker pushed (the version's commit once verified and published). */
  commit: z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .optional()
    .catch(undefined),
});
export type WorkerResult = z.infer<typeof WorkerResultSchema>;

/**
 * The worker's result, or undefined when it wrote none (crash, timeout). A result written by
 * another worker than the attempt's (`expectedWorkerId`, the run's `workerId`: a stale attempt) is
 * refused: it counts as no result and is logged.
 */
export async function readWorkerResult(
  artifacts: ArtifactStore,
  runId: string,
  attempt: number,
  expectedWorkerId?: string,
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
  if (!parsed.success) return { ok: false, reason: 'the worker result was not valid' };
  const writer = parsed.data.workerId;
  if (writer !== undefined && expectedWorkerId !== undefined && writer !== expectedWorkerId) {
    log.warn('ignored the result of a stale worker', { runId, attempt, workerId: writer, expectedWorkerId });
    return undefined;
  }
  return parsed.data;
}

export interface WorkerFailure {
  code: Extract<
    FailureCode,
    'no_matching_recipe' | 'worker_failed' | 'timeout' | 'internal_error' | 'infrastructure'
  >;
  /** Whether a repair attempt (the coder, given the reason) can fix it. */
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

/** Worker result codes that name an infrastructure failure, not the artifact's own. */
const INFRASTRUCTURE_CODES = new Set(['infrastructure', 'stale_attempt']);
/** ECS stop codes of a task that never ran the worker (capacity, image pull, networking). */
const INFRASTRUCTURE_STOP_CODES = new Set([
  'TaskFailedToStart',
  'SpotInterruption',
  'ServiceSchedulerInitiated',
]);

function ecsStopCode(cause: string | undefined): string | undefined {
  try {
    return (JSON.parse(cause ?? '') as { StopCode?: string }).StopCode;
  } catch {
    return undefined;
  }
}

/**
 * Classifies a failed worker attempt from its own result and/or the task error. Infrastructure
 * failures (the worker's clone, push or upload failed, the store could not be read, the task never
 * started) are `infrastructure`: not repairable by the coder, retried as such by the state machine.
 */
export function classifyWorkerFailure(
  result: WorkerResult | undefined,
  workerError: TaskErrorLike | undefined,
): WorkerFailure {
  const stopCode = ecsStopCode(workerError?.Cause);
  if (
    (result && !result.ok && INFRASTRUCTURE_CODES.has(result.code ?? '')) ||
    (!result && stopCode !== undefined && INFRASTRUCTURE_STOP_CODES.has(stopCode))
  ) {
    const detail = result
      ? `${result.code}: ${result.reason ?? 'no reason given'}`
      : `worker task ${workerError?.Error} (${describeEcsCause(workerError?.Cause) ?? stopCode})`;
    return { code: 'infrastructure', repairable: false, reason: clip(`infrastructure: ${detail}`) };
  }
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
