import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BuildStack } from '../../lib/infra/build-stack.ts';
import { logicalIdOf, synthBuildStack } from './synth.ts';

type Template = ReturnType<typeof synthBuildStack>['template'];

describe('BuildBuckets', () => {
  let stack: BuildStack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synthBuildStack());
  });

  const bucket = (name: 'staging' | 'evidence' | 'artifacts' | 'accessLogs') =>
    template.toJSON().Resources[logicalIdOf(stack.buckets[name])];
  const policyOf = (name: 'staging' | 'evidence' | 'artifacts' | 'accessLogs') => {
    const id = logicalIdOf(stack.buckets[name]);
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy')).filter(
      (p) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: id }),
    );
    expect(policies.length).toBe(1);
    return policies[0]!.Properties.PolicyDocument.Statement as Record<string, unknown>[];
  };
  const all = ['staging', 'evidence', 'artifacts', 'accessLogs'] as const;

  it('has the three pipeline buckets and one access log bucket', () => {
    // The preview distribution adds its own two (key import documents, CloudFront logs): test/infra/preview.test.ts.
    // The portal adds two more (its files, CloudFront logs): test/infra/portal.test.ts.
    const previewBuckets = [
      stack.preview.key.importBucket,
      stack.preview.logs,
      stack.portal.bucket,
      stack.portal.logs,
    ].map(logicalIdOf);
    const own = Object.keys(template.findResources('AWS::S3::Bucket')).filter(
      (id) => !previewBuckets.includes(id),
    );
    expect(own).toHaveLength(4);
  });

  it.each(all)('%s: blocks all public access, SSE-S3, no ACLs, retained', (name) => {
    const b = bucket(name);
    expect(b.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    expect(b.DeletionPolicy).toBe('Retain');
    expect(b.UpdateReplacePolicy).toBe('Retain');
  });

  it.each(all)('%s: denies every request without TLS (1.2+)', (name) => {
    const statements = policyOf(name);
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 's3:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:*',
          Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
        }),
      ]),
    );
  });

  it.each(['staging', 'evidence', 'artifacts'] as const)(
    '%s: writes server access logs to the log bucket',
    (name) => {
      expect(bucket(name).Properties.LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: logicalIdOf(stack.buckets.accessLogs) },
        LogFilePrefix: `${name}/`,
      });
    },
  );

  it('grants no principal any Allow in a bucket policy except S3 log delivery', () => {
    for (const name of all) {
      for (const s of policyOf(name).filter((st) => st.Effect === 'Allow')) {
        // The preview distribution's Origin Access Control: GetObject for that distribution only.
        if (
          name === 'artifacts' &&
          JSON.stringify(s.Principal) === '{"Service":"cloudfront.amazonaws.com"}'
        ) {
          expect(s.Action).toBe('s3:GetObject');
          expect(JSON.stringify(s.Condition)).toContain(logicalIdOf(stack.preview.distribution));
          continue;
        }
        expect(s.Principal, name).toEqual({ Service: 'logging.s3.amazonaws.com' });
        expect(name).toBe('accessLogs');
      }
    }
  });

  it('staging: assignments and candidates expire after 14 days', () => {
    const rules = bucket('staging').Properties.LifecycleConfiguration.Rules;
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Prefix: 'assignments/', ExpirationInDays: 14, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: 'candidates/', ExpirationInDays: 14, Status: 'Enabled' }),
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
      ]),
    );
    expect(bucket('staging').Properties.VersioningConfiguration).toBeUndefined();
  });

  it('evidence: moves to Standard-IA after 30 days and expires after 365', () => {
    expect(bucket('evidence').Properties.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({
        Status: 'Enabled',
        Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
        ExpirationInDays: 365,
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      }),
    ]);
  });

  it('artifacts: versioned, kept (no expiration of current objects), incomplete uploads aborted', () => {
    const p = bucket('artifacts').Properties;
    expect(p.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    const rules = p.LifecycleConfiguration.Rules as Record<string, unknown>[];
    for (const r of rules) {
      expect(r.ExpirationInDays).toBeUndefined();
      expect(r.ExpirationDate).toBeUndefined();
    }
    expect(rules).toEqual([
      expect.objectContaining({
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        NoncurrentVersionExpiration: { NoncurrentDays: 90 },
      }),
    ]);
  });

  it('artifacts: nobody may delete a published object or version', () => {
    expect(policyOf('artifacts')).toEqual(
      expect.arrayContaining([
        {
          Sid: 'DenyDeletingPublishedArtifacts',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
          Resource: {
            'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalIdOf(stack.buckets.artifacts), 'Arn'] }, '/*']],
          },
        },
      ]),
    );
  });

  it('access logs: expire after 90 days', () => {
    expect(bucket('accessLogs').Properties.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({ ExpirationInDays: 90, Status: 'Enabled' }),
    ]);
  });

  it('refuses a grant on anything but one key folder', () => {
    expect(() => stack.buckets.grantReadPrefix(stack.worker.taskRole, 'artifacts', '')).toThrow(/one folder/);
    expect(() => stack.buckets.grantReadPrefix(stack.worker.taskRole, 'artifacts', 'runs/*')).toThrow(
      /one folder/,
    );
  });

  it('exports the bucket names', () => {
    for (const o of ['StagingBucket', 'EvidenceBucket', 'ArtifactsBucket'])
      template.hasOutput(o, { Value: Match.anyValue() });
  });
});
