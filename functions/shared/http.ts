import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { ZodError, type z } from 'zod';
import { loadConfig } from '../../lib/aws/config.ts';
import { DomainError } from '../../lib/domain/errors.ts';
import { log } from '../../lib/log.ts';

export type ApiResult = APIGatewayProxyStructuredResultV2;
export type ApiEvent = Omit<APIGatewayProxyEventV2, 'body'> & { body?: unknown; rawBody?: string };

export class HttpError extends DomainError {}

export function json(statusCode: number, body: unknown, extra: Partial<ApiResult> = {}): ApiResult {
  return {
    statusCode,
    ...extra,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...extra.headers,
    },
    body: JSON.stringify(body),
  };
}

export function errorBody(status: number, code: string, message: string): ApiResult {
  return json(status, { error: { code, message } });
}

/** Maps any thrown value to the public error shape; unknown errors become a generic 500. */
export function toErrorResult(err: unknown, requestId?: string): ApiResult {
  if (err instanceof DomainError) {
    const headers =
      err.retryAfterSeconds === undefined ? undefined : { 'retry-after': String(err.retryAfterSeconds) };
    return json(err.status, { error: { code: err.code, message: err.message } }, headers && { headers });
  }
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    return errorBody(400, 'invalid_request', `${where}${issue?.message ?? 'Invalid request.'}`.slice(0, 300));
  }
  const status = (err as { statusCode?: number })?.statusCode;
  if (status === 415) return errorBody(415, 'unsupported_media_type', 'Send the body as application/json.');
  if (status === 422 || status === 400)
    return errorBody(400, 'malformed_json', 'The request body is not valid JSON.');
  if (status === 413) return errorBody(413, 'payload_too_large', 'The request body is too large.');
  log.error('unhandled error', { err, requestId });
  return errorBody(500, 'internal_error', 'Something went wrong on our side. Please try again.');
}

/** Rejects bodies over the documented limit before anything parses them. */
const bodyLimit = (maxBytes: number): middy.MiddlewareObj<APIGatewayProxyEventV2> => ({
  before: (request) => {
    const { body, isBase64Encoded } = request.event;
    if (body === undefined || body === null) return;
    const size = isBase64Encoded ? Buffer.from(body, 'base64').length : Buffer.byteLength(body);
    if (size > maxBytes)
      throw new HttpError('payload_too_large', `The request body is larger than ${maxBytes} bytes.`, 413);
  },
});

/** Lets handlers take an empty body as `{}` (e.g. `POST /build-runs` with no body). */
const emptyBodyAsObject = (): middy.MiddlewareObj<APIGatewayProxyEventV2> => ({
  before: (request) => {
    const e = request.event;
    if (e.body === undefined || e.body === null || e.body === '') {
      e.body = '{}';
      e.isBase64Encoded = false;
      e.headers = { ...e.headers, 'content-type': 'application/json' };
    }
  },
});

const errorHandler = (): middy.MiddlewareObj<APIGatewayProxyEventV2, ApiResult> => ({
  onError: (request) => {
    request.response = toErrorResult(request.error, request.context?.awsRequestId);
  },
});

export interface HandlerOptions {
  /** The route takes a JSON body. */
  body?: 'required' | 'optional';
}

/**
 * The one middleware stack every API handler uses: header normalizer → body size limit →
 * JSON body parser → security headers → one error handler producing `{ error: { code, message } }`.
 */
export function apiHandler(
  fn: (event: ApiEvent, context: Context) => Promise<ApiResult>,
  options: HandlerOptions = {},
) {
  const config = loadConfig();
  const chain = middy<APIGatewayProxyEventV2, ApiResult>()
    // onError runs in reverse order: the error handler shapes the body, then security headers apply.
    .use(
      httpSecurityHeaders({
        contentSecurityPolicy: { 'default-src': "'none'", 'frame-ancestors': "'none'" },
      }),
    )
    .use(errorHandler())
    .use(httpHeaderNormalizer());
  if (options.body) {
    chain.use(bodyLimit(config.maxBodyBytes));
    if (options.body === 'optional') chain.use(emptyBodyAsObject());
    chain.use(httpJsonBodyParser());
  }
  return chain.handler(
    fn as unknown as (event: APIGatewayProxyEventV2, context: Context) => Promise<ApiResult>,
  );
}

/** Validates with a zod schema; failures become a 400 `invalid_request`. */
export function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  return schema.parse(value);
}
