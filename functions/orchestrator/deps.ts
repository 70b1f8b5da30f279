import { inProcessAcceptanceRunners } from '../../lib/app/orchestrator/acceptance-runners.ts';
import type { OrchestratorDeps, VerifySettings } from '../../lib/app/orchestrator/deps.ts';
import type { AcceptanceRunners, RemoteRender, RemoteSmoke } from '../../lib/app/orchestrator/ports.ts';
import {
  DEFAULT_INFRA_RETRY,
  type InfraRetryPolicy,
} from '../../lib/app/orchestrator/record-worker-failure.ts';
import { type BucketNames, bucketNames, S3ArtifactStore } from '../../lib/aws/artifact-store.ts';
import { documentClient, eventBridgeClient, lambdaClient, s3Client } from '../../lib/aws/clients.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { EventBridgePublisher, NoopPublisher } from '../../lib/aws/event-publisher.ts';
import { DynamoRunStore } from '../../lib/aws/run-store.ts';
import { LambdaSmokeRunner } from '../../lib/aws/smoke-invoker.ts';
import { stripeSettlementFromEnv } from '../../lib/aws/stripe-gateway.ts';
import { LambdaAcceptanceRunners } from '../../lib/aws/web-check-invoker.ts';
import { detectHostPlatform, renderEvidenceModeFrom } from '../../lib/verify/index.ts';
import { ARTIFACT_BUILDER_PROFILE } from '../../worker-image/src/profile.ts';
import { branchStoreFromEnv } from './branch-store.ts';

export const DEFAULT_MAX_ATTEMPTS = 3;

/** `MAX_ATTEMPTS`: worker attempts per execution (1–20, default 3). */
export function maxAttemptsFrom(env: NodeJS.ProcessEnv): number {
  const raw = env.MAX_ATTEMPTS?.trim();
  if (!raw) return DEFAULT_MAX_ATTEMPTS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 20)
    throw new Error('MAX_ATTEMPTS must be an integer from 1 to 20');
  return n;
}

/**
 * Verification settings from the environment: `VERIFY_HOST_PLATFORM` (default: detected),
 * `VERIFY_REQUIRE_HOST_BINARY=false` (accept binaries none of which runs here; default true),
 * `VERIFY_SANDBOX=none` (never use a network namespace for the binary smoke),
 * `RENDER_EVIDENCE=worker` (where this runner cannot render a web app, the worker's render
 * evidence for the same bytes is required; default `none`: a skipped render passes).
 */
export function verifySettingsFrom(env: NodeJS.ProcessEnv): VerifySettings {
  const settings: VerifySettings = {};
  if (env.VERIFY_HOST_PLATFORM?.trim()) settings.hostPlatform = env.VERIFY_HOST_PLATFORM.trim();
  if (env.VERIFY_REQUIRE_HOST_BINARY === 'false') settings.requireHostBinary = false;
  if (env.VERIFY_SANDBOX === 'none') settings.smoke = { sandbox: 'none' };
  const renderEvidence = renderEvidenceModeFrom(env);
  if (renderEvidence !== 'none') settings.smoke = { ...settings.smoke, renderEvidence };
  return settings;
}

/**
 * `SMOKE_FUNCTION_NAME` (set by CDK on VerifyArtifacts): candidate binaries run their smoke in
 * that isolated function (no data permissions, egress only to the S3 endpoint), which fetches the
 * staged object through a short-lived presigned GET. Unset (local): the smoke runs in-process.
 */
export function remoteSmokeFrom(env: NodeJS.ProcessEnv, buckets: BucketNames): RemoteSmoke | undefined {
  const name = env.SMOKE_FUNCTION_NAME?.trim();
  if (!name) return undefined;
  return new LambdaSmokeRunner(lambdaClient(), s3Client(), name, buckets.staging);
}

/** `MAX_INFRA_RETRIES` (0–10, default 3) and `INFRA_RETRY_BASE_SECONDS` (0–600, default 30). */
export function infraRetryFrom(env: NodeJS.ProcessEnv): InfraRetryPolicy {
  const int = (name: string, fallback: number, max: number) => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > max)
      throw new Error(`${name} must be an integer from 0 to ${max}`);
    return n;
  };
  return {
    max: int('MAX_INFRA_RETRIES', DEFAULT_INFRA_RETRY.max, 10),
    baseSeconds: int('INFRA_RETRY_BASE_SECONDS', DEFAULT_INFRA_RETRY.baseSeconds, 600),
  };
}

/**
 * Where the acceptance checks (and, on AWS, the render check) run. With `SMOKE_FUNCTION_NAME` and
 * `WEB_CHECK_FUNCTION_NAME` (set by CDK on VerifyArtifacts): cli checks in the SmokeBinary
 * function, the render check and web checks in the WebChecks function (Chromium for Lambda).
 * Otherwise (local): in-process, the gate's network namespace and its own Chromium.
 */
export function acceptanceRunnersFrom(
  env: NodeJS.ProcessEnv,
  buckets: BucketNames,
  settings: VerifySettings,
): { acceptanceRunners: AcceptanceRunners; remoteRender?: RemoteRender } {
  const smokeName = env.SMOKE_FUNCTION_NAME?.trim();
  const webName = env.WEB_CHECK_FUNCTION_NAME?.trim();
  if (smokeName && webName) {
    const smoke = new LambdaSmokeRunner(lambdaClient(), s3Client(), smokeName, buckets.staging);
    const remote = new LambdaAcceptanceRunners(lambdaClient(), s3Client(), smoke, webName, buckets.staging);
    return { acceptanceRunners: remote, remoteRender: remote };
  }
  return {
    acceptanceRunners: inProcessAcceptanceRunners(settings),
  };
}

let deps: OrchestratorDeps | undefined;

/** Adapters built once per Lambda container (or once per local runner process). */
export function orchestratorDeps(): OrchestratorDeps {
  if (deps) return deps;
  const env = process.env;
  const config = loadConfig(env);
  const store = new DynamoRunStore(documentClient(), config.tableName);
  const now = () => new Date().toISOString();
  const buckets = bucketNames(config);
  const remoteSmoke = remoteSmokeFrom(env, buckets);
  const verifySettings = verifySettingsFrom(env);
  deps = {
    store,
    settlement: stripeSettlementFromEnv(store, now, env),
    publisher: config.eventBusName
      ? new EventBridgePublisher(eventBridgeClient(), config.eventBusName)
      : new NoopPublisher(),
    artifacts: new S3ArtifactStore(s3Client(), buckets),
    // Only PrepareBranch needs the repository (REPO_DIR: the bare repo, EFS on AWS).
    repos: branchStoreFromEnv(env),
    maxAttempts: maxAttemptsFrom(env),
    infraRetry: infraRetryFrom(env),
    verifierPlatform: verifySettings.hostPlatform ?? detectHostPlatform(),
    profile: ARTIFACT_BUILDER_PROFILE,
    verifySettings,
    ...(remoteSmoke && { remoteSmoke }),
    ...acceptanceRunnersFrom(env, buckets, verifySettings),
    now,
  };
  return deps;
}

/** Test hook. */
export function setOrchestratorDeps(next: OrchestratorDeps | undefined): void {
  deps = next;
}
