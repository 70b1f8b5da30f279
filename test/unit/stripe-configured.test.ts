import { describe, expect, it } from 'vitest';
import { stripeConfigured } from '../../lib/aws/stripe-gateway.ts';

describe('card payment availability', () => {
  it('is offered locally when a test-mode key is in the environment', () => {
    expect(stripeConfigured({ STRIPE_SECRET_KEY: 'sk_test_x' })).toBe(true);
    expect(stripeConfigured({ STRIPE_SECRET_KEY: '  ' })).toBe(false);
    expect(stripeConfigured({})).toBe(false);
  });

  it('on AWS needs the secret ARN and the stack switch (blank secrets are not offered)', () => {
    const arn = 'arn:aws:secretsmanager:eu-north-1:123456789012:secret:stripe';
    expect(stripeConfigured({ STRIPE_SECRET_KEY_ARN: arn })).toBe(false);
    expect(stripeConfigured({ STRIPE_SECRET_KEY_ARN: arn, STRIPE_ENABLED: 'false' })).toBe(false);
    expect(stripeConfigured({ STRIPE_SECRET_KEY_ARN: arn, STRIPE_ENABLED: 'true' })).toBe(true);
  });
});
