import { z } from 'zod';
import { FailureCodeSchema } from './status.ts';

/**
 * The stages a coder may report while it works (its `report_progress` tool, or the external
 * agent's `BUSDK-PROGRESS` lines). A coder names one of these or an approved feature — never text.
 */
export const CODER_STAGE_SENTENCES = {
  planning: 'The build worker is planning how to build your tool.',
  writing_logic: "The build worker is writing the tool's logic.",
  writing_tests: 'The build worker is writing tests for the tool.',
  building_page: 'The build worker is building the page.',
  testing: 'The build worker is testing the tool.',
  fixing: 'The build worker is fixing a problem it found.',
  final_checks: 'The build worker is making the final checks.',
} as const;
export type CoderStage = keyof typeof CODER_STAGE_SENTENCES;
export const CODER_STAGES = Object.keys(CODER_STAGE_SENTENCES) as CoderStage[];

/** Approved features a coder reports done; the projection quotes the spec's own titles. */
export const FEATURE_DONE_STAGE = 'feature_done';
/** The most features one event may name (the spec has at most 12). */
export const MAX_FEATURES_PER_EVENT = 12;

/** Customer-safe progress stages; the projection maps each to one fixed sentence. */
export const PROGRESS_SENTENCES = {
  ...CODER_STAGE_SENTENCES,
  // Said only when the features named cannot be found in the approved spec.
  [FEATURE_DONE_STAGE]: 'The build worker finished a part of your tool.',
  enough_detail: 'I have enough detail to create the first version.',
  workspace_ready: 'The build workspace is prepared.',
  implementing_web: 'The build worker is implementing the web app.',
  implementing_binary: 'The build worker is implementing the program.',
  implementing: 'The build worker is implementing your tool.',
  building: 'The build worker is compiling and testing.',
  verifying: 'The artifact is being verified.',
  repairing: 'The build failed during verification; the run has been returned for repair.',
  preview_ready: 'The preview is ready.',
  downloads_ready: 'The downloads are ready.',
  approval_requested: 'An approval request was sent to the BusDK team.',
} as const;
export type ProgressStage = keyof typeof PROGRESS_SENTENCES;
export const ProgressStageSchema = z.enum(
  Object.keys(PROGRESS_SENTENCES) as [ProgressStage, ...ProgressStage[]],
);

const base = {
  runId: z.string(),
  seq: z.number().int().positive(),
  at: z.string(),
};

const ev = <T extends string, D extends z.ZodRawShape>(type: T, data: D) =>
  z.object({ ...base, type: z.literal(type), data: z.object(data).strict() }).strict();

export const RunRequestedEvent = ev('bus.build.run.requested', {});
export const MessageAddedEvent = ev('bus.build.message.added', {
  messageId: z.string(),
  role: z.enum(['visitor', 'assistant']),
});
export const QuoteReadyEvent = ev('bus.build.quote.ready', {
  quoteVersion: z.number().int().positive(),
  amountCents: z.number().int().nonnegative(),
  currency: z.string(),
});
export const RunAuthorizedEvent = ev('bus.build.run.authorized', {
  method: z.enum(['manual', 'stripe', 'free']),
  actor: z.string().optional(),
  /** The quote version approved: its spec, price and acceptance checks are what gets built. */
  quoteVersion: z.number().int().positive().optional(),
});
export const RepoReadyEvent = ev('bus.build.repo.ready', { repoId: z.string(), branch: z.string() });
export const WorkerAssignedEvent = ev('bus.build.worker.assigned', {
  workerId: z.string(),
  taskRef: z.string(),
  attempt: z.number().int().positive(),
});
/**
 * `features` (with the `feature_done` stage): the 1-based numbers of approved spec features the
 * coder reports done. Numbers only: the projection looks the titles up in the run's own spec.
 */
export const ProgressUpdatedEvent = ev('bus.build.progress.updated', {
  stage: ProgressStageSchema,
  features: z
    .array(z.number().int().min(1).max(MAX_FEATURES_PER_EVENT))
    .min(1)
    .max(MAX_FEATURES_PER_EVENT)
    .optional(),
  internalDetail: z.string().optional(),
});
export const ArtifactSubmittedEvent = ev('bus.build.artifact.submitted', {
  attempt: z.number().int().positive(),
  artifactCount: z.number().int().nonnegative(),
  manifestKey: z.string().optional(),
});
export const ArtifactVerifiedEvent = ev('bus.build.artifact.verified', {
  artifactIds: z.array(z.string()),
  kinds: z.array(z.enum(['web', 'binary', 'archive', 'evidence', 'log'])),
});
export const RunFailedEvent = ev('bus.build.run.failed', {
  code: FailureCodeSchema,
  internalReason: z.string(),
});
export const RunDeliveredEvent = ev('bus.build.run.delivered', {});
/** A change request after delivery opened version `version` (built from `baseVersion`). */
export const RevisionRequestedEvent = ev('bus.build.revision.requested', {
  version: z.number().int().min(2),
  baseVersion: z.number().int().positive(),
});
/** Version `version` was verified and published; it is now the current version. */
export const VersionPublishedEvent = ev('bus.build.version.published', {
  version: z.number().int().positive(),
});
/** The change could not be built; `baseVersion` stays delivered and current. */
export const RevisionFailedEvent = ev('bus.build.revision.failed', {
  version: z.number().int().min(2),
  baseVersion: z.number().int().positive(),
});

export const BuildEventSchema = z.discriminatedUnion('type', [
  RunRequestedEvent,
  MessageAddedEvent,
  QuoteReadyEvent,
  RunAuthorizedEvent,
  RepoReadyEvent,
  WorkerAssignedEvent,
  ProgressUpdatedEvent,
  ArtifactSubmittedEvent,
  ArtifactVerifiedEvent,
  RunFailedEvent,
  RunDeliveredEvent,
  RevisionRequestedEvent,
  VersionPublishedEvent,
  RevisionFailedEvent,
]);
export type BuildEvent = z.infer<typeof BuildEventSchema>;
export type BuildEventType = BuildEvent['type'];
export const BUILD_EVENT_TYPES = BuildEventSchema.options.map((o) => o.shape.type.value) as BuildEventType[];

/** An event before the store assigns its sequence number. */
export type NewBuildEvent = BuildEvent extends infer E
  ? E extends BuildEvent
    ? Omit<E, 'seq' | 'at' | 'runId'>
    : never
  : never;

export function newEvent<T extends BuildEventType>(
  type: T,
  data: Extract<BuildEvent, { type: T }>['data'],
): NewBuildEvent {
  return { type, data } as NewBuildEvent;
}
