import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

/** A payload-format-2.0 event as API Gateway builds it, for handler unit tests. */
export function apiEvent(opts: {
  method: string;
  path: string;
  routeKey?: string;
  body?: string;
  headers?: Record<string, string>;
  cookies?: string[];
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
}): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: opts.routeKey ?? `${opts.method} ${opts.path}`,
    rawPath: opts.path,
    rawQueryString: new URLSearchParams(opts.query ?? {}).toString(),
    headers: { 'content-type': 'application/json', ...opts.headers },
    cookies: opts.cookies,
    queryStringParameters: opts.query,
    pathParameters: opts.pathParameters,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: opts.method,
        path: opts.path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'test',
      },
      requestId: 'req-1',
      routeKey: opts.routeKey ?? `${opts.method} ${opts.path}`,
      stage: '$default',
      time: '24/Nov/2026:10:00:00 +0000',
      timeEpoch: 0,
    },
    body: opts.body,
    isBase64Encoded: false,
  };
}

export const context = {
  awsRequestId: 'req-1',
  functionName: 'test',
  getRemainingTimeInMillis: () => 29_000,
} as unknown as Context;

export type Result = APIGatewayProxyStructuredResultV2;
export const bodyOf = (r: unknown) => JSON.parse((r as Result).body ?? 'null');
