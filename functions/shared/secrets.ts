import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * A signing key from `<NAME>` (local stack, tests) or the Secrets Manager secret named by
 * `<NAME>_ARN` (AWS), fetched once per cold start (a failed read is retried next time). Values
 * are used exactly as stored (no trimming: the bytes are the key). Never logged.
 */
function requiredSecret(name: string): { get: () => Promise<string>; reset: () => void } {
  const secret = optionalSecret(name);
  return {
    get: async () => {
      const value = await secret.get();
      if (value === undefined) throw new Error(`${name} or ${name}_ARN must be set`);
      return value;
    },
    reset: secret.reset,
  };
}

/** Like `requiredSecret`, but `undefined` when neither `<NAME>` nor `<NAME>_ARN` is set. */
function optionalSecret(name: string): { get: () => Promise<string | undefined>; reset: () => void } {
  let cached: Promise<string | undefined> | undefined;
  const resolve = async (): Promise<string | undefined> => {
    const value = process.env[name];
    if (value) return value;
    const arn = process.env[`${name}_ARN`];
    if (!arn) return undefined;
    const out = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn }));
    if (!out.SecretString) throw new Error(`${name} is empty`);
    return out.SecretString;
  };
  return {
    get: () => {
      cached ??= resolve().catch((err) => {
        cached = undefined;
        throw err;
      });
      return cached;
    },
    reset: () => {
      cached = undefined;
    },
  };
}

const session = requiredSecret('SESSION_SECRET');
/**
 * The preview link signing key (a dedicated key, never the session key); on AWS the same value
 * is imported into the preview distribution's KeyValueStore, where the edge function reads it.
 */
const preview = requiredSecret('PREVIEW_SECRET');
/**
 * The value CloudFront sends in the origin-verify header of `/api/*` requests (origin-headers.ts);
 * unset locally (no CloudFront: the viewer-address header is never trusted).
 */
const originVerify = optionalSecret('ORIGIN_VERIFY_SECRET');

/** The session signing secret: `SESSION_SECRET` or `SESSION_SECRET_ARN`. */
export const sessionSecret = (): Promise<string> => session.get();
/** The preview signing key: `PREVIEW_SECRET` or `PREVIEW_SECRET_ARN`. */
export const previewSecret = (): Promise<string> => preview.get();

/** The origin-verify value: `ORIGIN_VERIFY_SECRET` or `ORIGIN_VERIFY_SECRET_ARN`; else `undefined`. */
export const originVerifySecret = (): Promise<string | undefined> => originVerify.get();

export function resetSecretCache(): void {
  session.reset();
  preview.reset();
  originVerify.reset();
}
