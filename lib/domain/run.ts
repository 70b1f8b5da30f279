import { z } from 'zod';
import { CheckOutcomeSchema } from './acceptance.ts';
import { ArtifactTypeSchema, BuildSpecSchema } from './build-spec.ts';
import { RunIdSchema, SessionIdSchema } from './ids.ts';
import { ArtifactManifestSchema, VerifiedArtifactSchema } from './manifest.ts';
import { PhaseSchema } from './phases.ts';
import { QuoteSchema } from './quote.ts';
import { FailureCodeSchema } from './status.ts';
import { RevisionSchema, RunVersionSchema } from './versions.ts';

export const PaymentStatusSchema = z.enum([
  'none',
  'manual_requested',
  'checkout_pending',
  'authorized',
  'captured',
  'cancelled',
  'manual_approved',
  /** The card hold expired before it could be captured: unsettled, for the operators to decide. */
  'expired',
]);
export type PaymentStatus = z.infer<typeof PaymentStatusSchema>;

export const OwnerSchema = z
  .object({
    sessionId: SessionIdSchema,
    email: z.email().optional(),
    emailVerified: z.boolean().default(false),
  })
  .strict();
export type Owner = z.infer<typeof OwnerSchema>;

export const IntakeStateSchema = z
  .object({
    questionsAsked: z.number().int().nonnegative(),
    pendingQuestion: z.enum(['artifact_type', 'behaviour']).optional(),
    /** The last clarifying question asked (model intake: context for the next turn). */
    lastQuestion: z.string().max(600).optional(),
    requestText: z.string().max(4000).default(''),
    /**
     * After delivery: the delivered version the conversation about a change is counting its
     * questions for. The count starts again only for a newer version, so a change conversation
     * keeps the two-question limit however many messages it takes.
     */
    changeOf: z.number().int().positive().optional(),
  })
  .strict();
export type IntakeState = z.infer<typeof IntakeStateSchema>;

export const VerificationResultSchema = z
  .object({
    attempt: z.number().int().positive(),
    passed: z.boolean(),
    checks: z.array(z.object({ name: z.string(), passed: z.boolean(), detail: z.string().optional() })),
    internalReason: z.string().optional(),
    /** The worker's commit of the verified work (from its result). Internal only. */
    commit: z
      .string()
      .regex(/^[0-9a-f]{40}$/)
      .optional(),
    /** Each acceptance check the gate ran on this attempt's candidate (detail internal). */
    outcomes: z.array(CheckOutcomeSchema).max(16).optional(),
    /**
     * The screenshot taken at the end of the web checks (evidence bucket key, internal): Publish
     * copies it beside the published web artifact as the receipt's picture.
     */
    screenshot: z.object({ artifactId: z.string(), key: z.string() }).strict().optional(),
    at: z.string(),
  })
  .strict();
export type VerificationResult = z.infer<typeof VerificationResultSchema>;

/** The internal build run: everything the backend knows. Never serialised to a visitor as is. */
export const BuildRunSchema = z
  .object({
    runId: RunIdSchema,
    owner: OwnerSchema,
    artifactType: ArtifactTypeSchema.optional(),
    phase: PhaseSchema,
    taskRef: z.string(),
    workerId: z.string().optional(),
    repoId: z.string().optional(),
    branch: z.string().optional(),
    attempts: z.number().int().nonnegative(),
    manifest: ArtifactManifestSchema.optional(),
    artifacts: z.array(VerifiedArtifactSchema),
    payment: z
      .object({
        status: PaymentStatusSchema,
        method: z.enum(['manual', 'stripe', 'free']).optional(),
        checkoutSessionId: z.string().optional(),
        quoteVersion: z.number().int().optional(),
        /** Stripe PaymentIntent authorized by Checkout (manual capture). */
        paymentIntentId: z.string().optional(),
        /** Checkout sessions that expired or failed so far: part of the next session's idempotency key. */
        checkoutAttempt: z.number().int().nonnegative().optional(),
        /** Internal note for operators (e.g. a failed capture). Never public. */
        note: z.string().max(1000).optional(),
        /** When the card was authorized (Stripe holds it about 7 days): capture retries end there. */
        authorizedAt: z.string().optional(),
        /** Failed capture / cancel calls so far, and when the next is due (the settle reconcile). */
        settleAttempts: z.number().int().nonnegative().optional(),
        nextSettleAt: z.string().optional(),
        /** Payment intents of earlier authorizations of this run (released): never authorize again. */
        retiredPaymentIntents: z.array(z.string()).max(20).optional(),
        /** An operator rebuilt the run without a new charge (`bus-build retry --no-charge`). */
        override: z
          .object({ actor: z.string().max(100), reason: z.string().max(500), at: z.string() })
          .strict()
          .optional(),
      })
      .strict(),
    spec: BuildSpecSchema.optional(),
    quote: QuoteSchema.optional(),
    intake: IntakeStateSchema,
    failure: z
      .object({ code: FailureCodeSchema, internalReason: z.string(), at: z.string() })
      .strict()
      .optional(),
    verification: z.array(VerificationResultSchema).default([]),
    evidence: z.array(z.object({ kind: z.string(), key: z.string(), at: z.string() }).strict()).default([]),
    executionArn: z.string().optional(),
    /**
     * The events of the orchestrator's last state change, saved with it in one write: if the task
     * dies before they reach the event log, the next task appends the missing ones (events in the
     * log carry the commit id). Internal only.
     */
    pendingEvents: z
      .object({
        commit: z.string().min(1).max(100),
        at: z.string(),
        events: z.array(z.object({ type: z.string(), data: z.record(z.string(), z.unknown()) }).strict()),
      })
      .strict()
      .optional(),
    /** Every delivered version, oldest first (lib/domain/versions.ts); the last one is current. */
    versions: z.array(RunVersionSchema).max(50).optional(),
    /** The change request being quoted or built (version N+1 of a delivered run). */
    revision: RevisionSchema.optional(),
    /** Operator retries so far (`failed → authorized`); names the retry execution `{run_id}-retry-{n}`. */
    retries: z.number().int().nonnegative().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
    endedAt: z.string().optional(),
    version: z.number().int().nonnegative(),
  })
  .strict();
export type BuildRun = z.infer<typeof BuildRunSchema>;

export const MessageSchema = z
  .object({
    messageId: z.string(),
    runId: RunIdSchema,
    role: z.enum(['visitor', 'assistant']),
    text: z.string().max(8000),
    at: z.string(),
  })
  .strict();
export type Message = z.infer<typeof MessageSchema>;
