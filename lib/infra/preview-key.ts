import { fileURLToPath } from 'node:url';
import {
  CustomResource,
  CustomResourceProvider,
  CustomResourceProviderRuntime,
  Duration,
  Names,
  RemovalPolicy,
  Validations,
} from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export const PREVIEW_KEY_IMPORT_OBJECT = 'kvs-import/preview-key.json';
const KEY_IMPORT_CODE = fileURLToPath(new URL('./preview-function/key-import', import.meta.url));

export interface PreviewKeyProps {
  readonly stage: string;
  /** Server access logs of the import bucket. */
  readonly accessLogs: s3.IBucket;
}

/**
 * The dedicated preview signing key, in two places that must agree:
 *
 * 1. a Secrets Manager secret (generated at deploy time), read by the API's ListArtifacts function
 *    (`PREVIEW_SECRET_ARN`) to sign preview tokens;
 * 2. the CloudFront KeyValueStore of the preview distribution (key `preview-signing-key`), read by
 *    the viewer-request CloudFront Function to verify them at the edge.
 *
 * The copy from 1 to 2 happens at deploy time: a small custom resource reads the secret and writes
 * the KeyValueStore import document into a private bucket (objects expire after one day), and the
 * KeyValueStore is created from it (`ImportSource`). The KeyValueStore data-plane API (PutKey) is
 * SigV4a-only and unusable from the Lambda runtime's SDK without extra packages, so it is not used.
 * Rotation: put a new secret value and change `keyVersion` (a new store is created and imported).
 */
export class PreviewKey extends Construct {
  readonly secret: Secret;
  readonly store: cloudfront.KeyValueStore;
  readonly importBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: PreviewKeyProps & { keyVersion?: number }) {
    super(scope, id);
    this.secret = new Secret(this, 'Secret', {
      description: `BusDK Artifact Builder (${props.stage}): preview link signing key`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret is the HMAC key of short-lived preview links and is copied into the preview ' +
        "distribution's KeyValueStore at deploy time. Rotating it in place would leave the edge with " +
        'the old key; it is rotated by a new value plus a new keyVersion, which re-imports the store.',
    });

    this.importBucket = new s3.Bucket(this, 'ImportBucket', {
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.DESTROY,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'preview-key-import/',
      lifecycleRules: [{ id: 'expire-import-documents', expiration: Duration.days(1) }],
    });

    const keyVersion = props.keyVersion ?? 1;
    const importKey = PREVIEW_KEY_IMPORT_OBJECT.replace('.json', `-v${keyVersion}.json`);
    const provider = CustomResourceProvider.getOrCreateProvider(this, 'Custom::PreviewKeyImport', {
      codeDirectory: KEY_IMPORT_CODE,
      runtime: CustomResourceProviderRuntime.NODEJS_22_X,
      description: 'Copies the preview signing key into the KeyValueStore import document',
      timeout: Duration.minutes(1),
      policyStatements: [
        {
          Effect: 'Allow',
          Action: ['secretsmanager:GetSecretValue'],
          Resource: this.secret.secretArn,
        },
        {
          Effect: 'Allow',
          Action: ['s3:PutObject'],
          Resource: this.importBucket.arnForObjects(importKey),
        },
      ],
    });
    const writer = new CustomResource(this, 'Import', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::PreviewKeyImport',
      properties: { SecretArn: this.secret.secretArn, Bucket: this.importBucket.bucketName, Key: importKey },
    });
    writer.node.addDependency(this.importBucket);

    this.store = new cloudfront.KeyValueStore(this, 'Store', {
      // A new version is a new store: ImportSource cannot be updated in place.
      keyValueStoreName: `${Names.uniqueResourceName(this, { maxLength: 56, separator: '-' })}-v${keyVersion}`,
      comment: `BusDK Artifact Builder (${props.stage}) preview signing key v${keyVersion}`,
      source: cloudfront.ImportSource.fromBucket(this.importBucket, importKey),
    });
    this.store.node.addDependency(writer);
    this.importObjectKey = importKey;
  }

  readonly importObjectKey: string;

  /** GetSecretValue/DescribeSecret on the preview key only (the API's link signer). */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.secret.grantRead(grantee);
  }
}
