import type { EventPublisher, RunStore } from '../../domain/ports.ts';
import type { VerificationReport, VerifyCandidateOptions } from '../../verify/index.ts';
import type { PaymentSettlement } from '../settle-payment.ts';
import type {
  AcceptanceRunners,
  ArtifactStore,
  AssignmentProfile,
  BranchStore,
  DownloadLimits,
  RemoteRender,
  RemoteSmoke,
} from './ports.ts';
import type { InfraRetryPolicy } from './record-worker-failure.ts';

/** What every orchestrator task needs. */
export interface TaskDeps {
  store: RunStore;
  publisher: EventPublisher;
  now: () => string;
  /** Payment settlement after Publish / FailRun (capture / cancel a Stripe authorization); optional. */
  settlement?: PaymentSettlement;
}

export interface PrepareBranchDeps extends TaskDeps {
  repos: BranchStore;
  /** Worker attempts per execution (env `MAX_ATTEMPTS`, default 3). */
  maxAttempts: number;
}

export interface AssignWorkerDeps extends TaskDeps {
  artifacts: ArtifactStore;
  profile: AssignmentProfile;
  /** Worker id generator (tests). */
  newWorkerId?: () => string;
  /** The platform VerifyArtifacts runs binaries on; always built so the smoke can run. */
  verifierPlatform?: string;
}

export interface RecordWorkerFailureDeps extends TaskDeps {
  artifacts: ArtifactStore;
  /** How infrastructure failures of a worker are retried (default `DEFAULT_INFRA_RETRY`). */
  infraRetry?: InfraRetryPolicy;
}

/** Options of `verifyCandidate` the deployment may set (limits, host platform, smoke timeouts…). */
export type VerifySettings = Partial<
  Omit<VerifyCandidateOptions, 'root' | 'expectedArtifactType' | 'manifestPath'>
>;

export interface VerifyArtifactsDeps extends TaskDeps {
  artifacts: ArtifactStore;
  infraRetry?: InfraRetryPolicy;
  /** The verification gate; `verifyCandidate` from `lib/verify` unless a test replaces it. */
  verify?: (opts: VerifyCandidateOptions) => Promise<VerificationReport>;
  verifySettings?: VerifySettings;
  /**
   * Where candidate binaries run their smoke. Unset (local): here (`smokeBinary`, in a network
   * namespace when one works). AWS (`SMOKE_FUNCTION_NAME`): the isolated SmokeBinary function,
   * given a presigned GET of the staged object and the manifest's sha256 and size.
   */
  remoteSmoke?: RemoteSmoke;
  /**
   * Where the approved spec's acceptance checks run (locally in-process, on AWS the isolated
   * check functions). Unset: a run whose spec has checks fails the task (never passes unchecked).
   */
  acceptanceRunners?: AcceptanceRunners;
  /** Where the render check runs (AWS: the isolated WebChecks function); unset: in-process. */
  remoteRender?: RemoteRender;
  /** Parent of the per-call scratch directory (default: the OS temp dir). */
  tempDir?: string;
  downloadLimits?: DownloadLimits;
}

export interface PublishDeps extends TaskDeps {
  artifacts: ArtifactStore;
  tempDir?: string;
  downloadLimits?: DownloadLimits;
}

export type FailRunDeps = TaskDeps;

/** Everything the six task handlers need together. */
export type OrchestratorDeps = PrepareBranchDeps &
  AssignWorkerDeps &
  RecordWorkerFailureDeps &
  VerifyArtifactsDeps &
  PublishDeps &
  FailRunDeps;
