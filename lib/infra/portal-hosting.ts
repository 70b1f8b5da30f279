import { type CfnElement, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER } from '../../functions/shared/origin-headers.ts';
import { cloudFrontLogsBucket } from './cloudfront-logs.ts';
import { repoPath } from './paths.ts';
import { PortalWebAcl } from './web-acl.ts';

/** Where the portal's static files live in the repository. */
export const PORTAL_DIR = 'portal';

/**
 * The portal's Content-Security-Policy: only its own scripts, styles and API (same origin through
 * the `/api/*` behaviour); previews may be framed only from `frameSrc` (the preview origin);
 * nothing may frame the portal. `imgSrc`: where the receipt's screenshot comes from (on AWS a
 * short-lived presigned GET of the published-artifacts bucket).
 */
export function portalContentSecurityPolicy(frameSrc: string, imgSrc: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    ["img-src 'self' data:", ...imgSrc].join(' '),
    "connect-src 'self'",
    `frame-src ${frameSrc}`,
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

/**
 * Viewer-request function of the static behaviour: an S3 REST origin has no directory index, so
 * `/offer/` and `/offer` are rewritten to `/offer/index.html` (any extension-less path → its index).
 */
const INDEX_REWRITE = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.endsWith('/')) {
    request.uri = uri + 'index.html';
  } else if (uri.lastIndexOf('.') < uri.lastIndexOf('/')) {
    request.uri = uri + '/index.html';
  }
  return request;
}`;

/**
 * Viewer-request function of the `/api/*` behaviour: the viewer's IP address in the
 * viewer-address header (overwriting anything the viewer sent under that name). The managed
 * AllViewerExceptHostHeader policy forwards it like any viewer header; a custom origin request
 * policy cannot both drop Host (API Gateway needs its own) and add `CloudFront-Viewer-Address`.
 */
export const VIEWER_ADDRESS_FUNCTION = `function handler(event) {
  var request = event.request;
  request.headers['${VIEWER_ADDRESS_HEADER}'] = { value: event.viewer.ip };
  return request;
}`;

export interface PortalHostingProps {
  readonly stage: string;
  /** The public HTTP API, served under `/api/*` on the portal's own origin. */
  readonly api: HttpApi;
  /**
   * Sent to the API in the origin-verify header (origin-headers.ts), so it trusts the viewer
   * address header only on requests that came through this distribution.
   */
  readonly originVerifyValue: string;
  /** `frame-src` of the portal's CSP: the preview origin (e.g. `https://d123.cloudfront.net`). */
  readonly previewOrigin?: string;
  /** Extra `img-src` of the portal's CSP: the artifacts bucket (receipt screenshots, presigned). */
  readonly imageOrigins?: readonly string[];
  /** Server access logs of the portal bucket. */
  readonly accessLogs: s3.IBucket;
  /** Retention of the deployment function's log group. */
  readonly logRetention: RetentionDays;
  /** Requests per source IP per 5 minutes to `/api/*` before the WAF answers 429. */
  readonly apiRateLimitPer5Min: number;
}

/**
 * What CDK's BucketDeployment grants its (singleton) function, as cdk-nag reports it: read the
 * CDK assets bucket, read/write/delete in the portal bucket (sync with prune), invalidate the
 * distribution. test/infra/portal.test.ts asserts the role has nothing else.
 */
const DEPLOYMENT_WILDCARD_ACTIONS = [
  's3:GetObject*',
  's3:GetBucket*',
  's3:List*',
  's3:DeleteObject*',
  's3:Abort*',
] as const;

/**
 * The portal on CloudFront: the static chat app of `portal/` in a private bucket (Origin Access
 * Control, deployed with the stack), and the public API under `/api/*` on the same origin, so the
 * portal needs no CORS and its session cookie stays first-party. API responses are never cached
 * and every viewer header except Host, cookies and query strings reach the API. Responses carry
 * the portal security headers (CSP, HSTS, nosniff, no referrer leaks). Standard access logs go to
 * an own log bucket.
 */
export class PortalHosting extends Construct {
  readonly bucket: s3.Bucket;
  readonly logs: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  /** The WAF web ACL (rate-based rule on `/api/*`) of the distribution. */
  readonly webAcl: PortalWebAcl;
  readonly responseHeaders: cloudfront.ResponseHeadersPolicy;
  readonly deployment: s3deploy.BucketDeployment;
  /** The role of the deployment function (copies `portal/` into the bucket at deploy time). */
  readonly deploymentRole: iam.Role;
  /** The cdk-nag findings acknowledged for the deployment function and its role. */
  readonly deploymentFindingIds: string[];

  constructor(scope: Construct, id: string, props: PortalHostingProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'portal/',
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
      lifecycleRules: [{ id: 'expire-old-portal-versions', noncurrentVersionExpiration: Duration.days(30) }],
    });

    this.logs = cloudFrontLogsBucket(this, 'portal');

    this.responseHeaders = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: `bus-build ${props.stage} portal security headers`,
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: portalContentSecurityPolicy(
            props.previewOrigin ?? 'https:',
            props.imageOrigins,
          ),
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: {
          referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
      },
      customHeadersBehavior: {
        customHeaders: [
          { header: 'Permissions-Policy', value: 'camera=(), microphone=(), geolocation=()', override: true },
        ],
      },
    });

    const apiDomain = Fn.select(2, Fn.split('/', props.api.apiEndpoint));
    const indexRewrite = new cloudfront.Function(this, 'IndexRewrite', {
      comment: `bus-build ${props.stage}: portal directory paths to index.html`,
      code: cloudfront.FunctionCode.fromInline(INDEX_REWRITE),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
    });

    const viewerAddress = new cloudfront.Function(this, 'ApiViewerAddress', {
      comment: `bus-build ${props.stage}: the viewer address for the API's per-source limits`,
      code: cloudfront.FunctionCode.fromInline(VIEWER_ADDRESS_FUNCTION),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
    });

    this.webAcl = new PortalWebAcl(this, 'Waf', {
      stage: props.stage,
      apiRateLimit: props.apiRateLimitPer5Min,
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `bus-build ${props.stage} portal and API`,
      webAclId: this.webAcl.webAclIdOrNothing,
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket, {
          originAccessLevels: [cloudfront.AccessLevel.READ],
        }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeaders,
        functionAssociations: [
          { function: indexRewrite, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST },
        ],
        compress: true,
      },
      additionalBehaviors: {
        '/api/*': {
          origin: new origins.HttpOrigin(apiDomain, {
            protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
            customHeaders: { [ORIGIN_VERIFY_HEADER]: props.originVerifyValue },
          }),
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          functionAssociations: [
            { function: viewerAddress, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST },
          ],
          responseHeadersPolicy: this.responseHeaders,
          compress: true,
        },
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.logs,
      logFilePrefix: 'portal/',
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'The portal is the public entry point of the product for visitors in any country; there is no ' +
          'country the product is barred from, so a geo restriction would only lock out customers.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'A WAF web ACL with a rate-based rule on /api/* is attached (PortalWebAcl) where CloudFront web ' +
          'ACLs can exist (a stack in us-east-1); cdk-nag cannot see through the region condition. ' +
          'Elsewhere the stage throttling and the per-session / per-source quotas of the handlers hold.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The distribution uses the default *.cloudfront.net certificate (no custom domain yet), for ' +
          'which CloudFront fixes the security policy at TLSv1 and ignores a minimum protocol; set ' +
          'TLSv1.2_2021 together with a custom domain and its own certificate.',
      },
    );

    // An explicit role and log group instead of the AWSLambdaBasicExecutionRole managed policy.
    const deploymentLogs = new LogGroup(this, 'DeployLogs', { retention: props.logRetention });
    this.deploymentRole = new iam.Role(this, 'DeployRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `bus-build ${props.stage}: copies portal/ into the portal bucket at deploy time`,
    });
    deploymentLogs.grantWrite(this.deploymentRole);

    this.deployment = new s3deploy.BucketDeployment(this, 'Deploy', {
      role: this.deploymentRole,
      logGroup: deploymentLogs,
      sources: [s3deploy.Source.asset(repoPath(PORTAL_DIR))],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      prune: true,
      memoryLimit: 256,
    });
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnElement);
    const wildcardReason =
      'CDK BucketDeployment runs only during deployments: it syncs the portal/ asset from the CDK assets ' +
      'bucket into the portal bucket (prune deletes stale files) and invalidates the distribution. CDK ' +
      'generates these grants (GetObject*/GetBucket*/List* on the asset, read/write/delete on the portal ' +
      'bucket objects); CreateInvalidation supports no narrower resource here.';
    const roleFindings = [
      ...DEPLOYMENT_WILDCARD_ACTIONS.map((a) => `AwsSolutions-IAM5[Action::${a}]`),
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]',
      `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
    ];
    Validations.of(this.deploymentRole).acknowledge(
      ...roleFindings.map((id) => ({ id, reason: wildcardReason })),
    );
    this.deploymentFindingIds = [...roleFindings, 'AwsSolutions-L1'];
    // The deployment's singleton function lives at stack level; its runtime is CDK's choice.
    for (const child of Stack.of(this).node.children) {
      if (!child.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
      Validations.of(child).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          "The BucketDeployment function is CDK's own provider (a Python runtime pinned by aws-cdk-lib " +
          'together with its AWS CLI layer); it runs only during deployments, never serves a request, ' +
          'and is upgraded by upgrading aws-cdk-lib.',
      });
    }
  }

  /** `https://<id>.cloudfront.net`: the portal, and the API under `/api/*`. */
  get url(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }
}
