import { Aws, CfnCondition, Fn } from 'aws-cdk-lib';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface PortalWebAclProps {
  readonly stage: string;
  /** Requests per source IP per 5 minutes to `/api/*` before the IP is blocked (429). */
  readonly apiRateLimit: number;
}

/** The body of the WAF's 429: the API's own error shape. */
const RATE_LIMITED_BODY = JSON.stringify({
  error: { code: 'rate_limited', message: 'Too many requests. Please wait a little and try again.' },
});

/**
 * The WAF web ACL of the portal distribution (which also serves the API under `/api/*`): a
 * rate-based rule per source IP on the API paths, answered with the API's JSON 429 and a
 * Retry-After, on top of the stage throttling and the per-session / per-source quotas of the
 * handlers. HTTP APIs cannot carry a web ACL, so it sits on CloudFront: scope CLOUDFRONT, which
 * AWS accepts only in us-east-1 — the ACL is created when the stack deploys there (condition
 * `IsUsEast1`); elsewhere the distribution goes without and the quotas and stage throttling hold.
 */
export class PortalWebAcl extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  /** True where CloudFront web ACLs can be created (us-east-1). */
  readonly condition: CfnCondition;

  constructor(scope: Construct, id: string, props: PortalWebAclProps) {
    super(scope, id);
    this.condition = new CfnCondition(this, 'IsUsEast1', {
      expression: Fn.conditionEquals(Aws.REGION, 'us-east-1'),
    });
    const metric = (name: string) => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `bus-build-${props.stage}-${name}`,
    });
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: `bus-build-${props.stage}-portal`,
      description: `bus-build ${props.stage}: rate limit per source IP on the API`,
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: metric('portal'),
      customResponseBodies: {
        RateLimited: { contentType: 'APPLICATION_JSON', content: RATE_LIMITED_BODY },
      },
      rules: [
        {
          name: 'ApiRatePerIp',
          priority: 0,
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                customResponseBodyKey: 'RateLimited',
                responseHeaders: [{ name: 'retry-after', value: '300' }],
              },
            },
          },
          statement: {
            rateBasedStatement: {
              limit: props.apiRateLimit,
              evaluationWindowSec: 300,
              aggregateKeyType: 'IP',
              scopeDownStatement: {
                byteMatchStatement: {
                  fieldToMatch: { uriPath: {} },
                  positionalConstraint: 'STARTS_WITH',
                  searchString: '/api/',
                  textTransformations: [{ priority: 0, type: 'NONE' }],
                },
              },
            },
          },
          visibilityConfig: metric('api-rate'),
        },
      ],
    });
    this.webAcl.cfnOptions.condition = this.condition;
  }

  /** The ACL's ARN where it exists, nothing elsewhere (for `WebACLId` of the distribution). */
  get webAclIdOrNothing(): string {
    return Fn.conditionIf(this.condition.logicalId, this.webAcl.attrArn, Aws.NO_VALUE).toString();
  }
}
