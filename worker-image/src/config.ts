import { tmpdir } from 'node:os';
import path from 'node:path';
import { RUN_ID_PATTERN } from '../../lib/domain/ids.ts';
import { type CoderSettings, loadCoderSettings } from './coder/settings.ts';
import { type CommandUser, parseCommandUser } from './command-user.ts';

/**
 * The worker's environment contract, identical for the ECS container and the local child process
 * (see worker-image/README.md). Read once at start; nothing else in the worker reads `process.env`
 * except the AWS SDK (standard `AWS_*` variables) and the git module (HTTPS credentials helpers).
 */
export interface WorkerConfig {
  runId: string;
  attempt: number;
  tableName: string;
  stagingBucket: string;
  evidenceBucket: string;
  /** A git URL or the path of the bare repository (REPO_URL wins over REPO_DIR). */
  repoUrl: string;
  workDir: string;
  coder: CoderName;
  /** Overlay catalog of the offline coder; default: the one next to the worker sources. */
  recipesDir: string | undefined;
  /** Budgets, model and external command of the model/command coders (coder/settings.ts). */
  coderSettings: CoderSettings;
  goCache: string | undefined;
  timeoutSeconds: number;
  /** `LEASE_CHECK_SECONDS` (1–3600, default 30): how often the attempt's lease is re-checked. */
  leaseCheckSeconds: number;
  /**
   * `RENDER_CHECK`: `auto` (default) renders web apps when a browser is found and logs a skip
   * otherwise; `required` fails the attempt (internal, not repairable) when it cannot render.
   * The CDK worker container sets `required`: the image carries Chromium, and on AWS the worker's
   * render is the only one (the gate checks its evidence).
   */
  renderCheck: RenderCheckMode;
  /**
   * `COMMAND_USER` (`uid:gid`, unset by default): the unprivileged user the test/build commands
   * and the external agent run as (command-user.ts). Requires the worker to run as root; the
   * worker image sets it (the builder user), a local child process usually does not.
   */
  commandUser: CommandUser | undefined;
}

export const RENDER_CHECK_MODES = ['auto', 'required'] as const;
export type RenderCheckMode = (typeof RENDER_CHECK_MODES)[number];

export const CODER_NAMES = ['offline', 'bedrock', 'openai', 'command'] as const;
export type CoderName = (typeof CODER_NAMES)[number];
export const DEFAULT_TIMEOUT_SECONDS = 1500;
const MAX_TIMEOUT_SECONDS = 6 * 60 * 60;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const TABLE = /^[A-Za-z0-9_.-]{3,255}$/;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is required`);
  return value;
}

function optionalPath(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  if (!path.isAbsolute(value)) throw new ConfigError(`${name} must be an absolute path`);
  return value;
}

/** The part of the configuration needed to report a result: valid even when the rest is not. */
export interface ReportTarget {
  runId: string;
  attempt: number;
  evidenceBucket: string;
}

export function loadReportTarget(env: NodeJS.ProcessEnv = process.env): ReportTarget | undefined {
  try {
    return { runId: runIdOf(env), attempt: attemptOf(env), evidenceBucket: bucketOf(env, 'EVIDENCE_BUCKET') };
  } catch {
    return undefined;
  }
}

function runIdOf(env: NodeJS.ProcessEnv): string {
  const runId = required(env, 'RUN_ID');
  if (!RUN_ID_PATTERN.test(runId)) throw new ConfigError('RUN_ID is not a build run id');
  return runId;
}

function attemptOf(env: NodeJS.ProcessEnv): number {
  const raw = required(env, 'ATTEMPT');
  const attempt = Number(raw);
  if (!/^\d{1,2}$/.test(raw) || !Number.isInteger(attempt) || attempt < 1 || attempt > 99) {
    throw new ConfigError('ATTEMPT must be an integer from 1 to 99');
  }
  return attempt;
}

function bucketOf(env: NodeJS.ProcessEnv, name: string): string {
  const bucket = required(env, name);
  if (!BUCKET.test(bucket)) throw new ConfigError(`${name} is not a bucket name`);
  return bucket;
}

function repoUrlOf(env: NodeJS.ProcessEnv): string {
  const url = env.REPO_URL?.trim();
  if (url) {
    // Local paths, file://, https:// and ssh remotes; never an option-looking value.
    if (url.startsWith('-') || /[\0\n\r]/.test(url)) throw new ConfigError('REPO_URL is not a git URL');
    if (!/^(https?|ssh|file):\/\//.test(url) && !path.isAbsolute(url) && !/^[\w.-]+@[\w.-]+:/.test(url)) {
      throw new ConfigError('REPO_URL is not a git URL');
    }
    return url;
  }
  const dir = optionalPath(env, 'REPO_DIR');
  if (!dir) throw new ConfigError('REPO_URL or REPO_DIR is required');
  return dir;
}

function timeoutOf(env: NodeJS.ProcessEnv): number {
  const raw = env.WORKER_TIMEOUT_SECONDS?.trim();
  if (!raw) return DEFAULT_TIMEOUT_SECONDS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > MAX_TIMEOUT_SECONDS) {
    throw new ConfigError(`WORKER_TIMEOUT_SECONDS must be an integer from 1 to ${MAX_TIMEOUT_SECONDS}`);
  }
  return value;
}

function leaseCheckOf(env: NodeJS.ProcessEnv): number {
  const raw = env.LEASE_CHECK_SECONDS?.trim();
  if (!raw) return 30;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 3600) {
    throw new ConfigError('LEASE_CHECK_SECONDS must be an integer from 1 to 3600');
  }
  return value;
}

function renderCheckOf(env: NodeJS.ProcessEnv): RenderCheckMode {
  const value = env.RENDER_CHECK?.trim() || 'auto';
  if (!(RENDER_CHECK_MODES as readonly string[]).includes(value)) {
    throw new ConfigError(`RENDER_CHECK must be one of ${RENDER_CHECK_MODES.join(', ')}`);
  }
  return value as RenderCheckMode;
}

function coderOf(env: NodeJS.ProcessEnv): CoderName {
  const value = env.CODER?.trim() || 'offline';
  if (!(CODER_NAMES as readonly string[]).includes(value)) {
    throw new ConfigError(`CODER must be one of ${CODER_NAMES.join(', ')}`);
  }
  return value as CoderName;
}

function coderSettingsOf(env: NodeJS.ProcessEnv): CoderSettings {
  try {
    return loadCoderSettings(env, coderOf(env));
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : 'coder configuration error');
  }
}

function commandUserOf(env: NodeJS.ProcessEnv, getuid: (() => number) | undefined): CommandUser | undefined {
  let user: CommandUser | undefined;
  try {
    user = parseCommandUser(env.COMMAND_USER);
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : 'COMMAND_USER is invalid');
  }
  // A misconfigured image must not silently run the commands as the worker's own user.
  if (user && getuid?.() !== 0) {
    throw new ConfigError(
      'COMMAND_USER is set but the worker is not running as root, so it cannot switch to it',
    );
  }
  return user;
}

export function loadWorkerConfig(
  env: NodeJS.ProcessEnv = process.env,
  /** The worker's uid (tests inject one); `process.getuid` where the platform has it. */
  getuid: (() => number) | undefined = process.getuid?.bind(process),
): WorkerConfig {
  const table = required(env, 'TABLE_NAME');
  if (!TABLE.test(table)) throw new ConfigError('TABLE_NAME is not a table name');
  return {
    runId: runIdOf(env),
    attempt: attemptOf(env),
    tableName: table,
    stagingBucket: bucketOf(env, 'STAGING_BUCKET'),
    evidenceBucket: bucketOf(env, 'EVIDENCE_BUCKET'),
    repoUrl: repoUrlOf(env),
    workDir: optionalPath(env, 'WORK_DIR') ?? tmpdir(),
    coder: coderOf(env),
    coderSettings: coderSettingsOf(env),
    recipesDir: optionalPath(env, 'RECIPES_DIR'),
    goCache: optionalPath(env, 'GOCACHE'),
    timeoutSeconds: timeoutOf(env),
    leaseCheckSeconds: leaseCheckOf(env),
    renderCheck: renderCheckOf(env),
    commandUser: commandUserOf(env, getuid),
  };
}
