import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

let cached: Promise<string> | undefined;

/**
 * The session signing secret: `SESSION_SECRET` (local stack, tests) or the Secrets Manager secret
 * named by `SESSION_SECRET_ARN` (AWS), fetched once per cold start. Never logged.
 */
export function sessionSecret(): Promise<string> {
  cached ??= resolve().catch((err) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

async function resolve(): Promise<string> {
  if (process.env.SESSION_SECRET) return process.env.SESSION_SECRET;
  const arn = process.env.SESSION_SECRET_ARN;
  if (!arn) throw new Error('SESSION_SECRET or SESSION_SECRET_ARN must be set');
  const out = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn }));
  if (!out.SecretString) throw new Error('session secret is empty');
  return out.SecretString;
}

export function resetSecretCache(): void {
  cached = undefined;
  cachedPreview = undefined;
}

let cachedPreview: Promise<string> | undefined;

/**
 * The preview link signing key (a dedicated key, never the session key): `PREVIEW_SECRET` (local
 * stack, tests) or the Secrets Manager secret named by `PREVIEW_SECRET_ARN` (AWS; the same value
 * is imported into the preview distribution's KeyValueStore, where the edge function reads it).
 */
export function previewSecret(): Promise<string> {
  cachedPreview ??= resolvePreview().catch((err) => {
    cachedPreview = undefined;
    throw err;
  });
  return cachedPreview;
}

async function resolvePreview(): Promise<string> {
  if (process.env.PREVIEW_SECRET) return process.env.PREVIEW_SECRET;
  const arn = process.env.PREVIEW_SECRET_ARN;
  if (!arn) throw new Error('PREVIEW_SECRET or PREVIEW_SECRET_ARN must be set');
  const out = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn }));
  if (!out.SecretString) throw new Error('preview secret is empty');
  return out.SecretString;
}
