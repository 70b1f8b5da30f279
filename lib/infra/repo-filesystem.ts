import { RemovalPolicy } from 'aws-cdk-lib';
import * as efs from 'aws-cdk-lib/aws-efs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { BuildNetwork } from './network.ts';

/**
 * The owner of every file on the access point: the access point maps all clients (PrepareBranch,
 * the worker's root supervisor, its unprivileged command user) to this uid/gid.
 */
export const REPO_UID = '10001';
export const REPO_GID = '10001';
/** Where the access point is mounted, in the PrepareBranch function and in the worker container. */
export const REPO_MOUNT_PATH = '/mnt/repos';
/** REPO_DIR: the template's bare repository below the mount. */
export const REPO_DIR = `${REPO_MOUNT_PATH}/template.git`;
/** Directory of the access point on the file system. */
export const REPO_ACCESS_POINT_PATH = '/repos';

const CLIENT_ACTIONS = ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'];

/** `lambda.FileSystem` with caller-chosen policies (its constructor is protected). */
class ScopedLambdaFileSystem extends lambda.FileSystem {
  // Public: widens the protected constructor.
  constructor(config: lambda.FileSystemConfig) {
    super(config);
  }
}

export interface RepoFileSystemProps {
  readonly network: BuildNetwork;
}

/**
 * The template repository on EFS: a bare git repository at `/repos/template.git`, reached only
 * through one access point that maps every client to uid/gid 10001, so
 * the orchestrator (isomorphic-git in PrepareBranch) and the worker (git in the container) write
 * objects and refs with the same owner. Encrypted at rest and in transit, IAM-authorised mounts
 * only, automatic backups, retained when the stack is deleted.
 *
 * Who may mount: PrepareBranch (creates `build/{date}/{run}` branches) and the worker (clones the
 * branch, pushes its commits back), each by an identity policy naming this access point. The
 * file system policy has no Allow at all: it denies unencrypted transport and any mount that does
 * not go through an access point, and (having a policy) it refuses anonymous NFS clients.
 *
 * Seeding: automatic. PrepareBranch carries `template-repo/` in its bundle (`TEMPLATE_DIR`) and,
 * once per container, runs the idempotent `initTemplate` against `REPO_DIR` before creating a
 * branch (functions/orchestrator/branch-store.ts): the first build seeds the repository, and a
 * deploy with a changed template commits it and moves the base tag.
 */
export class RepoFileSystem extends Construct {
  readonly fileSystem: efs.FileSystem;
  readonly accessPoint: efs.AccessPoint;

  constructor(scope: Construct, id: string, props: RepoFileSystemProps) {
    super(scope, id);
    const { network } = props;

    const policy = new iam.PolicyDocument({
      statements: [
        new iam.PolicyStatement({
          sid: 'DenyUnencryptedTransport',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['elasticfilesystem:Client*'],
          resources: ['*'],
          conditions: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
        new iam.PolicyStatement({
          sid: 'DenyMountsWithoutAccessPoint',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['elasticfilesystem:Client*'],
          resources: ['*'],
          conditions: { Null: { 'elasticfilesystem:AccessPointArn': 'true' } },
        }),
      ],
    });

    this.fileSystem = new efs.FileSystem(this, 'FileSystem', {
      vpc: network.vpc,
      vpcSubnets: network.subnets,
      securityGroup: network.fileSystemSecurityGroup,
      encrypted: true,
      enableAutomaticBackups: true,
      performanceMode: efs.PerformanceMode.GENERAL_PURPOSE,
      throughputMode: efs.ThroughputMode.ELASTIC,
      removalPolicy: RemovalPolicy.RETAIN,
      fileSystemPolicy: policy,
      // `true` only stops CDK from adding its default statement (ClientWrite and ClientRootAccess
      // for any principal via a mount target). The policy above has no Allow, so anonymous
      // clients are refused and IAM principals need an identity grant (grantMount).
      allowAnonymousAccess: true,
    });

    this.accessPoint = this.fileSystem.addAccessPoint('Repos', {
      path: REPO_ACCESS_POINT_PATH,
      posixUser: { uid: REPO_UID, gid: REPO_GID },
      createAcl: { ownerUid: REPO_UID, ownerGid: REPO_GID, permissions: '750' },
    });
  }

  /**
   * The access point as a Lambda file system, mounted at {@link REPO_MOUNT_PATH}. Unlike
   * `lambda.FileSystem.fromEfsAccessPoint` (ClientMount on `*`, ClientWrite on the whole file
   * system), the function's role gets the same access-point-scoped grant as the worker.
   */
  lambdaFileSystem(): lambda.FileSystem {
    return new ScopedLambdaFileSystem({
      localMountPath: REPO_MOUNT_PATH,
      arn: this.accessPoint.accessPointArn,
      dependency: [this.fileSystem.mountTargetsAvailable],
      connections: this.fileSystem.connections,
      policies: [this.mountStatement()],
    });
  }

  /** ClientMount and ClientWrite through this access point only (never ClientRootAccess). */
  grantMount(grantee: iam.IGrantable): iam.AddToPrincipalPolicyResult {
    return grantee.grantPrincipal.addToPrincipalPolicy(this.mountStatement());
  }

  private mountStatement(): iam.PolicyStatement {
    return new iam.PolicyStatement({
      actions: CLIENT_ACTIONS,
      resources: [this.fileSystem.fileSystemArn],
      conditions: { StringEquals: { 'elasticfilesystem:AccessPointArn': this.accessPoint.accessPointArn } },
    });
  }
}
