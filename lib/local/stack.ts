import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_ROUTES, LOCAL_ROUTES } from '../../functions/api/routes.ts';
import { loadConfig } from '../aws/config.ts';
import { RepoStore, templateBareDir } from '../aws/repo-store.ts';
import { log } from '../log.ts';
import { isProcessAlive } from '../process.ts';
import { bootstrapResources } from './bootstrap.ts';
import {
  bundledHandlerLoader,
  bundledModuleLoader,
  readBundledHandlers,
  stageBundledHandlers,
} from './bundles.ts';
import { type LocalDynamo, startDynamo } from './dynamo.ts';
import { createGateway, type GatewayRoute, type ModuleLoader } from './gateway.ts';
import { listen, urlFor } from './listen.ts';
import { startPreviewServer } from './preview-server.ts';
import { reconcileUnfinishedExecutions } from './reconcile.ts';
import { type LocalS3, startS3 } from './s3.ts';
import { startLocalSettleReconcile } from './settle.ts';
import { type LocalStepFunctions, startLocalStepFunctions } from './sfn/server.ts';
import { LOCAL_CREDENTIALS, removeStackInfo, writeStackInfo } from './stack-info.ts';
import { stageWorkerApp } from './worker-app.ts';
import { reapLeftoverWorkers, removeWorkerScratch } from './worker-registry.ts';

export { LOCAL_CREDENTIALS };

/** The repository root (handler entries and portal/ are resolved against it). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const DEFAULT_PORTS = { gateway: 3000, preview: 3001, dynamo: 4567, s3: 4568, sfn: 4569 } as const;
export const DEFAULT_DATA_DIR = '.data';
export const DEFAULT_REGION = 'us-east-1';

export interface LocalStackOptions {
  dataDir: string;
  /** Gateway port; 0 = any free port. */
  port: number;
  host?: string;
  /** Default 4567; 0 = any free port. */
  dynamoPort?: number;
  /** Default 4568; 0 = any free port. */
  s3Port?: number;
  /** Local Step Functions endpoint; default 4569; 0 = any free port. */
  sfnPort?: number;
  /** Preview origin; default 3001; 0 = any free port. */
  previewPort?: number;
  /** No access log and no bootstrap info lines. */
  quiet?: boolean;
  /** For tests: another route table / module loader / repository root. */
  routes?: readonly GatewayRoute[];
  loadModule?: ModuleLoader;
  root?: string;
  /**
   * What ships instead of the source (`LOCAL_BUNDLES`): a cloud assembly (`cdk synth -o <dir>`)
   * whose bundled Lambda handlers serve the API routes and the state-machine tasks (bundles.ts).
   */
  bundles?: string;
  /** `bundle` (`LOCAL_WORKER=bundle`): the worker bundled as in the image (worker-app.ts). */
  worker?: 'source' | 'bundle';
}

export interface LocalStack {
  /** Portal and API base URL, e.g. http://127.0.0.1:3000 */
  url: string;
  dynamoUrl: string;
  s3Url: string;
  sfnUrl: string;
  /** The preview origin (separate from the portal's: other host name, other port). */
  previewUrl: string;
  stateMachineArn: string;
  dataDir: string;
  tableName: string;
  buckets: { staging: string; artifacts: string; evidence: string };
  /** Stops the gateway (draining in-flight requests briefly), s3rver and dynalite; restores the env. */
  stop(): Promise<void>;
}

/**
 * Starts the whole local stack in this process: dynalite + s3rver (persisted under `dataDir`),
 * creates the table and buckets, points the AWS SDK at them through `AWS_ENDPOINT_URL_*`, and
 * serves the API routes through the local API Gateway stand-in. The handlers run in process
 * and read their configuration from `process.env`, exactly as on Lambda.
 */
export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const dataDir = resolve(opts.dataDir);
  const host = opts.host ?? '127.0.0.1';
  const root = opts.root ?? REPO_ROOT;
  mkdirSync(dataDir, { recursive: true });
  const releaseLock = lockDataDir(dataDir);

  let dynamo: LocalDynamo | undefined;
  let s3: LocalS3 | undefined;
  let sfn: LocalStepFunctions | undefined;
  let preview: Awaited<ReturnType<typeof startPreviewServer>> | undefined;
  let restoreEnv: (() => void) | undefined;
  try {
    const sessionSecret = resolveSessionSecret(dataDir);
    // A dedicated key for preview links (AWS: the preview KeyValueStore), never the session key.
    const previewSecret = resolvePreviewSecret(dataDir);
    dynamo = await startDynamo({ dataDir, port: opts.dynamoPort ?? DEFAULT_PORTS.dynamo });
    s3 = await startS3({ dataDir, port: opts.s3Port ?? DEFAULT_PORTS.s3 });

    const config = loadConfig();
    const buckets = {
      staging: config.stagingBucket,
      artifacts: config.artifactsBucket,
      evidence: config.evidenceBucket,
    };
    const region = process.env.AWS_REGION || DEFAULT_REGION;
    await bootstrapResources({
      dynamoUrl: dynamo.url,
      s3Url: s3.url,
      region,
      credentials: LOCAL_CREDENTIALS,
      tableName: config.tableName,
      buckets: [buckets.staging, buckets.artifacts, buckets.evidence],
      quiet: opts.quiet,
    });

    const ignoredEventBus = process.env.EVENT_BUS_NAME;
    restoreEnv = applyEnv({
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
      AWS_ENDPOINT_URL_S3: s3.url,
      // s3rver predates the SDK's default CRC32 trailers (aws-chunked bodies would be stored raw).
      AWS_REQUEST_CHECKSUM_CALCULATION: process.env.AWS_REQUEST_CHECKSUM_CALCULATION ?? 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: process.env.AWS_RESPONSE_CHECKSUM_VALIDATION ?? 'WHEN_REQUIRED',
      TABLE_NAME: config.tableName,
      STAGING_BUCKET: buckets.staging,
      ARTIFACTS_BUCKET: buckets.artifacts,
      EVIDENCE_BUCKET: buckets.evidence,
      COOKIE_SECURE: process.env.COOKIE_SECURE ?? 'false',
      SESSION_SECRET: sessionSecret,
      PREVIEW_SECRET: previewSecret,
      DOWNLOAD_MODE: process.env.DOWNLOAD_MODE ?? 'gateway',
      // Local stand-in for SES: one JSON file per message plus a console line (sign-in codes).
      OUTBOX_DIR: process.env.OUTBOX_DIR || join(dataDir, 'outbox'),
      // There is no local EventBridge: the DynamoDB event log is the source of truth locally.
      EVENT_BUS_NAME: undefined,
    });
    if (ignoredEventBus && !opts.quiet) log.info('EVENT_BUS_NAME is ignored locally (no local EventBridge)');

    // The template repository as a bare repository with a stable base tag (moves only on change).
    const repoDir = templateBareDir(dataDir);
    const template = await new RepoStore({ bareDir: repoDir }).initTemplate({
      templateDir: join(root, 'template-repo'),
    });
    if (!opts.quiet && template.changed)
      log.info('template repository updated', { baseCommit: template.baseCommit });
    const workDir = join(dataDir, 'work');
    mkdirSync(workDir, { recursive: true });
    // A previous stack that died without its exit hook (SIGKILL, crash) may have left workers
    // running and scratch behind: with the data dir locked, none of them can be ours. Reap them
    // before any execution starts, so a run never has two workers (worker-registry.ts).
    const reaped = reapLeftoverWorkers(dataDir);
    const swept = removeWorkerScratch(workDir);
    if (reaped > 0 || swept > 0)
      log.info('local stack: cleaned up after a previous stack', { reaped, swept });
    process.env.REPO_DIR = repoDir;
    process.env.WORK_DIR = workDir;

    // Previews: a second origin (another port, and `localhost` rather than 127.0.0.1, so the
    // portal's cookies are never sent to it).
    const frameAncestors: string[] = [];
    preview = await startPreviewServer({
      host,
      port: opts.previewPort ?? DEFAULT_PORTS.preview,
      bucket: buckets.artifacts,
      secret: async () => previewSecret,
      // The portal's origin; filled in once the gateway listens (its port may be ephemeral).
      frameAncestors,
    });
    process.env.PREVIEW_BASE_URL = preview.url;

    const bundles =
      opts.bundles === undefined
        ? undefined
        : stageBundledHandlers(readBundledHandlers(opts.bundles), join(dataDir, 'bundles'), root);
    const workerApp =
      opts.worker === 'bundle' ? stageWorkerApp(root, join(dataDir, 'worker-app')) : undefined;
    if (!opts.quiet && (bundles || workerApp))
      log.info('local stack: running what ships', {
        ...(opts.bundles === undefined ? {} : { bundles: resolve(opts.bundles), handlers: bundles?.size }),
        ...(workerApp ? { worker: workerApp.command.at(-1) } : {}),
      });

    // Step Functions: the same ASL, Task states mapped to the same handler modules, RunWorker as a
    // child process with the container's environment contract (an allow-list, not our env).
    sfn = await startLocalStepFunctions({
      root,
      dataDir,
      host,
      port: opts.sfnPort ?? DEFAULT_PORTS.sfn,
      worker: {
        env: { ...workerEnvironment(), ...workerApp?.env },
        ...(workerApp ? { command: workerApp.command } : {}),
      },
      ...(bundles ? { loadHandler: bundledHandlerLoader(bundles) } : {}),
    });
    process.env.AWS_ENDPOINT_URL_SFN = sfn.url;
    process.env.STATE_MACHINE_ARN = sfn.stateMachineArn;
    // Executions cut off by a previous stop never ran FailRun: fail their runs (as the AWS rule does).
    await reconcileUnfinishedExecutions(sfn.url, sfn.stateMachineArn).catch((err: unknown) =>
      log.warn('could not reconcile aborted executions', { error: err }),
    );

    // Card payments left open (a Stripe outage at capture time) are settled on a timer, as the
    // AWS SettleRule schedule does.
    const settle = startLocalSettleReconcile();

    const gateway = createGateway({
      routes: opts.routes ?? [...API_ROUTES, ...LOCAL_ROUTES],
      root,
      loadModule: opts.loadModule ?? (bundles ? bundledModuleLoader(root, bundles) : undefined),
      accessLog: !opts.quiet,
      region,
    });
    const address = await listen(gateway.server, opts.port, host, {
      service: 'portal/API gateway',
      envVar: 'PORT',
    });
    const displayHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    const url = urlFor(displayHost, address.port);
    frameAncestors.push(url);
    // For `bus-build status`: addresses and names only, never secrets.
    await writeStackInfo(dataDir, {
      apiUrl: url,
      previewUrl: preview.url,
      dynamoEndpoint: dynamo.url,
      s3Endpoint: s3.url,
      sfnEndpoint: sfn.url,
      stateMachineArn: sfn.stateMachineArn,
      region,
      tableName: config.tableName,
      buckets,
      repoDir,
      dataDir,
      pid: process.pid,
      startedAt: new Date().toISOString(),
    }).catch((err: unknown) => log.warn('could not write the local stack info file', { error: err }));

    const started = { dynamo, s3, sfn, preview, restoreEnv, settle };
    let stopping: Promise<void> | undefined;
    return {
      url,
      dynamoUrl: dynamo.url,
      s3Url: s3.url,
      sfnUrl: sfn.url,
      previewUrl: preview.url,
      stateMachineArn: sfn.stateMachineArn,
      dataDir,
      tableName: config.tableName,
      buckets,
      stop() {
        stopping ??= (async () => {
          const closed = new Promise<void>((done) => gateway.server.close(() => done()));
          gateway.server.closeIdleConnections();
          await gateway.drain(3000);
          gateway.server.closeAllConnections();
          await closed;
          started.settle.stop();
          await started.sfn
            .stop()
            .catch((err) => log.warn('local Step Functions did not stop cleanly', { error: err }));
          await new Promise<void>((done) => started.preview.server.close(() => done()));
          await started.s3.stop().catch((err) => log.warn('s3rver did not stop cleanly', { error: err }));
          await started.dynamo.stop();
          await removeStackInfo(dataDir, process.pid).catch(() => undefined);
          started.restoreEnv();
          releaseLock();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await sfn?.stop().catch(() => undefined);
    preview?.server.close();
    await s3?.stop().catch(() => undefined);
    await dynamo?.stop().catch(() => undefined);
    restoreEnv?.();
    releaseLock();
    throw err;
  }
}

/** Variables a worker may see: the container's contract (see worker-image/README.md), no secrets. */
const WORKER_ENV_KEYS = [
  'PATH',
  'HOME',
  'LANG',
  'TMPDIR',
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_ENDPOINT_URL_S3',
  'AWS_REQUEST_CHECKSUM_CALCULATION',
  'AWS_RESPONSE_CHECKSUM_VALIDATION',
  'TABLE_NAME',
  'STAGING_BUCKET',
  'EVIDENCE_BUCKET',
  'REPO_DIR',
  'WORK_DIR',
  'CODER',
  // Model-driven / external coders (worker-image/README.md "Coders").
  'BEDROCK_MODEL_ID',
  'BEDROCK_REGION',
  'AWS_ENDPOINT_URL_BEDROCK_RUNTIME',
  'OPENAI_BASE_URL',
  'OPENAI_MODEL',
  'OPENAI_API_KEY',
  'MODEL_TIMEOUT_MS',
  'CODER_COMMAND',
  'CODER_COMMAND_ENV',
  'CODER_MAX_STEPS',
  'CODER_MAX_TOKENS',
  'CODER_MAX_SECONDS',
  'GOCACHE',
  'GOMODCACHE',
  'GOPATH',
  'WORKER_TIMEOUT_SECONDS',
  'LOG_LEVEL',
  // Untrusted commands as another user (needs `npm start` as root; worker-image/README.md).
  'COMMAND_USER',
  'RENDER_CHECK',
];

function workerEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  // Plus the variables CODER_COMMAND_ENV names for an external agent (e.g. its API key).
  const agentKeys = (process.env.CODER_COMMAND_ENV ?? '')
    .split(/[\s,]+/)
    .filter((k) => /^[A-Za-z_]\w*$/.test(k));
  for (const key of [...WORKER_ENV_KEYS, ...agentKeys]) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** Sets (or deletes, for `undefined`) env vars; returns a function restoring the previous values. */
function applyEnv(vars: Record<string, string | undefined>): () => void {
  const previous = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(vars)) {
    previous.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of previous) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/**
 * The session signing secret: `SESSION_SECRET` from the environment when set, otherwise one
 * generated once and kept in `<dataDir>/session-secret` (mode 0600), so sessions survive restarts.
 */
export function resolveSessionSecret(dataDir: string): string {
  return resolvePersistedSecret(dataDir, 'SESSION_SECRET', 'session-secret');
}

/**
 * The preview link signing key: `PREVIEW_SECRET` from the environment when set, otherwise one
 * generated once and kept in `<dataDir>/preview-secret` (mode 0600). Separate from the session
 * key, as on AWS (where it lives in the preview distribution's KeyValueStore).
 */
export function resolvePreviewSecret(dataDir: string): string {
  return resolvePersistedSecret(dataDir, 'PREVIEW_SECRET', 'preview-secret');
}

function resolvePersistedSecret(dataDir: string, envName: string, fileName: string): string {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  const file = resolve(dataDir, fileName);
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) {
      chmodSync(file, 0o600);
      return existing;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

/**
 * One stack per data dir: dynalite's LevelDB store cannot be opened twice, and a second opener
 * would hang on its first request. A pid file makes that a clear error instead.
 */
function lockDataDir(dataDir: string): () => void {
  const file = resolve(dataDir, 'local-stack.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid))
        throw new DataDirInUseError(dataDir, pid === process.pid ? 'this process' : `pid ${pid}`);
      rmSync(file, { force: true }); // stale lock from a crashed run
    }
  }
  throw new DataDirInUseError(dataDir, 'another process');
}

export class DataDirInUseError extends Error {
  constructor(dataDir: string, holder: string) {
    super(
      `The data dir ${dataDir} is in use by another local stack (${holder}). ` +
        'Stop it first, or use another data dir with DATA_DIR=<dir>.',
    );
    this.name = 'DataDirInUseError';
  }
}

/** Reads PORT, HOST, DYNAMO_PORT, S3_PORT and DATA_DIR (see .env.example). */
export function stackOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): LocalStackOptions {
  return {
    port: portFromEnv(env, 'PORT', DEFAULT_PORTS.gateway),
    host: env.HOST || '127.0.0.1',
    dynamoPort: portFromEnv(env, 'DYNAMO_PORT', DEFAULT_PORTS.dynamo),
    s3Port: portFromEnv(env, 'S3_PORT', DEFAULT_PORTS.s3),
    sfnPort: portFromEnv(env, 'SFN_PORT', DEFAULT_PORTS.sfn),
    previewPort: portFromEnv(env, 'PREVIEW_PORT', DEFAULT_PORTS.preview),
    dataDir: resolve(env.DATA_DIR || DEFAULT_DATA_DIR),
    ...(env.LOCAL_BUNDLES ? { bundles: resolve(env.LOCAL_BUNDLES) } : {}),
    ...(env.LOCAL_WORKER ? { worker: localWorkerFromEnv(env.LOCAL_WORKER) } : {}),
  };
}

function localWorkerFromEnv(raw: string): 'source' | 'bundle' {
  if (raw === 'source' || raw === 'bundle') return raw;
  throw new Error(`LOCAL_WORKER=${raw} is not valid (use source or bundle).`);
}

function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`${name}=${raw} is not a valid port (use 0–65535; 0 picks a free port).`);
  return port;
}
