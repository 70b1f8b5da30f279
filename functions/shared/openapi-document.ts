import { z } from 'zod';
import { MAX_BODY_BYTES_DEFAULT } from '../../lib/aws/config.ts';
import {
  ArtifactsResponseSchema,
  CheckoutBodySchema,
  CheckoutResponseSchema,
  ConfirmContactBodySchema,
  ContactBodySchema,
  CreateRunBodySchema,
  CreateRunResponseSchema,
  EmailCodeBodySchema,
  EmailCodeResponseSchema,
  ErrorSchema,
  EventsResponseSchema,
  MessageBodySchema,
  MessageResponseSchema,
  RunListResponseSchema,
  RunResponseSchema,
  VerifyCodeBodySchema,
  VerifyCodeResponseSchema,
} from '../../lib/domain/public-schemas.ts';
import { API_ROUTES } from '../api/routes.ts';

type Schema = z.ZodType;

interface Operation {
  summary: string;
  request?: Schema;
  query?: { name: string; description: string; schema: object }[];
  responses: Record<number, { description: string; schema?: Schema }>;
}

const RUN_ERRORS = {
  401: { description: 'No valid visitor session.', schema: ErrorSchema },
  404: { description: 'No such run for this session.', schema: ErrorSchema },
};

/** Documentation of every route in API_ROUTES, keyed by route id. */
export const OPERATIONS: Record<string, Operation> = {
  CreateRun: {
    summary:
      'Start a build run. Issues a visitor session (cookie and bearer token) when the caller has none.',
    request: CreateRunBodySchema,
    responses: {
      201: { description: 'The new run.', schema: CreateRunResponseSchema },
      400: { description: 'Invalid body.', schema: ErrorSchema },
      413: { description: `Body larger than ${MAX_BODY_BYTES_DEFAULT} bytes.`, schema: ErrorSchema },
    },
  },
  GetRun: {
    summary: 'The public-safe state of a run, with its conversation.',
    responses: { 200: { description: 'The run.', schema: RunResponseSchema }, ...RUN_ERRORS },
  },
  PostMessage: {
    summary: 'Add a visitor message; returns the assistant reply (and a quote once the scope is clear).',
    request: MessageBodySchema,
    responses: {
      200: { description: 'The reply and the updated run.', schema: MessageResponseSchema },
      400: { description: 'Invalid body.', schema: ErrorSchema },
      409: { description: 'The run changed concurrently; retry.', schema: ErrorSchema },
      413: { description: `Body larger than ${MAX_BODY_BYTES_DEFAULT} bytes.`, schema: ErrorSchema },
      ...RUN_ERRORS,
    },
  },
  ListEvents: {
    summary: 'Public-safe progress events after a cursor, with an optional bounded long-poll.',
    query: [
      {
        name: 'after',
        description: 'Return events with seq greater than this.',
        schema: { type: 'integer', minimum: 0 },
      },
      {
        name: 'wait',
        description: 'Seconds to wait for a new event when none is available (0–20).',
        schema: { type: 'integer', minimum: 0, maximum: 20 },
      },
    ],
    responses: {
      200: { description: 'Events and the next cursor.', schema: EventsResponseSchema },
      ...RUN_ERRORS,
    },
  },
  ListArtifacts: {
    summary:
      'Verified artifacts of the run (public fields only). Receiving the links marks the run delivered.',
    query: [
      {
        name: 'version',
        description:
          'A delivered version of the run (default: the current one); 404 for a version it does not have.',
        schema: { type: 'integer', minimum: 1 },
      },
    ],
    responses: {
      200: {
        description: 'Verified artifacts; empty until the run is verified.',
        schema: ArtifactsResponseSchema,
      },
      ...RUN_ERRORS,
    },
  },
  DownloadArtifact: {
    summary: 'Download one verified artifact: a redirect to a short-lived, single-object link.',
    responses: {
      302: { description: 'Redirect to the short-lived download link (attachment).' },
      ...RUN_ERRORS,
    },
  },
  Checkout: {
    summary:
      'Pay for a quoted run: `stripe` opens a Stripe Checkout page (the card is authorized now and charged only when the verified artifact is ready), `manual` sends an approval request to the BusDK team.',
    request: CheckoutBodySchema,
    responses: {
      200: {
        description: 'The checkout URL (card) or null (approval request) and the run.',
        schema: CheckoutResponseSchema,
      },
      400: { description: 'Invalid body.', schema: ErrorSchema },
      409: {
        description:
          'Not payable now (`not_quoted`, `already_authorized`), card payment not configured (`payments_unavailable`), or no contact email yet (`contact_required`).',
        schema: ErrorSchema,
      },
      ...RUN_ERRORS,
    },
  },
  StripeWebhook: {
    summary:
      'Stripe webhook (called by Stripe, no session). The Stripe-Signature header is verified over the raw body; each event is applied once.',
    responses: {
      200: { description: 'Event received (applied, a duplicate, or ignored).' },
      400: { description: 'Missing or invalid signature; nothing changed.', schema: ErrorSchema },
      500: { description: 'Processing failed; Stripe retries.', schema: ErrorSchema },
    },
  },
  ListRuns: {
    summary:
      "The caller's runs, newest first, without messages: the session's runs and, after an email login, the runs whose contact email is the verified one.",
    responses: {
      200: { description: 'The runs.', schema: RunListResponseSchema },
      401: RUN_ERRORS[401],
    },
  },
  SetContact: {
    summary:
      'Set the contact email of a run (owner only, before approval). Mails a 6-digit confirmation code to it (unless the session is signed in with that address); a confirmed contact is required before approval. The public run shows only `contact_email_set` / `contact_email_confirmed`.',
    request: ContactBodySchema,
    responses: {
      200: { description: 'The updated run.', schema: RunResponseSchema },
      400: { description: 'Invalid body or email address.', schema: ErrorSchema },
      409: {
        description: '`contact_locked`: the run is already approved; or a concurrent change.',
        schema: ErrorSchema,
      },
      429: {
        description:
          '`rate_limited` (5 confirmation codes per session per 15 minutes, 20 per source IP per hour); see Retry-After.',
        schema: ErrorSchema,
      },
      ...RUN_ERRORS,
    },
  },
  ConfirmContact: {
    summary:
      "Confirm the run's contact email with the code mailed to it (owner only). Only a confirmed contact counts: approval, card payment, sign-in codes and email login need it.",
    request: ConfirmContactBodySchema,
    responses: {
      200: { description: 'The updated run (`contact_email_confirmed: true`).', schema: RunResponseSchema },
      400: {
        description: '`invalid_code` (wrong, expired, used or burned code) or an invalid body.',
        schema: ErrorSchema,
      },
      409: { description: '`contact_locked`: the run is already approved.', schema: ErrorSchema },
      ...RUN_ERRORS,
    },
  },
  RequestEmailCode: {
    summary:
      'Mail a one-time 6-digit sign-in code (valid 10 minutes, bound to the calling session: a session is issued when the caller has none) to resume runs from another browser. Only an address that is the confirmed contact of a run gets a mail; always 202.',
    request: EmailCodeBodySchema,
    responses: {
      202: { description: 'Accepted.', schema: EmailCodeResponseSchema },
      400: { description: 'Invalid body or email address.', schema: ErrorSchema },
      429: {
        description:
          '`rate_limited` (per session: 3 codes per address per 15 minutes and 5 per hour; 10 per source IP per hour); see Retry-After.',
        schema: ErrorSchema,
      },
    },
  },
  VerifyEmailCode: {
    summary:
      'Verify a sign-in code: a new session (cookie and `session_token`) carrying the verified email; the runs of that email become accessible. Codes are single-use and burned after 5 wrong attempts.',
    request: VerifyCodeBodySchema,
    responses: {
      200: { description: 'The new session token.', schema: VerifyCodeResponseSchema },
      400: {
        description: '`invalid_code` (wrong, expired, used or burned code) or an invalid body.',
        schema: ErrorSchema,
      },
    },
  },
  OpenApi: {
    summary: 'This document.',
    responses: { 200: { description: 'OpenAPI 3.1 document.' } },
  },
};

const ref = (id: string) => `#/components/schemas/${id}`;

/** A named schema (`.meta({ id })`) becomes a `$ref` into components; others are inlined. */
function jsonSchema(schema: Schema, io: 'input' | 'output', components: Record<string, unknown>) {
  const generated = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' });
  // Named sub-schemas come out as local `$defs`; OpenAPI keeps them in components.
  const out = JSON.parse(JSON.stringify(generated).replaceAll('"#/$defs/', `"${ref('')}`)) as Record<
    string,
    unknown
  >;
  const defs = (out.$defs ?? {}) as Record<string, unknown>;
  for (const [id, def] of Object.entries(defs)) components[id] ??= def;
  delete out.$defs;
  delete out.$schema;
  const id = (z.globalRegistry.get(schema) as { id?: string } | undefined)?.id;
  if (id) {
    components[id] ??= out.$ref ? defs[id] : out;
    return { $ref: ref(id) };
  }
  return out;
}

export function buildOpenApiDocument(): Record<string, unknown> {
  const components: Record<string, unknown> = {};
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of API_ROUTES) {
    const op = OPERATIONS[route.id];
    if (!op) throw new Error(`route ${route.id} has no OpenAPI documentation`);
    const params = [...route.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const query = (op.query ?? []).map((q) => ({
      name: q.name,
      in: 'query',
      required: false,
      description: q.description,
      schema: q.schema,
    }));
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: route.id,
      summary: op.summary,
      ...(params.length + query.length ? { parameters: [...params, ...query] } : {}),
      ...(op.request
        ? {
            requestBody: {
              required: route.id !== 'CreateRun',
              content: { 'application/json': { schema: jsonSchema(op.request, 'input', components) } },
            },
          }
        : {}),
      responses: Object.fromEntries(
        Object.entries(op.responses).map(([status, r]) => [
          status,
          {
            description: r.description,
            ...(r.schema
              ? { content: { 'application/json': { schema: jsonSchema(r.schema, 'output', components) } } }
              : {}),
          },
        ]),
      ),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'BusDK Artifact Builder API',
      version: '1.0.0',
      description:
        'Public build-run API. Every error is `{ "error": { "code", "message" } }`. Runs belong to the visitor session that created them, and to a session signed in by email (one-time code) with the run\'s contact address.',
    },
    components: {
      schemas: components,
      securitySchemes: {
        sessionCookie: { type: 'apiKey', in: 'cookie', name: 'bus_session' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
    security: [{ sessionCookie: [] }, { bearer: [] }],
    paths,
  };
}
