import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BEDROCK_MODEL_ID,
  stackConfig,
  stackConfigFromContext,
  validateStackConfig,
} from '../../lib/infra/config.ts';

describe('stackConfig', () => {
  it('defaults to the dev stage with a 29 s API timeout and stage throttling', () => {
    const config = stackConfig({ emailFrom: 'no-reply@busdk.example' });
    expect(config.stage).toBe('dev');
    expect(config.api.timeout.toSeconds()).toBe(29);
    expect(config.api).toMatchObject({ throttleBurstLimit: 100, throttleRateLimit: 50 });
  });

  it('rejects an API timeout the HTTP API integration would cut off', () => {
    const config = stackConfig({ emailFrom: 'no-reply@busdk.example' });
    expect(() =>
      validateStackConfig({ ...config, api: { ...config.api, timeout: Duration.seconds(30) } }),
    ).toThrow(/at most 29/);
  });

  it('rejects a stage name that cannot be part of resource names', () => {
    expect(() => stackConfig({ stage: 'Prod Stage' })).toThrow(/stage/);
  });

  it('defaults the pipeline: two AZs, 14-day staging, 30/365-day evidence, a 1500 s worker', () => {
    const config = stackConfig({ emailFrom: 'no-reply@busdk.example' });
    expect(config.network.maxAzs).toBe(2);
    expect(config.storage).toMatchObject({
      stagingExpirationDays: 14,
      evidenceInfrequentAccessDays: 30,
      evidenceExpirationDays: 365,
    });
    expect(config.worker).toMatchObject({
      timeoutSeconds: 1500,
      coder: 'bedrock',
      readonlyRootFilesystem: false,
    });
    expect(config.models.intakeProvider).toBe('bedrock');
    expect(config.network.workerEgress).toBe('none');
    expect(config.orchestrator.maxAttempts).toBe(3);
  });

  it('rejects lifecycle settings S3 would refuse or that contradict each other', () => {
    const config = stackConfig({ emailFrom: 'no-reply@busdk.example' });
    expect(() =>
      validateStackConfig({ ...config, storage: { ...config.storage, evidenceInfrequentAccessDays: 7 } }),
    ).toThrow(/at least 30/);
    expect(() =>
      validateStackConfig({ ...config, storage: { ...config.storage, evidenceExpirationDays: 30 } }),
    ).toThrow(/after the Standard-IA transition/);
  });

  it('rejects a malformed gateway prefix list id and a single-AZ network', () => {
    const config = stackConfig({ emailFrom: 'no-reply@busdk.example' });
    expect(() =>
      validateStackConfig({ ...config, network: { ...config.network, gatewayPrefixListIds: ['s3'] } }),
    ).toThrow(/prefix list/);
    expect(() => validateStackConfig({ ...config, network: { ...config.network, maxAzs: 1 } })).toThrow(
      /maxAzs/,
    );
  });

  it('rejects worker settings Fargate or the repair loop cannot honour', () => {
    const config = stackConfig({ emailFrom: 'no-reply@busdk.example' });
    expect(() =>
      validateStackConfig({ ...config, worker: { ...config.worker, ephemeralStorageGiB: 10 } }),
    ).toThrow(/ephemeralStorageGiB/);
    expect(() => validateStackConfig({ ...config, orchestrator: { maxAttempts: 0 } })).toThrow(/maxAttempts/);
  });
});

describe('stackConfigFromContext (cdk -c key=value)', () => {
  /** Context values with the one required setting (the sender) unless a test sets its own. */
  const ctx =
    (values: Record<string, unknown>) =>
    (key: string): unknown =>
      ({ emailFrom: 'no-reply@busdk.com', ...values })[key];

  it('defaults to Amazon Bedrock for intake and coder, without worker egress', () => {
    const c = stackConfigFromContext(ctx({}));
    expect(c.models.intakeProvider).toBe('bedrock');
    expect(c.worker.coder).toBe('bedrock');
    expect(c.models.bedrockRegion).toBeUndefined();
    expect(c.network.workerEgress).toBe('none');
    expect(c.payments.cardPayments).toBeUndefined();
  });

  it('selects the offline intake and coder (intakeProvider or its alias intake)', () => {
    for (const key of ['intakeProvider', 'intake']) {
      const c = stackConfigFromContext(ctx({ [key]: 'offline', coder: 'offline' }));
      expect(c.models.intakeProvider).toBe('offline');
      expect(c.worker.coder).toBe('offline');
    }
    expect(() => stackConfigFromContext(ctx({ intake: 'offline', intakeProvider: 'bedrock' }))).toThrow(
      /disagree/,
    );
  });

  it('takes the worker egress, an OpenAI-compatible endpoint and an agent command', () => {
    const openai = stackConfigFromContext(
      ctx({
        workerEgress: 'nat',
        coder: 'openai',
        openaiBaseUrl: 'https://models.example/v1',
        openaiModel: 'm-1',
      }),
    );
    expect(openai.network.workerEgress).toBe('nat');
    expect(openai.worker.coder).toBe('openai');
    expect(openai.models.openai).toEqual({ baseUrl: 'https://models.example/v1', model: 'm-1' });
    const command = stackConfigFromContext(
      ctx({ workerEgress: 'nat', coder: 'command', coderCommand: '["agent","--run"]' }),
    );
    expect(command.models.coderCommand).toEqual(['agent', '--run']);
    expect(() =>
      stackConfigFromContext(ctx({ workerEgress: 'nat', coder: 'command', coderCommand: 'agent --run' })),
    ).toThrow(/coderCommand must be a JSON array/);
    expect(() => stackConfigFromContext(ctx({ openaiBaseUrl: 'https://models.example/v1' }))).toThrow(
      /go together/,
    );
    expect(() => stackConfigFromContext(ctx({ workerEgress: 'internet' }))).toThrow(/workerEgress must be/);
  });

  it('refuses coders that need egress without -c workerEgress=nat', () => {
    expect(() =>
      stackConfigFromContext(
        ctx({ coder: 'openai', openaiBaseUrl: 'https://models.example/v1', openaiModel: 'm-1' }),
      ),
    ).toThrow(/coder openai needs internet egress.*-c workerEgress=nat/);
    expect(() => stackConfigFromContext(ctx({ coder: 'command', coderCommand: '["agent"]' }))).toThrow(
      /coder command needs internet egress.*-c workerEgress=nat/,
    );
    // The worker reaches Bedrock only through the endpoint of the stack's region.
    expect(() => stackConfigFromContext(ctx({ bedrockRegion: 'us-east-1' }))).toThrow(
      /bedrockRegion us-east-1.*-c workerEgress=nat/,
    );
    expect(
      stackConfigFromContext(ctx({ bedrockRegion: 'us-east-1', workerEgress: 'nat' })).models,
    ).toMatchObject({ bedrockRegion: 'us-east-1' });
    // The intake alone may use another region (PostMessage is not in the VPC).
    expect(stackConfigFromContext(ctx({ bedrockRegion: 'us-east-1', coder: 'offline' })).worker.coder).toBe(
      'offline',
    );
  });

  it('accepts a coder Bedrock region equal to a known stack region', () => {
    const base = stackConfig({ emailFrom: 'no-reply@busdk.example' });
    const config = { ...base, models: { ...base.models, bedrockRegion: 'eu-north-1' } };
    expect(() => validateStackConfig(config, 'eu-north-1')).not.toThrow();
    expect(() => validateStackConfig(config, 'eu-west-1')).toThrow(/bedrockRegion eu-north-1.*\(eu-west-1\)/);
    expect(() => validateStackConfig(config)).toThrow(/environment-agnostic/);
  });

  it('takes providers, model id and region, sender, operator email and the card switch', () => {
    const c = stackConfigFromContext(
      ctx({
        stage: 'prod',
        intakeProvider: 'bedrock',
        coder: 'bedrock',
        bedrockModelId: 'eu.anthropic.claude-3-5-sonnet-20240620-v1:0',
        bedrockRegion: 'eu-central-1',
        // A coder region this environment-agnostic stack cannot match to its own needs egress.
        workerEgress: 'nat',
        emailFrom: 'builder@busdk.com',
        operatorEmail: 'ops@busdk.example',
        cardPayments: 'true',
      }),
    );
    expect(c.stage).toBe('prod');
    expect(c.models).toMatchObject({
      intakeProvider: 'bedrock',
      bedrockModelId: 'eu.anthropic.claude-3-5-sonnet-20240620-v1:0',
      bedrockRegion: 'eu-central-1',
    });
    expect(c.worker.coder).toBe('bedrock');
    expect(c.email.from).toBe('builder@busdk.com');
    expect(c.payments).toMatchObject({ operatorEmail: 'ops@busdk.example', cardPayments: true });
  });

  it('requires the SES sender and refuses one SES can never verify', () => {
    expect(() => stackConfigFromContext(ctx({ emailFrom: undefined }))).toThrow(
      /context emailFrom is required.*-c emailFrom=/,
    );
    expect(() => stackConfigFromContext(ctx({ emailFrom: '  ' }))).toThrow(/emailFrom is required/);
    for (const from of ['no-reply@example.com', 'a@mail.example.org', 'a@x.invalid', 'a@host.test']) {
      expect(() => stackConfigFromContext(ctx({ emailFrom: from })), from).toThrow(/reserved domain/);
    }
    expect(() => stackConfigFromContext(ctx({ emailFrom: 'Builder <b@busdk.com>' }))).toThrow(/email.from/);
    expect(() => stackConfig({})).toThrow(/email.from .* is required/);
    expect(stackConfigFromContext(ctx({ emailIdentity: 'domain' })).email).toEqual({
      from: 'no-reply@busdk.com',
      identity: 'domain',
    });
    expect(() => stackConfigFromContext(ctx({ emailIdentity: 'dkim' }))).toThrow(/email.identity/);
  });

  it('takes the card switch as true or false only (Stripe mode)', () => {
    expect(stackConfigFromContext(ctx({ cardPayments: 'false' })).payments.cardPayments).toBeUndefined();
    expect(stackConfigFromContext(ctx({ cardPayments: true })).payments.cardPayments).toBe(true);
    for (const v of ['yes', '1', 'TRUE ', 1]) {
      expect(() => stackConfigFromContext(ctx({ cardPayments: v })), String(v)).toThrow(
        /cardPayments must be true or false/,
      );
    }
  });

  it('defaults to a current Claude model through a cross-region inference profile', () => {
    const c = stackConfigFromContext(ctx({}));
    expect(c.models.bedrockModelId).toBe(DEFAULT_BEDROCK_MODEL_ID);
    expect(c.models.bedrockModelId).toMatch(/^global\.anthropic\.claude-sonnet-4-5-/);
  });

  it('validates the Bedrock model id at synth: form, profile geography, profile-only models', () => {
    const ok = [
      'global.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'eu.anthropic.claude-opus-4-1-20250805-v1:0',
      'apac.anthropic.claude-sonnet-4-20250514-v1:0',
      'anthropic.claude-3-5-haiku-20241022-v1:0',
      'amazon.nova-pro-v1:0',
    ];
    for (const id of ok)
      expect(stackConfigFromContext(ctx({ bedrockModelId: id })).models.bedrockModelId).toBe(id);
    expect(() =>
      stackConfigFromContext(ctx({ bedrockModelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0' })),
    ).toThrow(/only be invoked through a cross-region inference profile: use global\.anthropic/);
    expect(() =>
      stackConfigFromContext(ctx({ bedrockModelId: 'xx.anthropic.claude-sonnet-4-5-20250929-v1:0' })),
    ).toThrow(/starts with xx\., which is not an inference profile geography/);
    expect(() => stackConfigFromContext(ctx({ bedrockModelId: 'claude' }))).toThrow(/not a Bedrock model id/);
    expect(() => stackConfigFromContext(ctx({ bedrockRegion: 'frankfurt', coder: 'offline' }))).toThrow(
      /bedrockRegion is not an AWS region/,
    );
    // Not validated when nothing uses Bedrock.
    expect(() =>
      stackConfigFromContext(ctx({ bedrockModelId: 'claude', coder: 'offline', intakeProvider: 'offline' })),
    ).not.toThrow();
  });

  it('rejects an unknown provider', () => {
    expect(() => stackConfigFromContext(ctx({ intakeProvider: 'magic' }))).toThrow(/intakeProvider/);
  });
});
