import { Validations } from 'aws-cdk-lib';
import { Repository } from 'aws-cdk-lib/aws-ecr';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { BuildBuckets } from './buckets.ts';
import { KEY_PREFIXES } from './buckets.ts';
import type { StackConfig } from './config.ts';
import type { DataTable } from './data-table.ts';
import type { BuildNetwork } from './network.ts';
import { REPO_ROOT } from './paths.ts';
import { REPO_DIR, REPO_MOUNT_PATH, type RepoFileSystem } from './repo-filesystem.ts';

/** The container name the state machine's ContainerOverrides refer to. */
export const WORKER_CONTAINER_NAME = 'worker';

/**
 * Writable paths of the image when the root file system is read-only (`worker.readonlyRootFilesystem`):
 * the work tree and temp files (`WORK_DIR=/tmp` in the image) and the Go build cache. Each is a
 * task-local volume on the ephemeral storage. ECS copies the image's content (the warm Go cache)
 * and ownership into such a volume only when the Dockerfile declares the same path as a `VOLUME`,
 * so the image must end with `VOLUME ["/tmp", "/home/builder/.cache"]` (after the chown/warm-up
 * steps) before the flag is turned on; otherwise the volumes are empty, root-owned and unwritable
 * for the command user (`builder`, 10002), whose builds write the Go cache.
 */
export const WORKER_WRITABLE_PATHS: Readonly<Record<string, string>> = {
  tmp: '/tmp',
  'go-cache': '/home/builder/.cache',
};

/**
 * `COMMAND_USER` of the worker container: the image's `builder` user, which runs the untrusted
 * test/build commands and external agents (worker-image/src/command-user.ts). The worker itself
 * runs as root (container user `0:0`) so that it can switch to it.
 */
export const WORKER_COMMAND_USER = '10002:10002';

/**
 * The only Linux capabilities the (root) worker keeps; every other one is dropped. Fargate can
 * drop but not add capabilities beyond its default set, which contains these six:
 * SETUID/SETGID to start commands as the command user, CHOWN to hand it the worktree, KILL to
 * stop its processes, DAC_OVERRIDE to read, write and remove in the worktree it owns (build
 * outputs, the model coder's writes, the attempt's cleanup). No CAP_SYS_PTRACE, CAP_NET_RAW,
 * CAP_SYS_ADMIN or the like, and the command user, another uid, holds none after the switch.
 */
export const WORKER_KEPT_CAPABILITIES: readonly ecs.Capability[] = [
  ecs.Capability.CHOWN,
  ecs.Capability.DAC_OVERRIDE,
  ecs.Capability.KILL,
  ecs.Capability.SETGID,
  ecs.Capability.SETUID,
];

/** Every capability except {@link WORKER_KEPT_CAPABILITIES}. */
export function workerDroppedCapabilities(): ecs.Capability[] {
  return Object.values(ecs.Capability).filter(
    (c) => c !== ecs.Capability.ALL && !WORKER_KEPT_CAPABILITIES.includes(c),
  );
}

/**
 * A prebuilt image (`-c workerImage=<uri>`, pushed by `npm run image -- --push <repo>`): an ECR
 * URI is pulled with ECR permissions on that repository for the execution role; any other
 * registry as is. Without one, the CDK asset builds `worker-image/Dockerfile` at deploy time,
 * which needs docker or podman on the deploying machine (with arm64 emulation on x86).
 */
export function workerContainerImage(scope: Construct, uri: string | undefined): ecs.ContainerImage {
  if (!uri) {
    return ecs.ContainerImage.fromAsset(REPO_ROOT, {
      file: 'worker-image/Dockerfile',
      exclude: WORKER_IMAGE_EXCLUDE,
      platform: Platform.LINUX_ARM64,
    });
  }
  const ecr = parseEcrImageUri(uri);
  if (!ecr) return ecs.ContainerImage.fromRegistry(uri);
  const repository = Repository.fromRepositoryAttributes(scope, 'WorkerImageRepository', {
    repositoryName: ecr.repository,
    repositoryArn: `arn:aws:ecr:${ecr.region}:${ecr.account}:repository/${ecr.repository}`,
  });
  return ecs.ContainerImage.fromEcrRepository(repository, ecr.tagOrDigest);
}

/** `<account>.dkr.ecr.<region>.amazonaws.com/<repo>(:tag|@sha256:…)`, or undefined for another registry. */
export function parseEcrImageUri(
  uri: string,
): { account: string; region: string; repository: string; tagOrDigest: string } | undefined {
  const m =
    /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\/([a-z0-9._/-]+?)(?::([\w.-]{1,128})|@(sha256:[0-9a-f]{64}))?$/.exec(
      uri,
    );
  if (!m) return undefined;
  return { account: m[1]!, region: m[2]!, repository: m[3]!, tagOrDigest: m[5] ?? m[4] ?? 'latest' };
}

/** Paths the image build context never needs (the Dockerfile copies what it uses). */
export const WORKER_IMAGE_EXCLUDE = [
  '**/node_modules',
  'cdk.out',
  '.data',
  '.git',
  'template-repo/dist',
  'test-output',
];

export interface BuildWorkerProps {
  readonly config: StackConfig;
  readonly network: BuildNetwork;
  readonly repos: RepoFileSystem;
  readonly buckets: BuildBuckets;
  readonly table: DataTable;
}

/**
 * The build worker: an ECS cluster and a Fargate task definition that the state machine runs once
 * per attempt (`ecs:runTask.sync`, RUN_ID and ATTEMPT as container overrides).
 *
 * - ARM64 (Graviton), like the Lambdas: the same architecture runs the verification smoke tests.
 * - Image built from `worker-image/Dockerfile` with the repository root as context (it imports
 *   `lib/domain`). The worker runs as root (the task pins `0:0`) only to drop privileges: the
 *   untrusted test/build commands and external agents run as the image's `builder` user
 *   ({@link WORKER_COMMAND_USER}), which cannot read the worker's environment (the task role's
 *   credentials URI) or reach the EFS mount (`/mnt` is root-only in the image). The EFS access
 *   point still maps every client, root included, to uid/gid 10001, so the repository's owner
 *   does not change.
 * - All Linux capabilities dropped except the five the privilege switch needs
 *   ({@link WORKER_KEPT_CAPABILITIES}), an init process to reap the build's child processes;
 *   optionally a read-only root file system (see {@link WORKER_WRITABLE_PATHS}).
 * - The template repository's EFS access point at `/mnt/repos` (TLS, IAM authorisation).
 * - Logs to a log group with retention (awslogs, non-blocking so a slow log sink cannot stall a
 *   build).
 *
 * The task role may: read `assignments/*` and write `candidates/*` in staging, write `runs/*` in
 * evidence, Query/PutItem its run's items (`RUN#…`) in the table, and mount the access point. It
 * has no access to the artifacts bucket, no delete, no Scan, no EventBridge, no Step Functions.
 */
export class BuildWorker extends Construct {
  readonly cluster: ecs.Cluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly taskRole: iam.Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: BuildWorkerProps) {
    super(scope, id);
    const { config, network, repos, buckets, table } = props;

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: network.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `bus-build ${config.stage} worker task role`,
    });

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      family: `bus-build-${config.stage}-worker`,
      cpu: config.worker.cpu,
      memoryLimitMiB: config.worker.memoryLimitMiB,
      ephemeralStorageGiB: config.worker.ephemeralStorageGiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      taskRole: this.taskRole,
    });

    this.taskDefinition.addVolume({
      name: 'repos',
      efsVolumeConfiguration: {
        fileSystemId: repos.fileSystem.fileSystemId,
        transitEncryption: 'ENABLED',
        authorizationConfig: { accessPointId: repos.accessPoint.accessPointId, iam: 'ENABLED' },
      },
    });
    const { readonlyRootFilesystem } = config.worker;
    if (readonlyRootFilesystem) {
      for (const name of Object.keys(WORKER_WRITABLE_PATHS)) this.taskDefinition.addVolume({ name });
    }

    this.logGroup = new LogGroup(this, 'Logs', { retention: config.logRetention });

    const linuxParameters = new ecs.LinuxParameters(this, 'LinuxParameters', { initProcessEnabled: true });
    linuxParameters.dropCapabilities(...workerDroppedCapabilities());

    this.container = this.taskDefinition.addContainer(WORKER_CONTAINER_NAME, {
      containerName: WORKER_CONTAINER_NAME,
      image: workerContainerImage(this, config.worker.image),
      essential: true,
      user: '0:0',
      readonlyRootFilesystem,
      linuxParameters,
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'worker',
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
      }),
      // RUN_ID and ATTEMPT come per run from the state machine's container overrides. The image
      // sets the rest (HOME, WORK_DIR, Go caches, GOPROXY=off, GOTOOLCHAIN=local: there is no
      // route to the internet, so nothing may try to download modules or toolchains).
      environment: {
        TABLE_NAME: table.tableName,
        STAGING_BUCKET: buckets.staging.bucketName,
        EVIDENCE_BUCKET: buckets.evidence.bucketName,
        REPO_DIR,
        CODER: config.worker.coder,
        WORKER_TIMEOUT_SECONDS: String(config.worker.timeoutSeconds),
        // The image carries Chromium and on AWS the worker's render is the only one (the
        // VerifyArtifacts Lambda checks its evidence): an image without a browser fails the attempt.
        RENDER_CHECK: 'required',
        // Untrusted commands run as the image's unprivileged builder user (the image sets the
        // same; pinned here so an image without it cannot silently run them as root).
        COMMAND_USER: WORKER_COMMAND_USER,
      },
    });
    this.container.addMountPoints({ sourceVolume: 'repos', containerPath: REPO_MOUNT_PATH, readOnly: false });
    if (readonlyRootFilesystem) {
      for (const [sourceVolume, containerPath] of Object.entries(WORKER_WRITABLE_PATHS)) {
        this.container.addMountPoints({ sourceVolume, containerPath, readOnly: false });
      }
    }

    buckets.grantReadPrefix(this.taskRole, 'staging', KEY_PREFIXES.assignments);
    buckets.grantWritePrefix(this.taskRole, 'staging', KEY_PREFIXES.candidates);
    buckets.grantWritePrefix(this.taskRole, 'evidence', KEY_PREFIXES.evidenceRuns);
    table.grantRunEventAppend(this.taskRole);
    repos.grantMount(this.taskRole);

    Validations.of(this.taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'The task execution role pulls the worker image from the CDK assets repository: ECS adds ' +
        'ecr:GetAuthorizationToken, which supports no resource-level permissions (Resource "*"). The ' +
        'layer actions are limited to the one repository and logs to the worker log group.',
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The container environment holds resource names and settings only (table, bucket names, repository ' +
        'path, coder, timeouts, Go flags). The worker has no secrets; any future credential (e.g. a model ' +
        'API key) must come from Secrets Manager through the container secrets property instead.',
    });
  }

  /** The roles the state machine passes to ECS when it runs the task. */
  get passRoles(): iam.IRole[] {
    return [this.taskRole, this.taskDefinition.obtainExecutionRole()];
  }
}
