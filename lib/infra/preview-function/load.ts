import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The CloudFront Function deployed on the preview distribution's viewer-request. */
export const PREVIEW_FUNCTION_FILE = fileURLToPath(new URL('./viewer-request.js', import.meta.url));

/** Name of the preview signing key in the KeyValueStore (must match viewer-request.js). */
export const PREVIEW_KEY_NAME = 'preview-signing-key';

const IMPORT_LINE = "import cf from 'cloudfront';";

/** The viewer-request event fields the function reads and writes (CloudFront Functions event shape). */
export interface CfRequest {
  method: string;
  uri: string;
  querystring: Record<string, unknown>;
  headers: Record<string, { value: string }>;
  cookies: Record<string, unknown>;
}
export interface CfResponse {
  statusCode: number;
  statusDescription?: string;
  headers?: Record<string, { value: string }>;
  body?: { encoding: string; data: string };
}
export type PreviewFunctionHandler = (event: { request: CfRequest }) => Promise<CfRequest | CfResponse>;

/**
 * Loads the very file CDK deploys and returns its `handler`, for tests and local parity checks.
 * The only transformation is removing the `cloudfront` import line (Node has no such module);
 * `cf.kvs()` is served from `store` (a missing key throws, like the real KeyValueStore), and
 * `require('crypto')` is Node's crypto.
 */
export function loadPreviewFunction(store: Record<string, string>): PreviewFunctionHandler {
  const source = readFileSync(PREVIEW_FUNCTION_FILE, 'utf8');
  if (!source.startsWith(`${IMPORT_LINE}\n`))
    throw new Error(`${PREVIEW_FUNCTION_FILE} must start with: ${IMPORT_LINE}`);
  const body = source.slice(IMPORT_LINE.length);
  const cf = {
    kvs: () => ({
      async get(key: string): Promise<string> {
        const value = store[key];
        if (value === undefined) throw new Error(`KeyValueStore: key not found: ${key}`);
        return value;
      },
    }),
  };
  const nodeRequire = createRequire(import.meta.url);
  const onlyCrypto = (name: string) => {
    if (name !== 'crypto') throw new Error(`CloudFront Functions have no module ${name}`);
    return nodeRequire('node:crypto');
  };
  // Evaluates our own, checked-in function source (the file CDK deploys), nothing from outside.
  const factory = new Function('cf', 'require', `${body}\nreturn handler;`) as (
    cf: unknown,
    require: (name: string) => unknown,
  ) => PreviewFunctionHandler;
  return factory(cf, onlyCrypto);
}
