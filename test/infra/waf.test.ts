import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BuildStack } from '../../lib/infra/build-stack.ts';
import { logicalIdOf, synthBuildStack } from './synth.ts';

/** Abuse limits at the edge: a WAF rate-based rule on the API, plus the API stage's throttling. */
describe('WAF web ACL of the portal distribution', () => {
  let stack: BuildStack;
  let template: Template;
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
  let resources: Record<string, any>;
  beforeAll(() => {
    ({ stack, template } = synthBuildStack());
    resources = template.toJSON().Resources;
  });

  it('is a CLOUDFRONT web ACL with a per-IP rate-based rule on /api/* answering JSON 429', () => {
    const acls = template.findResources('AWS::WAFv2::WebACL');
    expect(Object.keys(acls)).toHaveLength(1);
    const acl = Object.values(acls)[0]!;
    expect(acl.Properties).toMatchObject({ Scope: 'CLOUDFRONT', DefaultAction: { Allow: {} } });
    const [rule] = acl.Properties.Rules;
    expect(rule.Statement.RateBasedStatement).toMatchObject({
      Limit: 1000,
      EvaluationWindowSec: 300,
      AggregateKeyType: 'IP',
      ScopeDownStatement: {
        ByteMatchStatement: {
          SearchString: '/api/',
          PositionalConstraint: 'STARTS_WITH',
          FieldToMatch: { UriPath: {} },
        },
      },
    });
    expect(rule.Action.Block.CustomResponse).toMatchObject({
      ResponseCode: 429,
      CustomResponseBodyKey: 'RateLimited',
      ResponseHeaders: [{ Name: 'retry-after', Value: '300' }],
    });
    const body = JSON.parse(acl.Properties.CustomResponseBodies.RateLimited.Content);
    expect(body).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
  });

  it('exists only where CloudFront web ACLs can (us-east-1) and is attached to the distribution there', () => {
    const aclId = logicalIdOf(stack.portal.webAcl.webAcl);
    const condition = resources[aclId].Condition;
    expect(template.toJSON().Conditions[condition]).toEqual({
      'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'],
    });
    const dist = resources[logicalIdOf(stack.portal.distribution)].Properties.DistributionConfig;
    expect(dist.WebACLId).toEqual({
      'Fn::If': [condition, { 'Fn::GetAtt': [aclId, 'Arn'] }, { Ref: 'AWS::NoValue' }],
    });
  });

  it('keeps the API stage throttled', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
  });
});
