import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/**
 * The bucket for a distribution's CloudFront standard logs. Those need an ACL-enabled bucket
 * (the log delivery writes with ACLs); objects expire after 90 days.
 */
export function cloudFrontLogsBucket(scope: Construct, what: 'portal' | 'preview'): s3.Bucket {
  const logs = new s3.Bucket(scope, 'Logs', {
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
    removalPolicy: RemovalPolicy.RETAIN,
    lifecycleRules: [{ id: `expire-${what}-logs`, expiration: Duration.days(90) }],
  });
  Validations.of(logs).acknowledge({
    id: 'AwsSolutions-S1',
    reason:
      `This bucket receives the standard access logs of the ${what} distribution. Logging it into ` +
      'another bucket would only log the log deliveries; its objects expire after 90 days.',
  });
  return logs;
}
