import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { previewContentSecurityPolicy } from '../domain/preview-policy.ts';
import { cloudFrontLogsBucket } from './cloudfront-logs.ts';
import { PREVIEW_FUNCTION_FILE } from './preview-function/load.ts';
import { PreviewKey } from './preview-key.ts';

export { previewContentSecurityPolicy };

export interface PreviewDistributionProps {
  readonly stage: string;
  /** The published-artifacts bucket (keys `runs/{run}/{artifact}/{file}`). */
  readonly artifacts: s3.IBucket;
  /** Server access logs of the helper buckets (the key import bucket). */
  readonly accessLogs: s3.IBucket;
  /** Origins allowed to frame a preview (the portal, e.g. `https://build.example.com`). */
  readonly frameAncestors?: readonly string[];
  /** Bump to rotate the preview key (see PreviewKey). */
  readonly keyVersion?: number;
}

/**
 * Web previews on their own origin: a CloudFront distribution over the published-artifacts
 * bucket (Origin Access Control; the bucket admits this distribution only), never the portal's or
 * the API's origin, so a preview's script can never read the visitor's session or call the API as
 * the visitor. Every request passes the viewer-request CloudFront Function
 * (`preview-function/viewer-request.js`), which verifies the signed, expiring token against the
 * key in the KeyValueStore, refuses traversal, and rewrites `/p/<token>/<rest>` to the artifact's
 * own key prefix. Responses carry the preview security headers (CSP with the portal as the only
 * frame ancestor, nosniff, no referrer) and the stored Content-Type of each object.
 */
export class PreviewDistribution extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly function: cloudfront.Function;
  readonly key: PreviewKey;
  readonly responseHeaders: cloudfront.ResponseHeadersPolicy;
  readonly logs: s3.Bucket;

  constructor(scope: Construct, id: string, props: PreviewDistributionProps) {
    super(scope, id);
    this.key = new PreviewKey(this, 'Key', {
      stage: props.stage,
      accessLogs: props.accessLogs,
      keyVersion: props.keyVersion,
    });

    this.function = new cloudfront.Function(this, 'ViewerRequest', {
      comment: `bus-build ${props.stage}: verify preview tokens, rewrite to the artifact prefix`,
      code: cloudfront.FunctionCode.fromFile({ filePath: PREVIEW_FUNCTION_FILE }),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      keyValueStore: this.key.store,
    });

    this.responseHeaders = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: `bus-build ${props.stage} preview security headers`,
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: previewContentSecurityPolicy(props.frameAncestors ?? []),
          override: true,
        },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
      },
      customHeadersBehavior: {
        customHeaders: [
          { header: 'Cross-Origin-Resource-Policy', value: 'same-origin', override: true },
          { header: 'Permissions-Policy', value: 'camera=(), microphone=(), geolocation=()', override: true },
        ],
      },
      removeHeaders: ['x-amz-meta-sha256', 'x-amz-version-id', 'x-amz-server-side-encryption'],
    });

    this.logs = cloudFrontLogsBucket(this, 'preview');

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `bus-build ${props.stage} web previews (separate origin)`,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(props.artifacts, {
          originAccessLevels: [cloudfront.AccessLevel.READ],
        }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
        // No cookies, headers or query strings reach the bucket or the cache key.
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeaders,
        functionAssociations: [
          { function: this.function, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST },
        ],
        compress: true,
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.logs,
      logFilePrefix: 'preview/',
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'Previews are delivered to visitors wherever they are, like the portal; there is no country ' +
          'the product is barred from. Every request already needs a signed, expiring, artifact-bound token.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'The distribution serves only static, already verified objects and rejects every request ' +
          'without a valid token in the edge function before it reaches the origin; a WAF web ACL ' +
          'would add cost without protecting anything further. Add one with the portal when it is added.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The distribution uses the default *.cloudfront.net certificate (no custom domain yet), for ' +
          'which CloudFront fixes the security policy at TLSv1 and ignores a minimum protocol; set ' +
          'TLSv1.2_2021 together with a custom domain and its own certificate.',
      },
    );
  }

  /** `https://<id>.cloudfront.net`: the base of preview links (PREVIEW_BASE_URL). */
  get url(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }

  /** Lets a function sign preview links: the preview origin's URL and read access to the key. */
  grantSigning(fn: lambda.Function): void {
    fn.addEnvironment('PREVIEW_BASE_URL', this.url);
    fn.addEnvironment('PREVIEW_SECRET_ARN', this.key.secret.secretArn);
    this.key.grantRead(fn);
  }
}
