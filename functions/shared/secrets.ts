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
}
