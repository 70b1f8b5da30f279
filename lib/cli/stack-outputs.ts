import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError } from './errors.ts';

/**
 * The deployed stack's outputs as the CLI's environment names, so `bus-build --aws` needs one
 * file instead of a dozen variables: `cdk deploy --outputs-file cdk-outputs.json`, then
 * `STACK_OUTPUTS_FILE=cdk-outputs.json bus-build status --aws`. A variable that is already set
 * wins over the file. The file holds names and ARNs only (no secret values).
 */
export const OUTPUT_ENV: Readonly<Record<string, string>> = {
  ApiUrl: 'API_URL',
  PortalUrl: 'PORTAL_URL',
  TableName: 'TABLE_NAME',
  StateMachineArn: 'STATE_MACHINE_ARN',
  EventBusName: 'EVENT_BUS_NAME',
  StagingBucket: 'STAGING_BUCKET',
  EvidenceBucket: 'EVIDENCE_BUCKET',
  ArtifactsBucket: 'ARTIFACTS_BUCKET',
  WorkerClusterArn: 'WORKER_CLUSTER_ARN',
  StripeSecretKeyArn: 'STRIPE_SECRET_KEY_ARN',
  StripeWebhookSecretArn: 'STRIPE_WEBHOOK_SECRET_ARN',
  EmailFrom: 'EMAIL_FROM',
  IntakeProvider: 'INTAKE_PROVIDER',
  Coder: 'CODER',
  BedrockModelId: 'BEDROCK_MODEL_ID',
  BedrockRegion: 'BEDROCK_REGION',
};

/**
 * Reads `STACK_OUTPUTS_FILE` (the JSON `cdk deploy --outputs-file` writes: `{ "<stack>": {
 * "<output>": "<value>" } }`) and sets the environment names of OUTPUT_ENV that are not set yet.
 * With more than one stack in the file, `STACK_NAME` picks one. No file configured: nothing.
 */
export function applyStackOutputs(env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const file = env.STACK_OUTPUTS_FILE?.trim();
  if (!file) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(resolve(cwd, file), 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'is not JSON';
    throw new CliError(`STACK_OUTPUTS_FILE ${file} ${why} (write it with cdk deploy --outputs-file ${file})`);
  }
  const stacks = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  const names = Object.keys(stacks);
  const wanted = env.STACK_NAME?.trim();
  const name = wanted ?? (names.length === 1 ? names[0] : undefined);
  const outputs = name ? stacks[name] : undefined;
  if (!name || !outputs || typeof outputs !== 'object') {
    throw new CliError(
      wanted
        ? `STACK_OUTPUTS_FILE ${file} has no stack ${wanted} (it has: ${names.join(', ') || 'none'})`
        : `STACK_OUTPUTS_FILE ${file} has ${names.length} stacks; set STACK_NAME to one of: ${names.join(', ')}`,
    );
  }
  for (const [output, value] of Object.entries(outputs as Record<string, unknown>)) {
    const key = OUTPUT_ENV[output];
    if (key && typeof value === 'string' && value !== '' && !env[key]) env[key] = value;
  }
  return name;
}
