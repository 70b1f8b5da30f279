import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import type { StorageConfig } from './config.ts';

/**
 * Key prefixes of `lib/aws/keys.ts`. Grants name a prefix, never the whole bucket, so a role that
 * may write candidates cannot touch assignments, and so on.
 */
export const KEY_PREFIXES = {
  assignments: 'assignments/',
  candidates: 'candidates/',
  evidenceRuns: 'runs/',
  publishedRuns: 'runs/',
} as const;

export type BucketRole = 'staging' | 'evidence' | 'artifacts';

export interface BuildBucketsProps {
  readonly storage: StorageConfig;
}

/** Defaults every bucket shares: TLS only, no public access, SSE-S3, no ACLs, retained. */
function secureDefaults(): Pick<
  s3.BucketProps,
  | 'enforceSSL'
  | 'minimumTLSVersion'
  | 'blockPublicAccess'
  | 'encryption'
  | 'objectOwnership'
  | 'removalPolicy'
> {
  return {
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: RemovalPolicy.RETAIN,
  };
}

/**
 * The three internal buckets and their server access log bucket.
 *
 * | bucket    | holds                                            | lifecycle                          |
 * |-----------|--------------------------------------------------|------------------------------------|
 * | staging   | assignments/…, candidates/… (worker output)      | expire after N days                |
 * | evidence  | runs/… (worker log, result, verification report) | Standard-IA after 30 d, expire 1 y |
 * | artifacts | runs/… verified, published objects               | kept; versioned; deletes denied    |
 *
 * None is public: visitors get short-lived presigned links to artifacts only. Encryption is
 * SSE-S3 (a customer key would need a key grant in every role and buys nothing here: no
 * cross-account readers). Grants are per key prefix (see the grant helpers) with explicit
 * actions, never `s3:*` or `s3:GetObject*`.
 */
export class BuildBuckets extends Construct {
  readonly staging: s3.Bucket;
  readonly evidence: s3.Bucket;
  readonly artifacts: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: BuildBucketsProps) {
    super(scope, id);
    const { storage } = props;

    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      ...secureDefaults(),
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: Duration.days(storage.accessLogExpirationDays) },
      ],
    });
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the server access log bucket of the staging, evidence and artifacts buckets. Logging ' +
        'it into itself would log every log delivery; S3 recommends a destination without logging.',
    });

    this.staging = new s3.Bucket(this, 'Staging', {
      ...secureDefaults(),
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'staging/',
      lifecycleRules: [
        {
          id: 'expire-assignments',
          prefix: KEY_PREFIXES.assignments,
          expiration: Duration.days(storage.stagingExpirationDays),
        },
        {
          id: 'expire-candidates',
          prefix: KEY_PREFIXES.candidates,
          expiration: Duration.days(storage.stagingExpirationDays),
        },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });

    this.evidence = new s3.Bucket(this, 'Evidence', {
      ...secureDefaults(),
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'evidence/',
      lifecycleRules: [
        {
          id: 'age-evidence',
          transitions: [
            {
              storageClass: s3.StorageClass.INFREQUENT_ACCESS,
              transitionAfter: Duration.days(storage.evidenceInfrequentAccessDays),
            },
          ],
          expiration: Duration.days(storage.evidenceExpirationDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });

    // Published artifacts are immutable: Publish writes each key once (and refuses to overwrite),
    // versioning keeps any earlier bytes, and no principal may delete an object or a version.
    // Only lifecycle (not subject to bucket policies) removes noncurrent versions.
    this.artifacts = new s3.Bucket(this, 'Artifacts', {
      ...secureDefaults(),
      versioned: true,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [
        {
          id: 'keep-artifacts',
          abortIncompleteMultipartUploadAfter: Duration.days(1),
          noncurrentVersionExpiration: Duration.days(90),
        },
      ],
    });
    this.artifacts.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyDeletingPublishedArtifacts',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
        resources: [this.artifacts.arnForObjects('*')],
      }),
    );
  }

  bucket(role: BucketRole): s3.Bucket {
    return this[role];
  }

  /** GetObject (and HeadObject) on `prefix*` of one bucket. */
  grantReadPrefix(grantee: iam.IGrantable, role: BucketRole, prefix: string): iam.Grant {
    return this.grantObjects(grantee, role, prefix, ['s3:GetObject']);
  }

  /** PutObject on `prefix*` of one bucket (no delete, no ACLs, no tagging). */
  grantWritePrefix(grantee: iam.IGrantable, role: BucketRole, prefix: string): iam.Grant {
    return this.grantObjects(grantee, role, prefix, ['s3:PutObject']);
  }

  /**
   * ListBucket on one bucket: needed to page through a key prefix, and to get 404 (rather than
   * 403) for a missing key, which the adapters rely on to tell "not there yet" from "denied".
   */
  grantList(grantee: iam.IGrantable, role: BucketRole): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket(role).bucketArn],
    });
  }

  /**
   * The cdk-nag finding id of a prefix grant (`AwsSolutions-IAM5[Resource::<Bucket.Arn>/prefix/*]`),
   * acknowledged on the grantee's role by every prefix grant.
   */
  prefixFindingId(role: BucketRole, prefix: string): string {
    const bucket = this.bucket(role);
    const logicalId = Stack.of(bucket).getLogicalId(bucket.node.defaultChild as CfnElement);
    return `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${prefix}*]`;
  }

  private grantObjects(
    grantee: iam.IGrantable,
    role: BucketRole,
    prefix: string,
    actions: string[],
  ): iam.Grant {
    if (!/^[a-z]+\/$/.test(prefix))
      throw new Error(`grant prefix must be one folder like "runs/": ${prefix}`);
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.bucket(role).arnForObjects(`${prefix}*`)],
    });
    const principal = grantee.grantPrincipal as Partial<IConstruct>;
    if (principal.node) {
      Validations.of(principal as IConstruct).acknowledge({
        id: this.prefixFindingId(role, prefix),
        reason:
          `Object keys below ${role} ${prefix} are created per run and attempt (lib/aws/keys.ts), so the ` +
          'grant needs a key wildcard; it is limited to that one prefix of one bucket and to the named ' +
          'object actions (GetObject / PutObject), never delete, ACL or bucket-wide access.',
      });
    }
    return grant;
  }
}
