import { resolve } from 'node:path';
import type { ExecutionStarter } from '../app/start-execution.ts';
import { documentClient, eventBridgeClient, resetClients, sfnClient } from '../aws/clients.ts';
import { loadConfig } from '../aws/config.ts';
import { EventBridgePublisher, NoopPublisher } from '../aws/event-publisher.ts';
import { SfnExecutionStarter } from '../aws/execution-starter.ts';
import { DynamoRunStore } from '../aws/run-store.ts';
import type { EventPublisher } from '../domain/ports.ts';
import {
  LOCAL_CREDENTIALS,
  type LocalStackInfo,
  readStackInfo,
  StackInfoError,
  stackInfoPath,
} from '../local/stack-info.ts';
import { isProcessAlive } from '../process.ts';
import { CliError } from './errors.ts';
import { applyStackOutputs } from './stack-outputs.ts';

export const NOT_RUNNING_MESSAGE = 'The local stack is not running. Start it with: npm start';

export interface Buckets {
  staging: string;
  artifacts: string;
  evidence: string;
}

export interface LocalTarget {
  kind: 'local';
  dataDir: string;
  infoFile: string;
  /** The stack info file's content, when the file exists and is valid. */
  info: LocalStackInfo | undefined;
  /** True when the info exists and its process is alive. */
  running: boolean;
  /** Why the stack counts as not running (for `status`). */
  problem?: string;
}

export interface AwsTarget {
  kind: 'aws';
  region: string | undefined;
  tableName: string;
  stateMachineArn: string | undefined;
  buckets: Buckets;
  /** Where the template repository (EFS) is mounted on this machine, if it is. */
  repoDir: string | undefined;
  eventBusName: string | undefined;
}

export type Target = LocalTarget | AwsTarget;

export interface TargetOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** `--aws` */
  aws?: boolean;
  /** `--data-dir` */
  dataDir?: string | undefined;
}

export function wantsAws(opts: Pick<TargetOptions, 'env' | 'aws'>): boolean {
  return Boolean(opts.aws) || opts.env.BUS_BUILD_TARGET?.trim().toLowerCase() === 'aws';
}

/** The local data dir: `--data-dir`, else `DATA_DIR`, else `.data`, resolved against `cwd`. */
export function localDataDir(opts: Pick<TargetOptions, 'env' | 'cwd' | 'dataDir'>): string {
  return resolve(opts.cwd, opts.dataDir || opts.env.DATA_DIR || '.data');
}

/**
 * Where the CLI works: AWS with `--aws` or `BUS_BUILD_TARGET=aws` (ambient AWS configuration and
 * the stack's environment names), otherwise the local stack described by
 * `<data dir>/local-stack.json`. Reads only; nothing is changed until `connect`.
 */
export async function resolveTarget(opts: TargetOptions): Promise<Target> {
  if (wantsAws(opts)) {
    // Names and ARNs of `cdk deploy --outputs-file` (STACK_OUTPUTS_FILE), where not set already.
    applyStackOutputs(opts.env, opts.cwd);
    const config = loadConfig(opts.env);
    return {
      kind: 'aws',
      region: opts.env.AWS_REGION || opts.env.AWS_DEFAULT_REGION || undefined,
      tableName: config.tableName,
      stateMachineArn: config.stateMachineArn,
      buckets: {
        staging: config.stagingBucket,
        artifacts: config.artifactsBucket,
        evidence: config.evidenceBucket,
      },
      repoDir: opts.env.REPO_DIR || undefined,
      eventBusName: config.eventBusName,
    };
  }
  const dataDir = localDataDir(opts);
  const infoFile = stackInfoPath(dataDir);
  let info: LocalStackInfo | undefined;
  try {
    info = await readStackInfo(dataDir);
  } catch (err) {
    const problem = err instanceof StackInfoError ? err.message : `cannot read ${infoFile}`;
    return { kind: 'local', dataDir, infoFile, info: undefined, running: false, problem };
  }
  if (!info) return { kind: 'local', dataDir, infoFile, info, running: false, problem: `no ${infoFile}` };
  if (!isProcessAlive(info.pid))
    return {
      kind: 'local',
      dataDir,
      infoFile,
      info,
      running: false,
      problem: `process ${info.pid} has exited`,
    };
  return { kind: 'local', dataDir, infoFile, info, running: true };
}

/**
 * The SDK environment for a running local stack: emulator endpoints, the region and dummy
 * credentials (`AWS_PROFILE`/session tokens removed, so real credentials are never sent to the
 * emulators). `undefined` values are to be deleted. Empty for AWS: the ambient configuration rules.
 */
export function targetEnv(target: Target): Record<string, string | undefined> {
  if (target.kind === 'aws' || !target.info) return {};
  const info = target.info;
  return {
    AWS_ENDPOINT_URL_DYNAMODB: info.dynamoEndpoint,
    AWS_ENDPOINT_URL_S3: info.s3Endpoint,
    AWS_ENDPOINT_URL_SFN: info.sfnEndpoint,
    AWS_REGION: info.region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
  };
}

/** Applies `targetEnv` to `env` (the process environment the SDK reads) and drops cached clients. */
export function applyTargetEnv(target: Target, env: NodeJS.ProcessEnv = process.env): void {
  for (const [key, value] of Object.entries(targetEnv(target))) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  resetClients();
}

/** What the commands work with, after the target's environment is applied. */
export interface Connection {
  target: Target;
  /** Human description of where the CLI talks to. */
  where: string;
  tableName: string;
  buckets: Buckets;
  stateMachineArn: string | undefined;
  /** The template's bare repository, when reachable from this machine. */
  repoDir: string | undefined;
  store: DynamoRunStore;
  publisher: EventPublisher;
  /** The Step Functions starter; throws CliError when no state machine is configured. */
  starter(): ExecutionStarter;
}

/**
 * Connects to the target: a local target must be running (CliError with the start hint
 * otherwise). Sets the SDK environment before any client is created.
 */
export function connect(target: Target, env: NodeJS.ProcessEnv = process.env): Connection {
  if (target.kind === 'local' && (!target.running || !target.info)) throw new CliError(NOT_RUNNING_MESSAGE);
  applyTargetEnv(target, env);
  if (target.kind === 'local') {
    const info = target.info!;
    return {
      target,
      where: `local stack (${info.apiUrl})`,
      tableName: info.tableName,
      buckets: info.buckets,
      stateMachineArn: info.stateMachineArn,
      repoDir: info.repoDir,
      store: new DynamoRunStore(documentClient(), info.tableName),
      publisher: new NoopPublisher(),
      starter: () => {
        if (!info.sfnEndpoint || !info.stateMachineArn)
          throw new CliError(
            'The local stack runs without a Step Functions endpoint, so no build can be started.',
          );
        return new SfnExecutionStarter(sfnClient(), info.stateMachineArn);
      },
    };
  }
  return {
    target,
    where: `AWS (${target.region ?? 'default region'}, table ${target.tableName})`,
    tableName: target.tableName,
    buckets: target.buckets,
    stateMachineArn: target.stateMachineArn,
    repoDir: target.repoDir,
    store: new DynamoRunStore(documentClient(), target.tableName),
    publisher: target.eventBusName
      ? new EventBridgePublisher(eventBridgeClient(), target.eventBusName)
      : new NoopPublisher(),
    starter: () => {
      if (!target.stateMachineArn)
        throw new CliError('STATE_MACHINE_ARN is not set: the build state machine is unknown.');
      return new SfnExecutionStarter(sfnClient(), target.stateMachineArn);
    },
  };
}
