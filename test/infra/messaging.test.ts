import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../functions/api/routes.ts';
import type { BuildStack } from '../../lib/infra/build-stack.ts';
import { stackConfig, validateStackConfig } from '../../lib/infra/config.ts';
import { Messaging } from '../../lib/infra/messaging.ts';
import {
  allowsAction,
  logicalIdOf,
  resourcesOf,
  statementsForRole,
  synthBuildStack,
  testApp,
} from './synth.ts';

describe('email (SES sender)', () => {
  let stack: BuildStack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synthBuildStack());
  });

  it('verifies the configured sender address as an SES identity', () => {
    template.resourceCountIs('AWS::SES::EmailIdentity', 1);
    template.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'no-reply@busdk.example' });
  });

  it('lets only sendsEmail routes send, only as the sender identity, and tells only them EMAIL_FROM', () => {
    const senders = API_ROUTES.filter((r) => r.sendsEmail).map((r) => r.id);
    expect(senders).toEqual(['SetContact', 'RequestEmailCode']);
    const identityArn = stack.resolve(stack.messaging.identity.emailIdentityArn);
    for (const route of API_ROUTES) {
      const fn = stack.api.functions[route.id]!;
      const statements = statementsForRole(template, logicalIdOf(fn.role));
      const send = statements.filter((s) =>
        ['ses:SendEmail', 'ses:SendRawEmail'].some((a) => allowsAction(s, a)),
      );
      const env = template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Environment.Variables;
      if (senders.includes(route.id)) {
        expect(send.map((s) => s.Resource)).toEqual([identityArn]);
        expect(env.EMAIL_FROM).toBe('no-reply@busdk.example');
      } else {
        expect(send, route.id).toEqual([]);
        expect(env.EMAIL_FROM, route.id).toBeUndefined();
      }
    }
    const everyone = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement,
    );
    expect(everyone.filter((s) => JSON.stringify(s.Action).includes('ses:')).length).toBe(senders.length); // one SES statement per sending route
    expect(resourcesOf(send0(everyone))).not.toContain('*');
  });

  it('can verify the whole domain instead of the address', () => {
    const s = new Stack(testApp({ cfnValidation: false }), 'M');
    new Messaging(s, 'Email', {
      config: { ...stackConfig({ emailFrom: 'no-reply@busdk.example' }).email, identity: 'domain' },
    });
    Template.fromStack(s).hasResourceProperties('AWS::SES::EmailIdentity', {
      EmailIdentity: 'busdk.example',
    });
  });

  it('rejects a sender that is not a plain address', () => {
    const config = stackConfig({ emailFrom: 'no-reply@busdk.example' });
    expect(() =>
      validateStackConfig({ ...config, email: { from: 'Builder <x@example.com>', identity: 'address' } }),
    ).toThrow(/email.from/);
  });
});

function send0(statements: { Action: unknown; Resource: unknown; Effect: string }[]) {
  const s = statements.find((x) => JSON.stringify(x.Action).includes('ses:'));
  if (!s) throw new Error('no ses statement');
  return s as never;
}
