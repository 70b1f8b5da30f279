import type { Readable } from 'node:stream';
import type { WorkerAssignment } from '../../domain/assignment.ts';
import type { BuildRun } from '../../domain/run.ts';
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
