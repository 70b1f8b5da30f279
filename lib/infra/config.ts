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
  /** WAF rate-based rule: requests to `/api/*` per source IP per 5 minutes before a 429. */
  readonly wafRateLimitPer5Min: number;
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
  /**
   * Internet egress of the worker. `none` (default): isolated subnets only, the worker reaches
   * AWS through VPC endpoints and nothing else (the offline and same-region Bedrock coders).
   * `nat`: one NAT gateway (in a public subnet) and private subnets with a route out, in which
   * only the worker runs, with HTTPS (443) to any address: what an OpenAI-compatible or external
   * command coder, or Bedrock in another region, needs. PrepareBranch, EFS and the endpoints stay
   * in the isolated subnets either way.
   */
  readonly workerEgress: WorkerEgress;
}

export const WORKER_EGRESS = ['none', 'nat'] as const;
export const EMAIL_IDENTITIES = ['address', 'domain'] as const;

/**
 * Domains that can never be an SES sender (RFC 2606 / RFC 6761 reserved names): refused for a
 * deployment (`stackConfigFromContext`); tests may still use them through `stackConfig`.
 */
const RESERVED_EMAIL_DOMAIN = /(^|\.)(example\.(com|net|org)|example|invalid|test|localhost|local)$/i;
export type WorkerEgress = (typeof WORKER_EGRESS)[number];

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
  /**
   * A prebuilt worker image URI (`-c workerImage=…`, e.g. what `npm run image -- --push` printed),
   * pinned by tag or digest; the image must be linux/arm64. Unset: CDK builds worker-image/Dockerfile
   * as an asset at deploy time (needs docker or podman).
   */
  readonly image?: string;
}

export type Coder = 'offline' | 'bedrock' | 'openai' | 'command';

export interface OrchestratorConfig {
  /** MAX_ATTEMPTS: worker attempts per execution (repair loop bound). */
  readonly maxAttempts: number;
}

/** HTTP API integrations time out at 30 s; the function must finish (or fail) before that. */
export const API_TIMEOUT_MAX = Duration.seconds(29);

/**
 * The default model of the intake and the coder on Bedrock: Claude Sonnet 4.5 through the global
 * cross-region inference profile (Claude 4 models have no in-region on-demand throughput; `us.` /
 * `eu.` / `apac.` profiles keep requests inside one geography). Choose another with
 * `-c bedrockModelId=…` (README "Models on AWS").
 */
export const DEFAULT_BEDROCK_MODEL_ID = 'global.anthropic.claude-sonnet-4-5-20250929-v1:0';

/**
 * The stack's settings. `emailFrom` has no default: the sender must be an address (or domain)
 * the operator owns and verifies in SES, so a missing one is refused rather than deployed with a
 * placeholder no mail would ever leave.
 */
export function stackConfig(overrides: { stage?: string; emailFrom?: string } = {}): StackConfig {
  const config: StackConfig = {
    stage: overrides.stage ?? 'dev',
    logRetention: RetentionDays.ONE_MONTH,
    lambda: { runtime: Runtime.NODEJS_24_X, memorySize: 512 },
    api: {
      timeout: Duration.seconds(29),
      throttleRateLimit: 50,
      throttleBurstLimit: 100,
      wafRateLimitPer5Min: 1000,
      maxBodyBytes: MAX_BODY_BYTES_DEFAULT,
    },
    storage: {
      stagingExpirationDays: 14,
      evidenceInfrequentAccessDays: 30,
      evidenceExpirationDays: 365,
      accessLogExpirationDays: 90,
    },
    network: { maxAzs: 2, workerEgress: 'none' },
    worker: {
      cpu: 2048,
      memoryLimitMiB: 4096,
      ephemeralStorageGiB: 30,
      timeoutSeconds: 1500,
      // Amazon Bedrock is the AWS default of both the coder and the intake (`-c coder=offline
      // -c intakeProvider=offline` for the model-free recipe coder and rules).
      coder: 'bedrock',
      readonlyRootFilesystem: false,
    },
    orchestrator: { maxAttempts: 3 },
    payments: {},
    email: { from: overrides.emailFrom ?? '', identity: 'address' },
    models: { intakeProvider: 'bedrock', bedrockModelId: DEFAULT_BEDROCK_MODEL_ID },
  };
  validateStackConfig(config);
  return config;
}

/**
 * Throws on a configuration the stack cannot honour. `stackRegion` is the stack's region when it
 * is known at synthesis (an environment-agnostic stack passes nothing).
 */
export function validateStackConfig(config: StackConfig, stackRegion?: string): void {
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(config.stage)) {
    throw new Error(`stage must be lower-case letters, digits and dashes (max 20): ${config.stage}`);
  }
  if (config.api.timeout.toSeconds() > API_TIMEOUT_MAX.toSeconds()) {
    throw new Error(`api.timeout must be at most ${API_TIMEOUT_MAX.toSeconds()} s`);
  }
  if (config.api.wafRateLimitPer5Min < 10 || config.api.wafRateLimitPer5Min > 2_000_000_000) {
    throw new Error('api.wafRateLimitPer5Min must be between 10 and 2000000000 (a WAF rate-based rule)');
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
  if (config.email.from === '') {
    throw new Error(
      'email.from (the SES sender of sign-in codes) is required: deploy with -c emailFrom=<address you ' +
        'own>, e.g. -c emailFrom=no-reply@<your domain> (README "Deploying")',
    );
  }
  if (!EMAIL_IDENTITIES.includes(config.email.identity)) {
    throw new Error(`email.identity must be one of ${EMAIL_IDENTITIES.join(', ')}: ${config.email.identity}`);
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
  validateWorkerEgress(config, stackRegion);
  if (
    worker.image !== undefined &&
    !/^[a-z0-9][a-z0-9.-]*(:\d+)?\/[a-z0-9._/-]+(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})$/.test(worker.image)
  ) {
    throw new Error(
      `worker.image must be a registry/repository image URI with a tag or digest: ${worker.image} ` +
        '(e.g. 111111111111.dkr.ecr.eu-west-1.amazonaws.com/bus-build-worker:2026-12-07)',
    );
  }
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
 * Without egress (`network.workerEgress` none) the worker reaches only the VPC endpoints of the
 * stack's region: a coder that calls a model API elsewhere would fail every attempt at run time
 * (Fargate could not even fetch an API key secret without the Secrets Manager endpoint), so such
 * a configuration is refused at synthesis.
 */
function validateWorkerEgress(config: StackConfig, stackRegion: string | undefined): void {
  const { network, worker, models } = config;
  if (!WORKER_EGRESS.includes(network.workerEgress)) {
    throw new Error(
      `network.workerEgress must be one of ${WORKER_EGRESS.join(', ')}: ${network.workerEgress}`,
    );
  }
  if (network.workerEgress !== 'none') return;
  if (worker.coder === 'openai' || worker.coder === 'command') {
    const what =
      worker.coder === 'openai' ? 'an OpenAI-compatible API' : 'an external agent command and its model API';
    throw new Error(
      `worker.coder ${worker.coder} needs internet egress (${what}), but the worker's subnets have no ` +
        'route out (network.workerEgress none): deploy with -c workerEgress=nat (one NAT gateway; ' +
        'only the worker gets HTTPS egress), or use -c coder=bedrock / -c coder=offline',
    );
  }
  const region = models.bedrockRegion;
  if (worker.coder === 'bedrock' && region !== undefined && region !== stackRegion) {
    throw new Error(
      `models.bedrockRegion ${region} applies to the worker's coder, which reaches Bedrock only through ` +
        "the bedrock-runtime VPC endpoint of the stack's region (network.workerEgress none)" +
        (stackRegion
          ? ` (${stackRegion})`
          : ', and this environment-agnostic stack cannot prove they match') +
        ': leave bedrockRegion unset (a cross-region inference profile id such as eu.… still routes ' +
        'across regions), or deploy with -c workerEgress=nat',
    );
  }
}

/**
 * The stack config with `cdk -c key=value` overrides, so deployments choose providers and
 * settings without code changes: `stage`, `intakeProvider` (alias `intake`), `coder`,
 * `bedrockModelId`, `bedrockRegion`, `openaiBaseUrl` + `openaiModel`, `coderCommand` (JSON argv),
 * `workerEgress` (none/nat), `emailFrom` (required), `emailIdentity` (address/domain),
 * `operatorEmail`, `cardPayments` (true/false), `workerImage` (a prebuilt image URI).
 */
export function stackConfigFromContext(get: (key: string) => unknown): StackConfig {
  const str = (key: string): string | undefined => {
    const v = get(key);
    return typeof v === 'string' && v.trim() ? v.trim() : undefined;
  };
  const emailFrom = str('emailFrom');
  if (!emailFrom) {
    throw new Error(
      'context emailFrom is required: the SES sender of sign-in codes, an address whose mailbox or ' +
        'domain you control (cdk deploy -c emailFrom=no-reply@<your domain>); there is no default',
    );
  }
  const domain = emailFrom.slice(emailFrom.lastIndexOf('@') + 1);
  if (RESERVED_EMAIL_DOMAIN.test(domain)) {
    throw new Error(
      `context emailFrom ${emailFrom}: ${domain} is a reserved domain SES can never verify or send from; ` +
        'use an address of a domain you own',
    );
  }
  const base = stackConfig({ stage: str('stage'), emailFrom });
  const coder = str('coder') as StackConfig['worker']['coder'] | undefined;
  const intakeProvider = (str('intakeProvider') ?? str('intake')) as
    | StackConfig['models']['intakeProvider']
    | undefined;
  if (str('intakeProvider') && str('intake') && str('intakeProvider') !== str('intake')) {
    throw new Error('context intake and intakeProvider disagree (they are the same setting)');
  }
  const workerEgress = str('workerEgress') as WorkerEgress | undefined;
  const openaiBaseUrl = str('openaiBaseUrl');
  const openaiModel = str('openaiModel');
  if (Boolean(openaiBaseUrl) !== Boolean(openaiModel)) {
    throw new Error('context openaiBaseUrl and openaiModel go together');
  }
  const coderCommand = parseCoderCommand(get('coderCommand'));
  const cardPayments = parseBoolean('cardPayments', get('cardPayments'));
  const emailIdentity = str('emailIdentity') as EmailConfig['identity'] | undefined;
  const config: StackConfig = {
    ...base,
    network: { ...base.network, ...(workerEgress ? { workerEgress } : {}) },
    worker: {
      ...base.worker,
      ...(coder ? { coder } : {}),
      ...(str('workerImage') ? { image: str('workerImage')! } : {}),
    },
    models: {
      ...base.models,
      ...(intakeProvider ? { intakeProvider } : {}),
      ...(str('bedrockModelId') ? { bedrockModelId: str('bedrockModelId')! } : {}),
      ...(str('bedrockRegion') ? { bedrockRegion: str('bedrockRegion')! } : {}),
      ...(openaiBaseUrl && openaiModel ? { openai: { baseUrl: openaiBaseUrl, model: openaiModel } } : {}),
      ...(coderCommand ? { coderCommand } : {}),
    },
    email: { from: emailFrom, identity: emailIdentity ?? base.email.identity },
    payments: {
      ...base.payments,
      ...(str('operatorEmail') ? { operatorEmail: str('operatorEmail')! } : {}),
      ...(cardPayments ? { cardPayments: true } : {}),
    },
  };
  validateStackConfig(config);
  return config;
}

/** A true/false context value (`-c cardPayments=true` arrives as a string); anything else is refused. */
function parseBoolean(key: string, value: unknown): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`context ${key} must be true or false: ${JSON.stringify(value)}`);
}

/** `coderCommand` context: a JSON argv (`-c 'coderCommand=["agent","--flag"]'`) or an array in cdk.json. */
function parseCoderCommand(value: unknown): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let argv: unknown = value;
  if (typeof value === 'string') {
    try {
      argv = JSON.parse(value);
    } catch {
      throw new Error(`context coderCommand must be a JSON array of strings: ${value}`);
    }
  }
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string' && a !== '')) {
    throw new Error(
      `context coderCommand must be a non-empty JSON array of strings: ${JSON.stringify(value)}`,
    );
  }
  return argv;
}
