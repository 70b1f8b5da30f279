import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LocalStackInfo } from '../../lib/local/stack-info.ts';

/**
 * Runs one bundled Lambda handler (`index.mjs` from the cloud assembly) the way Lambda's Node
 * runtime does: a fresh `node` process (no tsx, no project node_modules above the bundle), a cold
 * import, then one call `handler(event, context)`. The outcome goes to a JSON file, not stdout
 * (the handler's structured logs go there).
 */
const PROBE = `
import { readFileSync, writeFileSync } from 'node:fs';
const [bundle, eventFile, outFile, name] = process.argv.slice(1);
const write = (o) => writeFileSync(outFile, JSON.stringify(o));
const t0 = performance.now();
let mod;
try {
  mod = await import(bundle);
} catch (e) {
  write({ initMs: performance.now() - t0, initError: { name: e?.name, message: String(e?.message) } });
  process.exit(0);
}
const initMs = performance.now() - t0;
const context = {
  awsRequestId: 'probe', functionName: name, functionVersion: '$LATEST', memoryLimitInMB: '1024',
  callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 25000,
};
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
const t1 = performance.now();
try {
  const result = await mod.handler(event, context);
  write({ initMs, callMs: performance.now() - t1, result: result === undefined ? null : result });
} catch (e) {
  write({ initMs, callMs: performance.now() - t1, error: { name: e?.name, message: String(e?.message) } });
}
process.exit(0);
`;

const IMPORT_PROBE =
  'const t0 = performance.now(); const m = await import(process.argv[1]); ' +
  "if (typeof m.handler !== 'function') throw new Error('no handler export'); " +
  'console.log(JSON.stringify({ ms: performance.now() - t0 }));';

/**
 * A cold import of a bundle in a fresh `node` (its `handler` export checked): the init time, or
 * the failure's stderr. `env` replaces the environment (Lambda's is only what the function sets).
 */
export function coldImport(
  dir: string,
  env: Record<string, string | undefined>,
): { ok: true; ms: number } | { ok: false; stderr: string } {
  const run = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', IMPORT_PROBE, pathToFileURL(path.join(dir, 'index.mjs')).href],
    { cwd: dir, encoding: 'utf8', env },
  );
  if (run.status !== 0) return { ok: false, stderr: run.stderr };
  return { ok: true, ms: (JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { ms: number }).ms };
}

export interface ProbeOutcome {
  initMs: number;
  callMs?: number;
  initError?: { name: string; message: string };
  error?: { name: string; message: string };
  result?: unknown;
}

export async function callBundle(opts: {
  /** The bundle's directory (a copy of its asset directory). */
  dir: string;
  name: string;
  event: unknown;
  env: Record<string, string>;
  scratch: string;
  timeoutMs?: number;
  /** Placed before `node` (e.g. `unshare --pid --fork --mount-proc`: the probe in its own PID namespace). */
  prefix?: readonly string[];
}): Promise<ProbeOutcome & { stderr: string }> {
  const eventFile = path.join(opts.scratch, `${opts.name}.event.json`);
  const outFile = path.join(opts.scratch, `${opts.name}.out.json`);
  writeFileSync(eventFile, JSON.stringify(opts.event));
  const bundle = pathToFileURL(path.join(opts.dir, 'index.mjs')).href;
  const stderr = await new Promise<string>((resolve, reject) => {
    const argv = [
      process.execPath,
      '--input-type=module',
      '-e',
      PROBE,
      bundle,
      eventFile,
      outFile,
      opts.name,
    ];
    const [cmd, ...args] = [...(opts.prefix ?? []), ...argv] as [string, ...string[]];
    const child = spawn(cmd, args, { cwd: opts.dir, env: opts.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(err);
    });
  });
  let outcome: ProbeOutcome;
  try {
    outcome = JSON.parse(readFileSync(outFile, 'utf8')) as ProbeOutcome;
  } catch {
    throw new Error(`${opts.name}: the probe wrote no outcome\n${stderr.slice(-3000)}`);
  }
  return { ...outcome, stderr };
}

/**
 * A function's environment as CloudFormation would set it, with every reference resolved to the
 * local stack's emulators (what `npm start` sets for the same handlers): the table and buckets,
 * the signing keys as values instead of Secrets Manager ARNs, the outbox instead of SES, no
 * EventBridge bus. A reference nobody mapped here fails the test, so a new setting is a decision.
 */
export function localLambdaEnv(opts: {
  name: string;
  variables: Record<string, unknown>;
  info: LocalStackInfo;
  secrets: { session: string; preview: string };
  outboxDir: string;
  /** The bundle's own directory (`/var/task` on Lambda). */
  taskRoot: string;
}): Record<string, string> {
  const { info } = opts;
  const byRef: Record<string, string | undefined> = {
    TABLE_NAME: info.tableName,
    STAGING_BUCKET: info.buckets.staging,
    ARTIFACTS_BUCKET: info.buckets.artifacts,
    EVIDENCE_BUCKET: info.buckets.evidence,
    STATE_MACHINE_ARN: info.stateMachineArn,
    PREVIEW_BASE_URL: info.previewUrl,
    PORTAL_URL: info.apiUrl,
    // Not configured locally: the handlers take the unconfigured path (as without the secret).
    EVENT_BUS_NAME: undefined,
    STRIPE_SECRET_KEY_ARN: undefined,
    STRIPE_WEBHOOK_SECRET_ARN: undefined,
    OPERATOR_TOPIC_ARN: undefined,
    SESSION_SECRET_ARN: undefined,
    PREVIEW_SECRET_ARN: undefined,
    // No CloudFront in front locally: without the origin-verify secret the viewer header is never
    // trusted and the per-source limits count the socket address.
    ORIGIN_VERIFY_SECRET_ARN: undefined,
    // Isolated functions VerifyArtifacts would invoke (no local Lambda endpoint).
    SMOKE_FUNCTION_NAME: 'SmokeBinary',
    WEB_CHECK_FUNCTION_NAME: 'WebChecks',
  };
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LAMBDA_TASK_ROOT: opts.taskRoot,
    AWS_REGION: info.region,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_DYNAMODB: info.dynamoEndpoint,
    AWS_ENDPOINT_URL_S3: info.s3Endpoint,
    ...(info.sfnEndpoint ? { AWS_ENDPOINT_URL_SFN: info.sfnEndpoint } : {}),
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    OUTBOX_DIR: opts.outboxDir,
    LOG_LEVEL: 'warn',
  };
  for (const [key, value] of Object.entries(opts.variables)) {
    if (typeof value === 'string') env[key] = value;
    else if (key in byRef) {
      const local = byRef[key];
      if (local !== undefined) env[key] = local;
    } else throw new Error(`${opts.name}: no local value for the referenced setting ${key}`);
  }
  if ('SESSION_SECRET_ARN' in opts.variables) env.SESSION_SECRET = opts.secrets.session;
  if ('PREVIEW_SECRET_ARN' in opts.variables) env.PREVIEW_SECRET = opts.secrets.preview;
  // Deployment paths of PrepareBranch (the EFS mount, the bundled template) → the local ones.
  if (env.REPO_DIR) env.REPO_DIR = info.repoDir;
  if (env.TEMPLATE_DIR) env.TEMPLATE_DIR = path.join(opts.taskRoot, 'template-repo');
  // The deployed intake calls Bedrock; here the offline intake answers (no model endpoint).
  if (env.INTAKE_PROVIDER) env.INTAKE_PROVIDER = 'offline';
  return env;
}

export function readSecretFile(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

/**
 * The command prefix that runs a probe as PID 1 of a new PID namespace with its own /proc (it
 * sees and can signal only its own descendants); `--kill-child`: when the probe's timeout kills
 * `unshare`, PID 1 and with it everything in the namespace dies too.
 */
export const PID_NAMESPACE_PREFIX = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'] as const;

/**
 * Why {@link PID_NAMESPACE_PREFIX} cannot be used here (not Linux, not root, no `unshare`, or the
 * kernel refuses), or undefined when it works (probed by running `true` in it).
 */
export function pidNamespaceProblem(): string | undefined {
  if (process.platform !== 'linux') return `a PID namespace needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'unshare --pid --mount-proc needs root here';
  const probe = spawnSync(PID_NAMESPACE_PREFIX[0], [...PID_NAMESPACE_PREFIX.slice(1), 'true'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (probe.error) return `unshare: ${probe.error.message}`;
  if (probe.status !== 0) return `unshare exited ${probe.status}: ${probe.stderr.trim().slice(-300)}`;
  return undefined;
}
