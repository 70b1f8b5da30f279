import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { stackConfig, stackConfigFromContext, validateStackConfig } from '../../lib/infra/config.ts';

describe('stackConfig', () => {
  it('defaults to the dev stage with a 29 s API timeout and stage throttling', () => {
    const config = stackConfig();
    expect(config.stage).toBe('dev');
    expect(config.api.timeout.toSeconds()).toBe(29);
    expect(config.api).toMatchObject({ throttleBurstLimit: 100, throttleRateLimit: 50 });
  });

  it('rejects an API timeout the HTTP API integration would cut off', () => {
    const config = stackConfig();
    expect(() =>
      validateStackConfig({ ...config, api: { ...config.api, timeout: Duration.seconds(30) } }),
    ).toThrow(/at most 29/);
  });

  it('rejects a stage name that cannot be part of resource names', () => {
    expect(() => stackConfig({ stage: 'Prod Stage' })).toThrow(/stage/);
  });

  it('defaults the pipeline: two AZs, 14-day staging, 30/365-day evidence, a 1500 s worker', () => {
    const config = stackConfig();
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
    const config = stackConfig();
    expect(() =>
      validateStackConfig({ ...config, storage: { ...config.storage, evidenceInfrequentAccessDays: 7 } }),
    ).toThrow(/at least 30/);
    expect(() =>
      validateStackConfig({ ...config, storage: { ...config.storage, evidenceExpirationDays: 30 } }),
    ).toThrow(/after the Standard-IA transition/);
  });

  it('rejects a malformed gateway prefix list id and a single-AZ network', () => {
    const config = stackConfig();
    expect(() =>
      validateStackConfig({ ...config, network: { ...config.network, gatewayPrefixListIds: ['s3'] } }),
    ).toThrow(/prefix list/);
    expect(() => validateStackConfig({ ...config, network: { ...config.network, maxAzs: 1 } })).toThrow(
      /maxAzs/,
    );
  });

  it('rejects worker settings Fargate or the repair loop cannot honour', () => {
    const config = stackConfig();
    expect(() =>
      validateStackConfig({ ...config, worker: { ...config.worker, ephemeralStorageGiB: 10 } }),
    ).toThrow(/ephemeralStorageGiB/);
    expect(() => validateStackConfig({ ...config, orchestrator: { maxAttempts: 0 } })).toThrow(/maxAttempts/);
  });
});

describe('stackConfigFromContext (cdk -c key=value)', () => {
  const ctx = (values: Record<string, unknown>) => (key: string) => values[key];

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
    const base = stackConfig();
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
        emailFrom: 'builder@busdk.example',
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
    expect(c.email.from).toBe('builder@busdk.example');
    expect(c.payments).toMatchObject({ operatorEmail: 'ops@busdk.example', cardPayments: true });
  });

  it('rejects an unknown provider', () => {
    expect(() => stackConfigFromContext(ctx({ intakeProvider: 'magic' }))).toThrow(/intakeProvider/);
  });
});
