import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { previewContentSecurityPolicy } from '../../lib/infra/preview-distribution.ts';
import { PREVIEW_FUNCTION_FILE, PREVIEW_KEY_NAME } from '../../lib/infra/preview-function/load.ts';
import { logicalIdOf, statementsForRole, synthBuildStack } from './synth.ts';

type Synth = ReturnType<typeof synthBuildStack>;
// biome-ignore lint/suspicious/noExplicitAny: raw CloudFormation JSON
type Json = any;
type Resource = { Type: string; Properties: Record<string, Json>; DependsOn?: string[] };

let synth: Synth;
let resources: Record<string, Resource>;
beforeAll(() => {
  synth = synthBuildStack();
  resources = synth.template.toJSON().Resources;
});

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
/** The preview distribution (the stack also has the portal's). */
const previewDist = (): [string, Resource] => {
  const id = logicalIdOf(synth.stack.preview.distribution);
  return [id, resources[id]!];
};

describe('preview distribution (CDK)', () => {
  it('is its own CloudFront distribution over the artifacts bucket with Origin Access Control', () => {
    const { stack } = synth;
    const dists = ofType('AWS::CloudFront::Distribution');
    expect(dists.length).toBeGreaterThanOrEqual(1);
    const [, dist] = previewDist();
    const cfg = dist.Properties.DistributionConfig;
    expect(cfg.Origins).toHaveLength(1);
    const origin = cfg.Origins[0];
    expect(origin.DomainName).toEqual({
      'Fn::GetAtt': [logicalIdOf(stack.buckets.artifacts), 'RegionalDomainName'],
    });
    expect(origin.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
    const oacId = origin.OriginAccessControlId['Fn::GetAtt'][0] as string;
    const oac = resources[oacId]!;
    expect(oac.Type).toBe('AWS::CloudFront::OriginAccessControl');
    expect(oac.Properties.OriginAccessControlConfig).toMatchObject({
      OriginAccessControlOriginType: 's3',
      SigningBehavior: 'always',
      SigningProtocol: 'sigv4',
    });
    expect(cfg.DefaultCacheBehavior).toMatchObject({
      ViewerProtocolPolicy: 'redirect-to-https',
      AllowedMethods: ['GET', 'HEAD'],
    });
    expect(cfg.Logging?.Bucket).toBeDefined();
  });

  it('checks every viewer request with the CloudFront Function (runtime 2.0, KVS, the tested file verbatim)', () => {
    // The preview's viewer-request function (the portal has its own index-rewrite function).
    const [fnId, fn] = ofType('AWS::CloudFront::Function').find(
      ([, f]) => f.Properties.FunctionConfig.KeyValueStoreAssociations,
    )!;
    const [kvsId] = ofType('AWS::CloudFront::KeyValueStore')[0]!;
    expect(fn.Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(fn.Properties.FunctionConfig.KeyValueStoreAssociations).toEqual([
      { KeyValueStoreARN: { 'Fn::GetAtt': [kvsId, 'Arn'] } },
    ]);
    expect(fn.Properties.FunctionCode).toBe(readFileSync(PREVIEW_FUNCTION_FILE, 'utf8'));
    expect(Buffer.byteLength(fn.Properties.FunctionCode)).toBeLessThan(10 * 1024); // CloudFront limit
    expect(fn.Properties.FunctionCode).toContain(`'${PREVIEW_KEY_NAME}'`);
    const [, dist] = previewDist();
    expect(dist.Properties.DistributionConfig.DefaultCacheBehavior.FunctionAssociations).toEqual([
      { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fnId, 'FunctionARN'] } },
    ]);
  });

  it('fills the KeyValueStore from the deploy-time import of the preview secret', () => {
    const { stack } = synth;
    const [kvsId, kvs] = ofType('AWS::CloudFront::KeyValueStore')[0]!;
    expect(kvs.Properties.ImportSource.SourceType).toBe('S3');
    const importBucket = logicalIdOf(stack.preview.key.importBucket);
    expect(JSON.stringify(kvs.Properties.ImportSource.SourceArn)).toContain(importBucket);
    expect(JSON.stringify(kvs.Properties.ImportSource.SourceArn)).toContain(
      stack.preview.key.importObjectKey,
    );
    const [crId, cr] = ofType('Custom::PreviewKeyImport')[0]!;
    expect(kvs.DependsOn).toContain(crId);
    expect(cr.Properties.SecretArn).toEqual({ Ref: logicalIdOf(stack.preview.key.secret) });
    expect(cr.Properties.Key).toBe(stack.preview.key.importObjectKey);
    expect(kvsId).toBeDefined();
    // The import bucket expires the document (it holds the key in plain text).
    const bucket = resources[importBucket]!;
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({ ExpirationInDays: 1, Status: 'Enabled' }),
    ]);
    // The provider may read only the preview secret and write only the import document.
    const roles = ofType('AWS::IAM::Role').filter(([id]) => id.startsWith('CustomPreviewKeyImport'));
    expect(roles).toHaveLength(1);
    const statements = roles[0]![1].Properties.Policies.flatMap((p: Json) => p.PolicyDocument.Statement);
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: { Ref: logicalIdOf(stack.preview.key.secret) },
      },
      {
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: {
          'Fn::Join': [
            '',
            [{ 'Fn::GetAtt': [importBucket, 'Arn'] }, `/${stack.preview.key.importObjectKey}`],
          ],
        },
      },
    ]);
  });

  it('sends the security headers through a response headers policy (CSP, nosniff, no referrer)', () => {
    // The preview distribution's own policy (the portal has another).
    const policyId = previewDist()[1].Properties.DistributionConfig.DefaultCacheBehavior
      .ResponseHeadersPolicyId.Ref as string;
    const policy = resources[policyId]!;
    const cfg = policy.Properties.ResponseHeadersPolicyConfig;
    expect(cfg.SecurityHeadersConfig.ContentSecurityPolicy.Override).toBe(true);
    // frame-ancestors: the preview itself and the portal distribution (a token, hence a join).
    const csp = JSON.stringify(cfg.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy);
    expect(csp).toContain("frame-ancestors 'self' https://");
    expect(csp).toContain(logicalIdOf(synth.stack.portal.distribution));
    expect(previewContentSecurityPolicy([])).toContain("frame-ancestors 'self'");
    expect(cfg.SecurityHeadersConfig.ContentTypeOptions).toEqual({ Override: true });
    expect(cfg.SecurityHeadersConfig.ReferrerPolicy).toEqual({
      ReferrerPolicy: 'no-referrer',
      Override: true,
    });
    expect(cfg.SecurityHeadersConfig.FrameOptions).toBeUndefined(); // CSP frame-ancestors lets the portal embed it
    const [, dist] = previewDist();
    expect(dist.Properties.DistributionConfig.DefaultCacheBehavior.ResponseHeadersPolicyId).toEqual({
      Ref: policyId,
    });
  });

  it('lets only this distribution read the artifacts bucket (bucket policy)', () => {
    const { stack } = synth;
    const bucketId = logicalIdOf(stack.buckets.artifacts);
    const [distId] = previewDist();
    const policies = ofType('AWS::S3::BucketPolicy').filter(([, p]) => p.Properties.Bucket.Ref === bucketId);
    expect(policies).toHaveLength(1);
    const statements = policies[0]![1].Properties.PolicyDocument.Statement as Json[];
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({
      Action: 's3:GetObject',
      Principal: { Service: 'cloudfront.amazonaws.com' },
      Condition: {
        StringEquals: {
          'AWS:SourceArn': {
            'Fn::Join': ['', expect.any(Array)],
          },
        },
      },
    });
    expect(JSON.stringify(allows[0].Condition)).toContain(distId);
  });

  it('gives the preview URL and the preview key to ListArtifacts only', () => {
    const { stack, template } = synth;
    const secretRef = { Ref: logicalIdOf(stack.preview.key.secret) };
    for (const [id, fn] of Object.entries(stack.api.functions)) {
      const lambda = resources[logicalIdOf(fn.function)]!;
      const env = lambda.Properties.Environment.Variables;
      const reads = statementsForRole(template, logicalIdOf(fn.role)).some((s) =>
        (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).some(
          (r) => JSON.stringify(r) === JSON.stringify(secretRef),
        ),
      );
      if (id === 'ListArtifacts') {
        expect(env.PREVIEW_SECRET_ARN).toEqual(secretRef);
        expect(JSON.stringify(env.PREVIEW_BASE_URL)).toContain('DomainName');
        expect(reads).toBe(true);
      } else {
        expect(env.PREVIEW_SECRET_ARN, id).toBeUndefined();
        expect(reads, id).toBe(false);
      }
    }
  });
});

describe('preview key import custom resource handler', () => {
  const mod = createRequire(import.meta.url)('../../lib/infra/preview-function/key-import/index.js');
  const event = (RequestType: string) => ({
    RequestType,
    StackId: 'stack',
    RequestId: 'req',
    LogicalResourceId: 'Import',
    ResponseURL: 'https://example.invalid/',
    ResourceProperties: { SecretArn: 'arn:secret', Bucket: 'b', Key: 'kvs-import/preview-key-v1.json' },
  });

  it('writes the KeyValueStore import document and never echoes the key', async () => {
    const puts: [string, string, string][] = [];
    const key = 'x'.repeat(64);
    const out = await mod.run(event('Create'), {
      getSecret: async (arn: string) => (arn === 'arn:secret' ? key : undefined),
      putObject: async (b: string, k: string, body: string) => void puts.push([b, k, body]),
    });
    expect(out).toMatchObject({
      Status: 'SUCCESS',
      NoEcho: true,
      PhysicalResourceId: 'b/kvs-import/preview-key-v1.json',
    });
    expect(JSON.stringify(out)).not.toContain(key);
    expect(puts).toHaveLength(1);
    expect(JSON.parse(puts[0]![2])).toEqual({ data: [{ key: PREVIEW_KEY_NAME, value: key }] });
  });

  it('fails (without the secret in the reason) on a short key, and does nothing on Delete', async () => {
    const failed = await mod.run(event('Update'), {
      getSecret: async () => 'short',
      putObject: async () => {
        throw new Error('must not write');
      },
    });
    expect(failed.Status).toBe('FAILED');
    expect(failed.Reason).not.toContain('short"');
    const deleted = await mod.run(
      { ...event('Delete'), PhysicalResourceId: 'b/k' },
      {
        getSecret: async () => {
          throw new Error('must not read');
        },
        putObject: async () => {
          throw new Error('must not write');
        },
      },
    );
    expect(deleted).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'b/k' });
  });
});
