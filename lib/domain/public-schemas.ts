import { z } from 'zod';
import { EmailSchema } from './email.ts';

/**
 * The public API's request and response shapes (snake_case). The OpenAPI document is generated
 * from these, and the projection's output is typed by them.
 */

export const CreateRunBodySchema = z.object({}).strict().meta({ id: 'CreateRunRequest' });

export const MessageBodySchema = z
  .object({ text: z.string().trim().min(1, 'text must not be empty').max(4000) })
  .strict()
  .meta({ id: 'MessageRequest' });

export const EventsQuerySchema = z
  .object({
    after: z.coerce.number().int().min(0).max(1e9).default(0),
    wait: z.coerce.number().int().min(0).max(20).default(0),
  })
  .strict();

/**
 * What the gate proved before delivery: each agreed check (its title in the approved spec's own
 * words) and its result, when, and for a web app whether a screenshot was kept.
 */
export const PublicReceiptSchema = z
  .object({
    verified_at: z.string(),
    checks: z.array(
      z
        .object({
          title: z.string(),
          passed: z.boolean(),
          /** `web`, or the platform of the binary the check ran on (`linux-amd64`…). */
          ran_on: z.string(),
        })
        .strict(),
    ),
    screenshot: z.boolean(),
    /** A short-lived link to the screenshot (the artifacts listing only). */
    screenshot_url: z.string().nullable().optional(),
  })
  .strict()
  .meta({ id: 'Receipt' });

export const PublicArtifactSchema = z
  .object({
    artifact_id: z.string(),
    kind: z.string(),
    name: z.string(),
    platform: z.string().nullable(),
    size_bytes: z.number().int(),
    sha256: z.string(),
    preview: z.boolean(),
    download_url: z.string().nullable().optional(),
    preview_url: z.string().nullable().optional(),
    /** The acceptance checks this artifact passed (absent for runs from before checks). */
    receipt: PublicReceiptSchema.optional(),
  })
  .strict()
  .meta({ id: 'Artifact' });

/** One delivered version of a run: its artifacts are listed by `GET …/artifacts?version=N`. */
export const PublicVersionSchema = z
  .object({
    version: z.number().int().positive(),
    current: z.boolean(),
    verified_at: z.string(),
    artifact_count: z.number().int().nonnegative(),
  })
  .strict()
  .meta({ id: 'Version' });

export const ArtifactsQuerySchema = z
  .object({ version: z.coerce.number().int().min(1).max(1000).optional() })
  .strict();

export const PublicMessageSchema = z
  .object({
    message_id: z.string(),
    role: z.enum(['visitor', 'assistant']),
    text: z.string(),
    at: z.string(),
  })
  .strict()
  .meta({ id: 'Message' });

/**
 * An acceptance check as the visitor sees it in the quote ("How we will check it"): its
 * customer-facing title and whether it runs on the program (`cli`) or in the web app (`web`).
 * Never its arguments, steps or expectations.
 */
export const PublicQuoteCheckSchema = z
  .object({ title: z.string(), kind: z.enum(['cli', 'web']) })
  .strict()
  .meta({ id: 'QuoteCheck' });

export const PublicRunSchema = z
  .object({
    run_id: z.string(),
    phase: z.string(),
    status_message: z.string(),
    artifact_type: z.string().nullable(),
    scope: z
      .object({
        title: z.string(),
        summary: z.string(),
        features: z.array(z.string()),
        out_of_scope: z.array(z.string()),
        platforms: z.array(z.string()),
      })
      .strict()
      .nullable(),
    quote: z
      .object({
        version: z.number().int(),
        amount_cents: z.number().int(),
        currency: z.string(),
        amount_display: z.string(),
        line_items: z.array(z.object({ label: z.string(), amount_cents: z.number().int() }).strict()),
        delivery: z.string(),
        /** The payment promise ("You pay only for a working artifact."). */
        payment_terms: z.string().optional(),
        /** The acceptance checks approved with this quote version. */
        checks: z.array(PublicQuoteCheckSchema),
      })
      .strict()
      .nullable(),
    payment_status: z.string(),
    /** Ways to pay this run: card (`stripe`, only when configured) and/or a manual approval request. */
    payment_methods: z.array(z.enum(['stripe', 'manual'])).optional(),
    contact_email_set: z.boolean(),
    /** The contact address was confirmed by the run's owner (a code sent to it). */
    contact_email_confirmed: z.boolean(),
    attempt: z.number().int(),
    /** The current delivered version (null before the first delivery). */
    version: z.number().int().positive().nullable(),
    /** Every delivered version, oldest first. */
    versions: z.array(PublicVersionSchema),
    /** A change being quoted or built: it becomes `version`, starting from `base_version`. */
    revision: z
      .object({ version: z.number().int().positive(), base_version: z.number().int().positive() })
      .strict()
      .nullable(),
    /** The current version's artifacts. */
    artifacts: z.array(PublicArtifactSchema),
    messages: z.array(PublicMessageSchema).optional(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .strict()
  .meta({ id: 'BuildRun' });

export const PublicEventSchema = z
  .object({
    seq: z.number().int(),
    type: z.string(),
    at: z.string(),
    message: z.string(),
    phase: z.string().optional(),
  })
  .strict()
  .meta({ id: 'ProgressEvent' });

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }).strict() })
  .strict()
  .meta({ id: 'Error' });

export const CheckoutBodySchema = z
  .object({ method: z.enum(['stripe', 'manual']) })
  .strict()
  .meta({ id: 'CheckoutRequest' });

export const RunResponseSchema = z.object({ run: PublicRunSchema }).strict();
export const CreateRunResponseSchema = z
  .object({ run: PublicRunSchema, session_token: z.string().optional() })
  .strict();
export const CheckoutResponseSchema = z
  .object({ checkout_url: z.string().nullable(), run: PublicRunSchema })
  .strict()
  .meta({ id: 'CheckoutResponse' });
export const MessageResponseSchema = z.object({ run: PublicRunSchema, reply: PublicMessageSchema }).strict();
export const ArtifactsResponseSchema = z
  .object({ version: z.number().int().positive().nullable(), artifacts: z.array(PublicArtifactSchema) })
  .strict();
export const EventsResponseSchema = z
  .object({ events: z.array(PublicEventSchema), next_after: z.number().int() })
  .strict();

/** Contact address and email login (the address is normalised: trimmed, lower-cased). */
export const ContactBodySchema = z.object({ email: EmailSchema }).strict().meta({ id: 'ContactRequest' });
export const EmailCodeBodySchema = z.object({ email: EmailSchema }).strict().meta({ id: 'EmailCodeRequest' });
export const VerifyCodeBodySchema = z
  .object({ email: EmailSchema, code: z.string().trim().min(1, 'code must not be empty').max(20) })
  .strict()
  .meta({ id: 'VerifyCodeRequest' });
export const ConfirmContactBodySchema = z
  .object({ code: z.string().trim().min(1, 'code must not be empty').max(20) })
  .strict()
  .meta({ id: 'ConfirmContactRequest' });
/** `session_token` only when the request came without a session (the code is bound to this one). */
export const EmailCodeResponseSchema = z
  .object({ sent: z.literal(true), session_token: z.string().optional() })
  .strict();
export const VerifyCodeResponseSchema = z.object({ session_token: z.string() }).strict();
export const RunListResponseSchema = z.object({ runs: z.array(PublicRunSchema) }).strict();

export type PublicArtifact = z.infer<typeof PublicArtifactSchema>;
export type PublicReceipt = z.infer<typeof PublicReceiptSchema>;
export type PublicMessage = z.infer<typeof PublicMessageSchema>;
export type PublicRun = z.infer<typeof PublicRunSchema>;
export type PublicQuoteCheck = z.infer<typeof PublicQuoteCheckSchema>;
export type PublicEvent = z.infer<typeof PublicEventSchema>;
export type PublicVersion = z.infer<typeof PublicVersionSchema>;
