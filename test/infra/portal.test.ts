import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER } from '../../functions/shared/origin-headers.ts';
import type { BuildStack } from '../../lib/infra/build-stack.ts';
import { portalContentSecurityPolicy } from '../../lib/infra/portal-hosting.ts';
import {
  actionsOf,
  allowsAction,
  logicalIdOf,
  resourcesOf,
  statementsForRole,
  synthBuildStack,
} from './synth.ts';

/** AWS-managed CloudFront policy ids. */
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

describe('portal hosting', () => {
  let stack: BuildStack;
  let template: Template;
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
  let cfg: any;
  beforeAll(() => {
    ({ stack, template } = synthBuildStack());
    cfg = template.toJSON().Resources[logicalIdOf(stack.portal.distribution)].Properties.DistributionConfig;
  });

  it('keeps the portal files in a private, TLS-only, encrypted, logged bucket', () => {
    const props = template.toJSON().Resources[logicalIdOf(stack.portal.bucket)].Properties;
    expect(props).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalIdOf(stack.buckets.accessLogs) } },
    });
    const policy = JSON.stringify(template.findResources('AWS::S3::BucketPolicy'));
    expect(policy).toContain('"aws:SecureTransport":"false"');
  });

  it('serves the bucket through Origin Access Control with index.html as the root object', () => {
    expect(cfg.DefaultRootObject).toBe('index.html');
    const s3Origin = cfg.Origins.find((o: { S3OriginConfig?: unknown }) => o.S3OriginConfig);
    expect(s3Origin.DomainName).toEqual({
      'Fn::GetAtt': [logicalIdOf(stack.portal.bucket), 'RegionalDomainName'],
    });
    expect(s3Origin.OriginAccessControlId).toBeDefined();
    expect(s3Origin.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
    expect(cfg.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    expect(cfg.DefaultCacheBehavior.FunctionAssociations).toHaveLength(1);
    expect(cfg.Logging.Bucket).toBeDefined();
  });

  it('forwards /api/* to the HTTP API uncached with every method and viewer header but Host', () => {
    expect(cfg.CacheBehaviors).toHaveLength(1);
    const api = cfg.CacheBehaviors[0];
    expect(api).toMatchObject({
      PathPattern: '/api/*',
      CachePolicyId: CACHING_DISABLED,
      OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
      ViewerProtocolPolicy: 'https-only',
    });
    expect(api.AllowedMethods.sort()).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT']);
    const origin = cfg.Origins.find((o: { Id: string }) => o.Id === api.TargetOriginId);
    expect(JSON.stringify(origin.DomainName)).toContain(logicalIdOf(stack.api.api));
    expect(origin.CustomOriginConfig).toMatchObject({
      OriginProtocolPolicy: 'https-only',
      OriginSSLProtocols: ['TLSv1.2'],
    });
  });

  it('gives the API the viewer address and the origin-verify secret (never a literal)', () => {
    const api = cfg.CacheBehaviors[0];
    // The viewer-request function writes event.viewer.ip into the viewer-address header, which the
    // AllViewerExceptHostHeader policy forwards (asserted above).
    expect(api.FunctionAssociations).toHaveLength(1);
    expect(api.FunctionAssociations[0].EventType).toBe('viewer-request');
    const fnId = api.FunctionAssociations[0].FunctionARN['Fn::GetAtt'][0];
    const code = template.toJSON().Resources[fnId].Properties.FunctionCode;
    expect(code).toContain(`request.headers['${VIEWER_ADDRESS_HEADER}'] = { value: event.viewer.ip }`);
    const origin = cfg.Origins.find((o: { Id: string }) => o.Id === api.TargetOriginId);
    expect(origin.OriginCustomHeaders).toHaveLength(1);
    const [header] = origin.OriginCustomHeaders;
    expect(header.HeaderName).toBe(ORIGIN_VERIFY_HEADER);
    const value = JSON.stringify(header.HeaderValue);
    expect(value).toContain('{{resolve:secretsmanager:');
    expect(value).toContain(logicalIdOf(stack.originVerify.secret));
    // The API functions read the same secret by ARN (never the value in an environment).
    const env =
      template.toJSON().Resources[logicalIdOf(stack.api.functions.RequestEmailCode!.function)].Properties
        .Environment.Variables;
    expect(env.ORIGIN_VERIFY_SECRET_ARN).toEqual({ Ref: logicalIdOf(stack.originVerify.secret) });
    expect(JSON.stringify(env)).not.toContain('resolve:secretsmanager');
  });

  it('sends the portal security headers, framing only CloudFront preview origins', () => {
    const rhp =
      template.toJSON().Resources[logicalIdOf(stack.portal.responseHeaders)].Properties
        .ResponseHeadersPolicyConfig;
    expect(cfg.DefaultCacheBehavior.ResponseHeadersPolicyId).toEqual({
      Ref: logicalIdOf(stack.portal.responseHeaders),
    });
    const sec = rhp.SecurityHeadersConfig;
    const csp = JSON.stringify(sec.ContentSecurityPolicy.ContentSecurityPolicy);
    for (const directive of [
      "frame-ancestors 'none'",
      "script-src 'self'",
      "connect-src 'self'",
      "base-uri 'none'",
    ]) {
      expect(csp).toContain(directive);
    }
    // Preview origins are CloudFront default domains; the preview side names the portal exactly.
    expect(csp).toContain('frame-src https://*.cloudfront.net');
    expect(sec.StrictTransportSecurity).toMatchObject({ AccessControlMaxAgeSec: 31536000, Override: true });
    expect(sec.ContentTypeOptions).toEqual({ Override: true });
    expect(sec.ReferrerPolicy.ReferrerPolicy).toBe('strict-origin-when-cross-origin');
    expect(portalContentSecurityPolicy('https:')).toContain('frame-src https:;');
    // Receipt screenshots are presigned GETs of the artifacts bucket: images from there only.
    expect(csp).toContain("img-src 'self' data: https://");
    expect(csp).toContain(logicalIdOf(stack.buckets.artifacts));
    expect(csp).toContain('RegionalDomainName');
  });

  it('deploys portal/ with a role that writes only its own log group and the portal bucket', () => {
    template.hasResourceProperties('Custom::CDKBucketDeployment', {
      DestinationBucketName: { Ref: logicalIdOf(stack.portal.bucket) },
      Prune: true,
    });
    const statements = statementsForRole(template, logicalIdOf(stack.portal.deploymentRole));
    const bucket = `<${logicalIdOf(stack.portal.bucket)}.Arn>`;
    for (const s of statements.filter(
      (x) => allowsAction(x, 's3:PutObject') || allowsAction(x, 's3:DeleteObject'),
    )) {
      for (const r of resourcesOf(s)) expect([bucket, `${bucket}/*`]).toContain(r);
    }
    expect(actionsOf(statements).filter((a) => /^(iam|kms|dynamodb|secretsmanager|states):/.test(a))).toEqual(
      [],
    );
    const role = template.toJSON().Resources[logicalIdOf(stack.portal.deploymentRole)].Properties;
    expect(role.ManagedPolicyArns).toBeUndefined();
  });

  it('outputs the portal URL', () => {
    template.hasOutput('PortalUrl', {});
  });
});
