import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { loadCoderSettings } from '../../../worker-image/src/coder/settings.ts';
import { CODER_NAMES } from '../../../worker-image/src/config.ts';
import { describeModelConfig } from '../../ai/config.ts';
import { RepoNotInitializedError, RepoStore, templateBareDir } from '../../aws/repo-store.ts';
import { probeError } from '../errors.ts';
import type { CommandResult } from '../output.ts';
import { renderTable } from '../table.ts';
import { applyTargetEnv, type Buckets, NOT_RUNNING_MESSAGE, type Target } from '../target.ts';
import {
  checkEmailSender,
  checkEventBus,
  checkModels,
  checkStripeSecrets,
  checkWorkerCluster,
} from './status-aws.ts';

export type ItemState = 'ok' | 'warn' | 'missing';

/** One readiness item. `missing` means required and not there: `status` then exits 1. */
export interface StatusItem {
  name: string;
  state: ItemState;
  detail: string;
  hint?: string;
}

const MIN_NODE_MAJOR = 22;
const MIN_GO: readonly [number, number] = [1, 19];
const PROBE_TIMEOUT_MS = 3000;
const SDK_OPTIONS = {
  maxAttempts: 1,
  requestHandler: { connectionTimeout: PROBE_TIMEOUT_MS, requestTimeout: PROBE_TIMEOUT_MS },
} as const;

const ok = (name: string, detail: string): StatusItem => ({ name, state: 'ok', detail });
const warn = (name: string, detail: string, hint?: string): StatusItem => ({
  name,
  state: 'warn',
  detail,
  ...(hint ? { hint } : {}),
});
const missing = (name: string, detail: string, hint?: string): StatusItem => ({
  name,
  state: 'missing',
  detail,
  ...(hint ? { hint } : {}),
});

/** The version of a `go version` line, e.g. `go version go1.22.2 linux/amd64` → 1, 22, `go1.22.2`. */
export function parseGoVersion(output: string): { major: number; minor: number; text: string } | undefined {
  const m = /\bgo(\d+)\.(\d+)(\.\d+)?/.exec(output);
  return m ? { major: Number(m[1]), minor: Number(m[2]), text: m[0] } : undefined;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(String(stdout))));
  });
}

export function checkNode(version = process.versions.node): StatusItem {
  const major = Number(version.split('.')[0]);
  return major >= MIN_NODE_MAJOR
    ? ok('node', `v${version}`)
    : missing(
        'node',
        `v${version} (need ≥ ${MIN_NODE_MAJOR})`,
        'Run through npm/npx: the project pins Node 22 as a devDependency (npm ci).',
      );
}

async function checkGo(required: boolean): Promise<StatusItem> {
  const fail = required ? missing : warn;
  const hint =
    'Install Go ≥ 1.19 (e.g. apt-get install -y golang-go); the build worker compiles the template.';
  try {
    const out = (await run('go', ['version'])).trim();
    const v = parseGoVersion(out);
    if (!v) return fail('go', 'unrecognised version output', hint);
    const good = v.major > MIN_GO[0] || (v.major === MIN_GO[0] && v.minor >= MIN_GO[1]);
    return good ? ok('go', v.text) : fail('go', `${v.text} (need ≥ go1.19)`, hint);
  } catch {
    return fail('go', 'not found on PATH', hint);
  }
}

async function checkGit(required: boolean): Promise<StatusItem> {
  const fail = required ? missing : warn;
  try {
    const out = (await run('git', ['--version'])).trim();
    return ok('git', out.replace(/^git version\s*/, ''));
  } catch {
    return fail('git', 'not found on PATH', 'Install git (e.g. apt-get install -y git).');
  }
}

async function checkDataDir(dataDir: string): Promise<StatusItem> {
  try {
    const info = await stat(dataDir);
    if (!info.isDirectory())
      return missing('data dir', `${dataDir} is not a directory`, 'Set DATA_DIR to a directory.');
    await access(dataDir, constants.W_OK);
    return ok('data dir', `${dataDir} (writable)`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      return missing('data dir', `${dataDir} is not writable`, 'Fix its permissions or set DATA_DIR.');
  }
  // Not there yet: the stack creates it when the nearest existing parent is writable.
  let parent = dirname(dataDir);
  for (;;) {
    try {
      await access(parent, constants.W_OK);
      return ok('data dir', `${dataDir} (created on first start)`);
    } catch (err) {
      const next = dirname(parent);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || next === parent)
        return missing('data dir', `${dataDir} cannot be created`, 'Set DATA_DIR to a writable place.');
      parent = next;
    }
  }
}

async function checkHttp(name: string, url: string, expectOk: boolean): Promise<StatusItem> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), redirect: 'manual' });
    await res.body?.cancel();
    if (expectOk && res.status !== 200) return missing(name, `${url} answered ${res.status}`);
    return ok(name, `${url} (HTTP ${res.status})`);
  } catch (err) {
    return missing(name, `${url}: ${probeError(err)}`);
  }
}

async function checkTable(endpoint: string, tableName: string): Promise<StatusItem> {
  const client = new DynamoDBClient(SDK_OPTIONS);
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return ok(
      'dynamodb',
      `${endpoint}: table ${tableName} ${out.Table?.TableStatus?.toLowerCase() ?? ''}`.trim(),
    );
  } catch (err) {
    if ((err as { name?: string }).name === 'ResourceNotFoundException')
      return missing('dynamodb', `${endpoint}: table ${tableName} does not exist`);
    return missing('dynamodb', `${endpoint}: ${probeError(err)}`);
  } finally {
    client.destroy();
  }
}

async function checkBuckets(endpoint: string, buckets: Buckets): Promise<StatusItem> {
  const client = new S3Client({ ...SDK_OPTIONS, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3) });
  try {
    const names = [buckets.staging, buckets.artifacts, buckets.evidence];
    const results = await Promise.all(
      names.map((Bucket) =>
        client.send(new HeadBucketCommand({ Bucket })).then(
          () => undefined,
          (err) =>
            `${Bucket}: ${(err as { name?: string }).name === 'NotFound' ? 'does not exist' : probeError(err)}`,
        ),
      ),
    );
    const failed = results.filter((r): r is string => r !== undefined);
    return failed.length === 0
      ? ok('s3', `${endpoint}: ${names.length} buckets`)
      : missing('s3', `${endpoint}: ${failed.join('; ')}`);
  } finally {
    client.destroy();
  }
}

async function checkStateMachine(endpoint: string, stateMachineArn: string): Promise<StatusItem> {
  const client = new SFNClient(SDK_OPTIONS);
  try {
    await client.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1 }));
    return ok('step functions', `${endpoint}: ${stateMachineArn}`);
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'StateMachineDoesNotExist')
      return missing('step functions', `${stateMachineArn} does not exist`);
    const reached = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (reached)
      return warn('step functions', `${endpoint} reachable; ListExecutions answered ${name ?? reached}`);
    return missing('step functions', `${endpoint}: ${probeError(err)}`);
  } finally {
    client.destroy();
  }
}

async function checkTemplateRepo(bareDir: string): Promise<StatusItem> {
  try {
    const commit = await new RepoStore({ bareDir }).baseCommit();
    return ok('template repo', `${bareDir} (base ${commit.slice(0, 12)})`);
  } catch (err) {
    const detail =
      err instanceof RepoNotInitializedError || (err as { code?: string }).code === 'NotFoundError'
        ? `${bareDir} is not initialised`
        : `${bareDir}: ${probeError(err)}`;
    return missing('template repo', detail, 'npm start creates it from template-repo/.');
  }
}

export function checkCoder(env: NodeJS.ProcessEnv): StatusItem {
  const value = env.CODER?.trim() || 'offline';
  if (!(CODER_NAMES as readonly string[]).includes(value))
    return missing('coder', `CODER=${value} is not supported`, `Use one of: ${CODER_NAMES.join(', ')}.`);
  if (value === 'offline') return ok('coder', 'offline recipe coder');
  // Model and command coders: provider, model, budgets; never a key or the command's arguments.
  try {
    const settings = loadCoderSettings(env, value);
    const b = settings.budget;
    const budget = `budget ${b.maxSteps} steps / ${b.maxTokens} tokens / ${b.maxSeconds} s per attempt`;
    if (settings.command) {
      const program = settings.command.argv[0]?.split('/').pop() ?? '?';
      const passed = settings.command.passEnv.length;
      return ok('coder', `external command ${program} (${passed} extra variable(s) passed); ${budget}`);
    }
    return ok('coder', `model coder: ${describeModelConfig(settings.model)}; ${budget}`);
  } catch (err) {
    return missing(
      'coder',
      `CODER=${value}: ${err instanceof Error ? err.message : 'invalid configuration'}`,
      'See worker-image/README.md (CODER, CODER_COMMAND, BEDROCK_MODEL_ID, OPENAI_BASE_URL, OPENAI_MODEL, CODER_MAX_*).',
    );
  }
}

/** Model configuration; key values are never shown, only whether they are set. */
export function checkModel(env: NodeJS.ProcessEnv): StatusItem {
  const bedrock = Boolean(env.BEDROCK_MODEL_ID?.trim());
  const baseUrl = Boolean(env.OPENAI_BASE_URL?.trim());
  const apiKey = Boolean(env.OPENAI_API_KEY?.trim());
  if (baseUrl !== apiKey) {
    return warn(
      'model',
      `OpenAI-compatible: OPENAI_BASE_URL ${baseUrl ? 'set' : 'not set'}, OPENAI_API_KEY ${apiKey ? 'set' : 'not set'}`,
      'Set both OPENAI_BASE_URL and OPENAI_API_KEY, or neither.',
    );
  }
  const providers = [
    ...(bedrock ? ['Bedrock (BEDROCK_MODEL_ID set)'] : []),
    ...(baseUrl && apiKey ? ['OpenAI-compatible (OPENAI_BASE_URL set, OPENAI_API_KEY set)'] : []),
  ];
  return providers.length
    ? ok('model', `configured: ${providers.join('; ')}`)
    : ok('model', 'not configured (offline intake/coder in use)');
}

/** Stripe configuration: "set" / "not set" only. */
export function checkStripe(env: NodeJS.ProcessEnv): StatusItem {
  const key = Boolean(env.STRIPE_SECRET_KEY?.trim());
  const webhook = Boolean(env.STRIPE_WEBHOOK_SECRET?.trim());
  const detail = `STRIPE_SECRET_KEY ${key ? 'set' : 'not set'}, STRIPE_WEBHOOK_SECRET ${webhook ? 'set' : 'not set'}`;
  if (key && webhook) return ok('stripe', `${detail}: checkout enabled`);
  if (!key && !webhook) return ok('stripe', `${detail}: manual approval only`);
  return warn('stripe', detail, 'Set both STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, or neither.');
}

async function checkSessionSecret(env: NodeJS.ProcessEnv, dataDir: string): Promise<StatusItem> {
  if (env.SESSION_SECRET) return ok('session secret', 'set (SESSION_SECRET)');
  const file = join(dataDir, 'session-secret');
  const exists = await stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
  return ok('session secret', exists ? `set (${file})` : 'generated into the data dir on first start');
}

/** All readiness items for the target. Network probes run in parallel; nothing here throws. */
export async function collectStatus(target: Target, env: NodeJS.ProcessEnv): Promise<StatusItem[]> {
  // Go and git are needed where the worker runs: on this machine for the local stack.
  const local = target.kind === 'local';
  const probes: (StatusItem | Promise<StatusItem>)[] = [checkNode(), checkGo(local), checkGit(local)];
  if (target.kind === 'local') {
    probes.push(checkDataDir(target.dataDir));
    if (!target.running || !target.info) {
      probes.push(missing('local stack', target.problem ?? 'not running', NOT_RUNNING_MESSAGE));
    } else {
      const info = target.info;
      applyTargetEnv(target, env);
      probes.push(
        ok('local stack', `pid ${info.pid}, started ${info.startedAt}`),
        checkHttp('api', `${info.apiUrl.replace(/\/$/, '')}/api/v1/openapi.json`, true),
        ...(info.previewUrl ? [checkHttp('preview', info.previewUrl, false)] : []),
        checkTable(info.dynamoEndpoint, info.tableName),
        checkBuckets(info.s3Endpoint, info.buckets),
        info.sfnEndpoint && info.stateMachineArn
          ? checkStateMachine(info.sfnEndpoint, info.stateMachineArn)
          : warn('step functions', 'no local endpoint', 'approve and retry cannot start builds without it.'),
      );
    }
    probes.push(checkTemplateRepo(target.info?.repoDir ?? templateBareDir(target.dataDir)));
    probes.push(checkSessionSecret(env, target.dataDir));
  } else {
    const where = target.region ?? 'default region';
    probes.push(
      checkTable(where, target.tableName),
      checkBuckets(where, target.buckets),
      target.stateMachineArn
        ? checkStateMachine(where, target.stateMachineArn)
        : missing('step functions', 'STATE_MACHINE_ARN not set', 'Set it from the stack outputs.'),
      target.repoDir
        ? checkTemplateRepo(target.repoDir)
        : warn('template repo', 'on EFS, not mounted here', 'Set REPO_DIR where the EFS volume is mounted.'),
      checkEventBus(target.eventBusName),
      checkWorkerCluster(env.WORKER_CLUSTER_ARN?.trim() || undefined),
      env.API_URL
        ? checkHttp('api', `${env.API_URL.replace(/\/$/, '')}/api/v1/openapi.json`, true)
        : warn('api', 'API_URL not set', 'Set it from the stack outputs.'),
      env.PORTAL_URL
        ? checkHttp('portal', env.PORTAL_URL, true)
        : warn('portal', 'PORTAL_URL not set', 'Set it from the stack outputs.'),
      checkStripeSecrets(env),
    );
    const more = await Promise.all([checkEmailSender(env.EMAIL_FROM?.trim() || undefined), checkModels(env)]);
    probes.push(...more.flat());
  }
  // The local stack's settings are this environment's; on AWS they are the stack's (above).
  if (local) probes.push(checkCoder(env), checkModel(env), checkStripe(env));
  const endpointHint = local
    ? 'The stack process is alive but this part does not answer; restart it (npm start).'
    : 'Check the AWS credentials and region, and TABLE_NAME / bucket names from the stack outputs.';
  return (await Promise.all(probes)).map((item) =>
    item.state === 'missing' && !item.hint ? { ...item, hint: endpointHint } : item,
  );
}

export function renderStatus(items: readonly StatusItem[], target: Target): string {
  const missingCount = items.filter((i) => i.state === 'missing').length;
  const warnCount = items.filter((i) => i.state === 'warn').length;
  const where =
    target.kind === 'local'
      ? `local stack, data dir ${target.dataDir}`
      : `AWS (${target.region ?? 'default region'})`;
  const table = renderTable(items, [
    { header: 'ITEM', value: (i) => i.name },
    { header: 'STATE', value: (i) => i.state },
    { header: 'DETAIL', value: (i) => i.detail },
  ]);
  const hints = items.filter((i) => i.hint && i.state !== 'ok').map((i) => `  ${i.name}: ${i.hint}`);
  const summary =
    missingCount === 0
      ? `Ready${warnCount ? ` (${warnCount} warning${warnCount === 1 ? '' : 's'})` : ''}.`
      : `Not ready: ${missingCount} item${missingCount === 1 ? '' : 's'} missing.`;
  return [`Target: ${where}`, '', table, ...(hints.length ? ['', 'Hints:', ...hints] : []), '', summary].join(
    '\n',
  );
}

/** `status`: readiness of the stack and prerequisites. Exit 1 when a required item is missing. */
export async function statusCommand(target: Target, env: NodeJS.ProcessEnv): Promise<CommandResult> {
  const items = await collectStatus(target, env);
  const ready = items.every((i) => i.state !== 'missing');
  return {
    data: { ready, target: target.kind, items },
    text: renderStatus(items, target),
    exitCode: ready ? 0 : 1,
  };
}
