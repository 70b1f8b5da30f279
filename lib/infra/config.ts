import { Duration } from 'aws-cdk-lib';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { MAX_BODY_BYTES_DEFAULT } from '../aws/config.ts';
import type { EmailConfig } from './messaging.ts';
import { type ModelsConfig, validateModelsConfig } from './models.ts';
import type { PaymentsConfig } from './payments.ts';

/** Typed configuration for one deployment of the stack, passed down to every construct as props. */
export interface StackConfig {
  /** Deployment stage (dev, prod, …): part of the stack name and resource descriptions. */
  readonly stage: string;
  /** Retention of every log group the stack creates (Lambda, API access, worker, state machine, VPC flow logs). */
  readonly logRetention: RetentionDays;
  readonly lambda: LambdaConfig;
  readonly api: ApiConfig;
  readonly storage: StorageConfig;
  readonly network: NetworkConfig;
  readonly worker: WorkerConfig;
  readonly orchestrator: OrchestratorConfig;
  /** Stripe secrets and operator notifications (lib/infra/payments.ts). */
  readonly payments: PaymentsConfig;
  /** The SES sender of one-time codes (lib/infra/messaging.ts). */
  readonly email: EmailConfig;
  /** Model providers of the intake assistant and the worker's coder (lib/infra/models.ts). */
  readonly models: ModelsConfig;
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

export interface StorageConfig {
  /** Staging objects (assignments, candidates) expire after this many days. */
  readonly stagingExpirationDays: number;
  /** Evidence moves to S3 Standard-IA after this many days (S3 requires at least 30). */
  readonly evidenceInfrequentAccessDays: number;
  /** Evidence expires after this many days. */
  readonly evidenceExpirationDays: number;
  /** Server access logs of the three buckets expire after this many days. */
  readonly accessLogExpirationDays: number;
}

export interface NetworkConfig {
  /** Availability zones of the VPC (one isolated subnet, EFS mount target and endpoint ENI each). */
  readonly maxAzs: number;
  /**
   * Ids of the AWS-managed prefix lists of the S3 and DynamoDB gateway endpoints in the target
   * region (`aws ec2 describe-managed-prefix-lists`). When set, HTTPS egress of the worker and the
   * in-VPC functions is limited to these lists plus the VPC CIDR (the interface endpoints). When
   * unset, HTTPS egress is allowed to any address, which in subnets without NAT or internet
   * gateway still reaches nothing but the VPC endpoints. Prefix list ids cannot be looked up
   * offline, so the default keeps `cdk synth` environment-agnostic.
   */
  readonly gatewayPrefixListIds?: readonly string[];
}

export interface WorkerConfig {
  /** Fargate task size (vCPU units and MiB, a valid Fargate combination). */
  readonly cpu: number;
  readonly memoryLimitMiB: number;
  /** Task ephemeral storage (GiB, 21–200); clone, Go caches and build output live here. */
  readonly ephemeralStorageGiB: number;
  /** WORKER_TIMEOUT_SECONDS: the worker stops itself before the RunWorker state times out. */
  readonly timeoutSeconds: number;
  /**
   * CODER: the worker's coder: `offline` recipe coder, `bedrock` / `openai` model-driven coder
   * (settings in `models`), or an external agent `command` (`models.coderCommand`).
   */
  readonly coder: Coder;
  /**
   * Read-only root file system with task-local volumes for the writable paths. Needs matching
   * `VOLUME` declarations in worker-image/Dockerfile (see WORKER_WRITABLE_PATHS in worker.ts).
   */
  readonly readonlyRootFilesystem: boolean;
}

export type Coder = 'offline' | 'bedrock' | 'openai' | 'command';

export interface OrchestratorConfig {
  /** MAX_ATTEMPTS: worker attempts per execution (repair loop bound). */
  readonly maxAttempts: number;
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
    storage: {
      stagingExpirationDays: 14,
      evidenceInfrequentAccessDays: 30,
      evidenceExpirationDays: 365,
      accessLogExpirationDays: 90,
    },
    network: { maxAzs: 2 },
    worker: {
      cpu: 2048,
      memoryLimitMiB: 4096,
      ephemeralStorageGiB: 30,
      timeoutSeconds: 1500,
      coder: 'offline',
      readonlyRootFilesystem: false,
    },
    orchestrator: { maxAttempts: 3 },
    payments: {},
    email: { from: 'no-reply@example.com', identity: 'address' },
    models: { intakeProvider: 'offline', bedrockModelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0' },
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
  const { storage, worker, network, orchestrator } = config;
  if (storage.stagingExpirationDays < 1 || storage.accessLogExpirationDays < 1) {
    throw new Error('storage expirations must be at least one day');
  }
  if (storage.evidenceInfrequentAccessDays < 30) {
    throw new Error('storage.evidenceInfrequentAccessDays must be at least 30 (S3 Standard-IA minimum)');
  }
  if (storage.evidenceExpirationDays <= storage.evidenceInfrequentAccessDays) {
    throw new Error('storage.evidenceExpirationDays must be after the Standard-IA transition');
  }
  if (network.maxAzs < 2) throw new Error('network.maxAzs must be at least 2 (EFS and endpoints in two AZs)');
  for (const id of network.gatewayPrefixListIds ?? []) {
    if (!/^pl-[0-9a-f]{8,17}$/.test(id)) throw new Error(`not a prefix list id: ${id}`);
  }
  if (!/^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$/.test(config.email.from)) {
    throw new Error(`email.from must be a plain email address: ${config.email.from}`);
  }
  if (
    config.payments.operatorEmail !== undefined &&
    !/^[^@\s]+@[^@\s]+$/.test(config.payments.operatorEmail)
  ) {
    throw new Error(`payments.operatorEmail must be an email address: ${config.payments.operatorEmail}`);
  }
  validateModelsConfig(config.models, worker.coder);
  if (!Number.isInteger(worker.timeoutSeconds) || worker.timeoutSeconds < 60) {
    throw new Error('worker.timeoutSeconds must be an integer of at least 60');
  }
  if (worker.ephemeralStorageGiB < 21 || worker.ephemeralStorageGiB > 200) {
    throw new Error('worker.ephemeralStorageGiB must be from 21 to 200');
  }
  if (
    !Number.isInteger(orchestrator.maxAttempts) ||
    orchestrator.maxAttempts < 1 ||
    orchestrator.maxAttempts > 10
  ) {
    throw new Error('orchestrator.maxAttempts must be an integer from 1 to 10');
  }
}

/**
 * The stack config with `cdk -c key=value` overrides, so deployments choose providers and
 * settings without code changes: `stage`, `intakeProvider`, `coder`, `bedrockModelId`,
 * `bedrockRegion`, `emailFrom`, `operatorEmail`, `cardPayments` (true/false).
 */
export function stackConfigFromContext(get: (key: string) => unknown): StackConfig {
  const str = (key: string): string | undefined => {
    const v = get(key);
    return typeof v === 'string' && v.trim() ? v.trim() : undefined;
  };
  const base = stackConfig({ stage: str('stage') });
  const coder = str('coder') as StackConfig['worker']['coder'] | undefined;
  const intakeProvider = str('intakeProvider') as StackConfig['models']['intakeProvider'] | undefined;
  const cardPayments = get('cardPayments');
  const config: StackConfig = {
    ...base,
    worker: { ...base.worker, ...(coder ? { coder } : {}) },
    models: {
      ...base.models,
      ...(intakeProvider ? { intakeProvider } : {}),
      ...(str('bedrockModelId') ? { bedrockModelId: str('bedrockModelId')! } : {}),
      ...(str('bedrockRegion') ? { bedrockRegion: str('bedrockRegion')! } : {}),
    },
    email: { ...base.email, ...(str('emailFrom') ? { from: str('emailFrom')! } : {}) },
    payments: {
      ...base.payments,
      ...(str('operatorEmail') ? { operatorEmail: str('operatorEmail')! } : {}),
      ...(cardPayments === true || cardPayments === 'true' ? { cardPayments: true } : {}),
    },
  };
  validateStackConfig(config);
  return config;
}
