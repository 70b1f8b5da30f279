import type { Readable } from 'node:stream';
import type { CheckOutcome, CliCheck, WebCheck } from '../../domain/acceptance.ts';
import type { WorkerAssignment } from '../../domain/assignment.ts';
import type { ManifestEntry } from '../../domain/manifest.ts';
import type { BuildRun } from '../../domain/run.ts';
import type { WebChecksResult } from '../../verify/acceptance/types.ts';
import type { RenderCheckResult } from '../../verify/render-check.ts';
import type { BinarySmokeResult } from '../../verify/smoke-binary.ts';

/** The three buckets, by role (their names come from configuration in the adapter). */
export type BucketRole = 'staging' | 'evidence' | 'artifacts';

export interface ObjectInfo {
  size: number;
  /** The `sha256` metadata written by {@link ArtifactStore.putFile}, when present. */
  sha256?: string;
  contentType?: string;
}

export interface DownloadLimits {
  maxFiles: number;
  maxBytes: number;
}

export interface DownloadResult {
  files: number;
  bytes: number;
  /** Keys refused because their relative part is not a safe path (never written to disk). */
  rejected: string[];
  /** True when the limits were exceeded; the download stopped. */
  overLimit: boolean;
}

/**
 * Internal objects in S3 (staging, evidence, verified artifacts). Keys come only from
 * `lib/aws/keys.ts`.
 */
export interface ArtifactStore {
  /** Parsed JSON, or undefined when the object does not exist. */
  getJson(bucket: BucketRole, key: string): Promise<unknown>;
  putJson(bucket: BucketRole, key: string, value: unknown): Promise<void>;
  head(bucket: BucketRole, key: string): Promise<ObjectInfo | undefined>;
  /** Downloads every object below `prefix` into `dir` (relative paths kept; unsafe keys refused). */
  downloadPrefix(
    bucket: BucketRole,
    prefix: string,
    dir: string,
    limits?: DownloadLimits,
  ): Promise<DownloadResult>;
  /** Uploads a local file with its content type and its sha256 as object metadata. */
  putFile(
    bucket: BucketRole,
    key: string,
    file: string,
    meta: { contentType: string; sha256: string; size: number },
  ): Promise<void>;
  /** A readable stream of an object, or undefined when it does not exist. */
  getStream(bucket: BucketRole, key: string): Promise<{ body: Readable; info: ObjectInfo } | undefined>;
}

/** The template repository's build branches (`RepoStore` in `lib/aws/repo-store.ts`). */
export interface BranchStore {
  ensureBranch(run: Pick<BuildRun, 'runId' | 'createdAt'>): Promise<{ repoId: string; branch: string }>;
}

/** The fixed parts of every worker assignment (`worker-image/src/profile.ts`). */
export type AssignmentProfile = Pick<
  WorkerAssignment,
  'buildCommands' | 'testCommands' | 'verificationCommands' | 'manifestPath' | 'rules' | 'progressStyle'
>;

/** One staged candidate binary for the remote smoke: its staging key and the manifest's facts. */
export interface RemoteSmokeRequest {
  /** Key in the staging bucket (`keys.candidate(...)`). */
  key: string;
  sha256: string;
  sizeBytes: number;
  timeoutMs?: number;
  maxOutputBytes?: number;
}

/**
 * Runs a binary smoke somewhere isolated (AWS: the SmokeBinary function, lib/aws/smoke-invoker.ts).
 * Throws `SmokeRunnerError` for its own failures; a binary that fails is a result.
 */
export interface RemoteSmoke {
  run(req: RemoteSmokeRequest): Promise<BinarySmokeResult>;
}

/**
 * One acceptance-check run on one staged candidate entry. `path` is the gate's verified local copy
 * (a file for a binary, a directory for a web app); a remote runner finds the same bytes in the
 * staging bucket at `keys.candidate(runId, attempt, entry.path + …)` and checks them against the
 * entry's sha256.
 */
export interface CandidateChecksRequest<C> {
  runId: string;
  attempt: number;
  entry: ManifestEntry;
  path: string;
  checks: readonly C[];
}

/**
 * Where the gate runs the acceptance checks (lib/domain/acceptance.ts). Locally: in-process
 * runners (network namespace, the gate's Chromium). AWS: the isolated, permissionless check
 * functions. Throws `SmokeRunnerError` for its own failures; a tool that fails a check is an
 * outcome with `passed: false`.
 */
export interface AcceptanceRunners {
  cli(req: CandidateChecksRequest<CliCheck>): Promise<CheckOutcome[]>;
  web(req: CandidateChecksRequest<WebCheck> & { screenshot: boolean }): Promise<WebChecksResult>;
}

/**
 * Runs the render check of one staged web entry somewhere isolated (AWS: the WebChecks function,
 * lib/aws/web-check-invoker.ts), so the gate's render verdict never rests on the worker's evidence.
 */
export interface RemoteRender {
  render(req: Omit<CandidateChecksRequest<never>, 'checks'>): Promise<RenderCheckResult>;
}
