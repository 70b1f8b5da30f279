import { z } from 'zod';
import { RunIdSchema } from '../../domain/ids.ts';
import { FailureCodeSchema } from '../../domain/status.ts';

/** What a Step Functions `Catch` puts at its `ResultPath`: `{ Error, Cause }`. */
export const TaskErrorSchema = z.object({
  Error: z.string().max(1_000),
  Cause: z.string().max(262_144).optional(),
});
export type TaskError = z.infer<typeof TaskErrorSchema>;

/**
 * The state object of the build-run state machine. Each Lambda task receives the whole object as
 * its payload and returns the next one (`OutputPath: $.Payload`). It carries ids and control
 * flags only; the run itself lives in the run store.
 *
 * - `attempt`: the worker attempt number of the run (cumulative across operator retries, so every
 *   attempt has its own staging and evidence keys); 0 until AssignWorker ran.
 * - `maxAttempts`: `CanRepair` loops back to AssignWorker while `attempt < maxAttempts`.
 * - `passed` / `repairable`: the verification gate's and the repair decision's inputs.
 * - `lastFailure`: INTERNAL reason of the last failed attempt, given to the next worker as
 *   `previousFailure`; never shown to the customer.
 * - `failureCode`: the customer-safe code FailRun records when the loop gives up.
 * - `workerError` / `error`: what `Catch` recorded (RunWorker / any Lambda task).
 * - `retryInfrastructure`: the last attempt failed for an infrastructure reason (clone, push,
 *   upload, the store), not because of the artifact: `CanRepair` waits `retryDelaySeconds`
 *   (exponential backoff) and starts another attempt. Such an attempt does not use up a repair
 *   attempt (`maxAttempts` grows by one); `infraRetries` counts them against their own limit.
 */
export const BuildStateSchema = z.object({
  runId: RunIdSchema,
  attempt: z.number().int().min(0).max(99).default(0),
  maxAttempts: z.number().int().min(1).max(99).default(3),
  passed: z.boolean().optional(),
  repairable: z.boolean().optional(),
  lastFailure: z.string().max(8_000).optional(),
  failureCode: FailureCodeSchema.optional(),
  workerError: TaskErrorSchema.optional(),
  error: TaskErrorSchema.optional(),
  retryInfrastructure: z.boolean().optional(),
  infraRetries: z.number().int().min(0).max(99).optional(),
  retryDelaySeconds: z.number().int().min(0).max(3600).optional(),
});
export type BuildState = z.infer<typeof BuildStateSchema>;

/** The longest internal reason kept on the state and the run. */
export const MAX_INTERNAL_REASON = 4_000;

export function clip(text: string, max = MAX_INTERNAL_REASON): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
