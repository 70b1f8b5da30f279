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
      coder: 'offline',
      readonlyRootFilesystem: false,
    });
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
    expect(() => validateStackConfig({ ...config, network: { maxAzs: 1 } })).toThrow(/maxAzs/);
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

  it('keeps the offline defaults without context', () => {
    const c = stackConfigFromContext(ctx({}));
    expect(c.models.intakeProvider).toBe('offline');
    expect(c.worker.coder).toBe('offline');
    expect(c.payments.cardPayments).toBeUndefined();
  });

  it('takes providers, model id and region, sender, operator email and the card switch', () => {
    const c = stackConfigFromContext(
      ctx({
        stage: 'prod',
        intakeProvider: 'bedrock',
        coder: 'bedrock',
        bedrockModelId: 'eu.anthropic.claude-3-5-sonnet-20240620-v1:0',
        bedrockRegion: 'eu-central-1',
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
