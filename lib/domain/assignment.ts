import { z } from 'zod';
import { BuildSpecSchema } from './build-spec.ts';
import { RunIdSchema } from './ids.ts';

/**
 * The worker assignment: everything a worker needs for one attempt, written by the orchestrator
 * (AssignWorker) to the internal staging bucket and read by the worker at start. The seed's
 * "worker build profile".
 */
export const WorkerAssignmentSchema = z
  .object({
    runId: RunIdSchema,
    taskRef: z.string(),
    workerId: z.string(),
    attempt: z.number().int().positive(),
    maxAttempts: z.number().int().positive(),
    branch: z.string(),
    artifactType: z.enum(['web', 'binary', 'both']),
    spec: BuildSpecSchema,
    buildCommands: z.array(z.array(z.string()).min(1)),
    testCommands: z.array(z.array(z.string()).min(1)),
    verificationCommands: z.array(z.string()),
    manifestPath: z.string(),
    platforms: z.array(z.string()),
    rules: z.array(z.string()),
    progressStyle: z.string(),
    previousFailure: z.string().optional(),
    /**
     * A change to a delivered tool: build version `version` from version `baseVersion`'s verified
     * commit (`baseCommit`, set on the first attempt of the change's build or of its operator
     * retry only: repairs continue from the failed work). `baseFeatures` is what that version does, so the coder keeps what works.
     */
    revision: z
      .object({
        version: z.number().int().min(2),
        baseVersion: z.number().int().positive(),
        baseCommit: z
          .string()
          .regex(/^[0-9a-f]{40}$/)
          .optional(),
        baseFeatures: z.array(z.string()).max(12),
        basePlatforms: z.array(z.string()).max(8),
        baseArtifactType: z.enum(['web', 'binary', 'both']),
      })
      .strict()
      .optional(),
  })
  .strict();
export type WorkerAssignment = z.infer<typeof WorkerAssignmentSchema>;

export const NO_SOURCE_RULE =
  'Source code is never delivered to the customer: build outputs only, source_included is always false.';
export const PROGRESS_STYLE =
  'Customer-facing progress is short plain sentences from a fixed list; never paths, file names, logs, code or branch names.';

/** Scratch directories of worker attempts start with this (the local stack removes leftovers). */
export const WORKER_SCRATCH_PREFIX = 'busdk-worker-';

/** The scratch directory prefix of one attempt: `busdk-worker-<runId>-<attempt>-`. */
export const attemptScratchPrefix = (runId: string, attempt: number | string) =>
  `${WORKER_SCRATCH_PREFIX}${runId}-${attempt}-`;
