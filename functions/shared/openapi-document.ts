import { z } from 'zod';
import { MAX_BODY_BYTES_DEFAULT } from '../../lib/aws/config.ts';
import {
  ArtifactsResponseSchema,
  CreateRunBodySchema,
  CreateRunResponseSchema,
  ErrorSchema,
  EventsResponseSchema,
  MessageBodySchema,
  MessageResponseSchema,
  RunResponseSchema,
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
        'Public build-run API. Every error is `{ "error": { "code", "message" } }`. Runs belong to the visitor session that created them.',
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
