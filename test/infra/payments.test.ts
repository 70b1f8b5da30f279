import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../functions/api/routes.ts';
import type { BuildStack } from '../../lib/infra/build-stack.ts';
import { Payments, STRIPE_SECRET_PLACEHOLDER } from '../../lib/infra/payments.ts';
import { LAMBDA_TASKS } from '../../state-machines/tasks.ts';
import {
  allowsAction,
  logicalIdOf,
  resourcesOf,
  statementsForRole,
  synthBuildStack,
  testApp,
} from './synth.ts';

describe('payments (Stripe secrets, operator topic)', () => {
  let stack: BuildStack;
  let template: Template;
  beforeAll(() => {
    ({ stack, template } = synthBuildStack());
  });

  const env = (fn: { function: { node: { defaultChild?: unknown } } }) => {
    const id = logicalIdOf(fn.function as never);
    return template.toJSON().Resources[id].Properties.Environment.Variables as Record<string, unknown>;
  };
  const apiFn = (id: string) => stack.api.functions[id]!;
  const taskFn = (state: string) => stack.pipeline.functions[state]!;
  const ref = (c: Parameters<typeof logicalIdOf>[0]) => ({ Ref: logicalIdOf(c) });
  const key = () => `<${logicalIdOf(stack.payments.stripeSecretKey)}>`;
  const webhook = () => `<${logicalIdOf(stack.payments.stripeWebhookSecret)}>`;
  const readableSecrets = (role: Parameters<typeof logicalIdOf>[0]) =>
    statementsForRole(template, logicalIdOf(role))
      .filter((s) => allowsAction(s, 'secretsmanager:GetSecretValue'))
      .flatMap(resourcesOf);

  it('creates both Stripe secrets with a blank placeholder only (values are set after deploy)', () => {
    for (const s of [stack.payments.stripeSecretKey, stack.payments.stripeWebhookSecret]) {
      const props = template.toJSON().Resources[logicalIdOf(s)].Properties;
      expect(props.SecretString).toBe(STRIPE_SECRET_PLACEHOLDER);
      expect(props.SecretString.trim()).toBe('');
    }
  });

  it('gives the Stripe key ARN and read access to Checkout, StripeWebhook, Publish, FailRun and SettlePayments only', () => {
    const holders = [
      apiFn('Checkout'),
      apiFn('StripeWebhook'),
      taskFn('Publish'),
      taskFn('FailRun'),
      stack.pipeline.settler,
    ];
    for (const fn of holders) {
      expect(env(fn).STRIPE_SECRET_KEY_ARN).toEqual(ref(stack.payments.stripeSecretKey));
      expect(readableSecrets(fn.role)).toContain(key());
    }
    const others = [
      ...API_ROUTES.filter((r) => !['Checkout', 'StripeWebhook'].includes(r.id)).map((r) => apiFn(r.id)),
      ...LAMBDA_TASKS.filter((t) => !['Publish', 'FailRun'].includes(t.state)).map((t) => taskFn(t.state)),
    ];
    for (const fn of others) {
      expect(readableSecrets(fn.role), fn.node.path).not.toContain(key());
      expect(readableSecrets(fn.role), fn.node.path).not.toContain(webhook());
    }
    // GetRun only advertises card payment (presence of the variable); it cannot read the key.
    expect(env(apiFn('GetRun')).STRIPE_SECRET_KEY_ARN).toEqual(ref(stack.payments.stripeSecretKey));
  });

  it('runs the settle reconcile on a schedule (capture retried after a Stripe outage)', () => {
    const rule = template.toJSON().Resources[logicalIdOf(stack.pipeline.settleRule)].Properties;
    expect(rule.ScheduleExpression).toBe('rate(15 minutes)');
    expect(JSON.stringify(rule.Targets)).toContain(logicalIdOf(stack.pipeline.settler.function));
    expect(readableSecrets(stack.pipeline.settler.role)).not.toContain(webhook());
  });

  it('gives the webhook signing secret to StripeWebhook only', () => {
    expect(env(apiFn('StripeWebhook')).STRIPE_WEBHOOK_SECRET_ARN).toEqual(
      ref(stack.payments.stripeWebhookSecret),
    );
    expect(readableSecrets(apiFn('StripeWebhook').role)).toContain(webhook());
    expect(readableSecrets(taskFn('Publish').role)).not.toContain(webhook());
  });

  it('settles payments from outside the VPC (Publish and FailRun reach api.stripe.com directly)', () => {
    for (const state of ['Publish', 'FailRun']) {
      const props = template.toJSON().Resources[logicalIdOf(taskFn(state).function)].Properties;
      expect(props.VpcConfig, state).toBeUndefined();
    }
  });

  it('tells Checkout the portal URL and lets only Checkout publish to the operator topic', () => {
    expect(env(apiFn('Checkout')).PORTAL_URL).toEqual({
      'Fn::Join': [
        '',
        ['https://', { 'Fn::GetAtt': [logicalIdOf(stack.portal.distribution), 'DomainName'] }],
      ],
    });
    expect(env(apiFn('Checkout')).OPERATOR_TOPIC_ARN).toEqual(ref(stack.payments.operatorTopic));
    const publishers = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([, p]) =>
      JSON.stringify(p.Properties.PolicyDocument).includes('sns:Publish'),
    );
    expect(publishers.map(([, p]) => p.Properties.Roles)).toEqual([[ref(apiFn('Checkout').role)]]);
    const sns = statementsForRole(template, logicalIdOf(apiFn('Checkout').role)).filter((s) =>
      allowsAction(s, 'sns:Publish'),
    );
    expect(sns.flatMap(resourcesOf)).toEqual([`<${logicalIdOf(stack.payments.operatorTopic)}>`]);
  });

  it('encrypts the topic with a rotating customer key and refuses publishing without TLS', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [logicalIdOf(stack.payments.operatorTopicKey), 'Arn'] },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const policy = JSON.stringify(template.findResources('AWS::SNS::TopicPolicy'));
    expect(policy).toContain('"aws:SecureTransport":"false"');
    expect(policy).toContain('"Effect":"Deny"');
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('subscribes the operator email when configured', () => {
    const s = new Stack(testApp({ cfnValidation: false }), 'P');
    new Payments(s, 'Payments', { stage: 'test', config: { operatorEmail: 'ops@example.com' } });
    Template.fromStack(s).hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('offers card payment only when the stack switch is on (blank secrets are never advertised)', () => {
    expect(env(apiFn('GetRun')).STRIPE_ENABLED).toBe('false');
    expect(env(apiFn('Checkout')).STRIPE_ENABLED).toBe('false');
    const s = new Stack(testApp({ cfnValidation: false }), 'Q');
    const payments = new Payments(s, 'Payments', { stage: 'test', config: { cardPayments: true } });
    const fn = new lambda.Function(s, 'Fn', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {}'),
    });
    payments.advertiseCard(fn);
    Template.fromStack(s).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { STRIPE_ENABLED: 'true' } },
    });
  });
});
