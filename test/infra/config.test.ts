import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { stackConfig, validateStackConfig } from '../../lib/infra/config.ts';

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
});
