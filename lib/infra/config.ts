import { Duration } from 'aws-cdk-lib';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { MAX_BODY_BYTES_DEFAULT } from '../aws/config.ts';

/** Typed configuration for one deployment of the stack, passed down to every construct as props. */
export interface StackConfig {
  /** Deployment stage (dev, prod, …): part of the stack name and resource descriptions. */
  readonly stage: string;
  /** Retention of every log group the stack creates (Lambda and API access logs). */
  readonly logRetention: RetentionDays;
  readonly lambda: LambdaConfig;
  readonly api: ApiConfig;
}

export interface LambdaConfig {
  /** The one Node.js runtime every function uses. */
  readonly runtime: Runtime;
  readonly memorySize: number;
}

export interface ApiConfig {
  /** Per-request timeout of the API functions; HTTP API integrations give up after 30 s. */
  readonly timeout: Duration;
  /** Stage-wide steady-state request rate (requests per second). */
  readonly throttleRateLimit: number;
  /** Stage-wide burst capacity (requests). */
  readonly throttleBurstLimit: number;
  /** Largest request body the handlers accept (MAX_BODY_BYTES). */
  readonly maxBodyBytes: number;
}

/** HTTP API integrations time out at 30 s; the function must finish (or fail) before that. */
export const API_TIMEOUT_MAX = Duration.seconds(29);

export function stackConfig(overrides: { stage?: string } = {}): StackConfig {
  const config: StackConfig = {
    stage: overrides.stage ?? 'dev',
    logRetention: RetentionDays.ONE_MONTH,
    lambda: { runtime: Runtime.NODEJS_24_X, memorySize: 512 },
    api: {
      timeout: Duration.seconds(29),
      throttleRateLimit: 50,
      throttleBurstLimit: 100,
      maxBodyBytes: MAX_BODY_BYTES_DEFAULT,
    },
  };
  validateStackConfig(config);
  return config;
}

export function validateStackConfig(config: StackConfig): void {
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(config.stage)) {
    throw new Error(`stage must be lower-case letters, digits and dashes (max 20): ${config.stage}`);
  }
  if (config.api.timeout.toSeconds() > API_TIMEOUT_MAX.toSeconds()) {
    throw new Error(`api.timeout must be at most ${API_TIMEOUT_MAX.toSeconds()} s`);
  }
  if (config.api.throttleRateLimit <= 0 || config.api.throttleBurstLimit <= 0) {
    throw new Error('api throttling limits must be positive');
  }
}
