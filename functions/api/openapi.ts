import { apiHandler, json } from '../shared/http.ts';
import { buildOpenApiDocument } from '../shared/openapi-document.ts';

/** GET /api/v1/openapi.json: the OpenAPI 3.1 document, generated from the zod schemas. */
export const handler = apiHandler(async () =>
  json(200, buildOpenApiDocument(), { headers: { 'cache-control': 'public, max-age=300' } }),
);
