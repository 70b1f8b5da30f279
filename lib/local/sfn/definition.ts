import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import {
  ASL_FILE,
  ECS_SUBSTITUTIONS,
  LAMBDA_TASKS,
  type LambdaTaskDef,
} from '../../../state-machines/tasks.ts';

/**
 * The build-run state machine definition for the local stack: the same ASL file CDK deploys,
 * with its `${...}` placeholders replaced by local (dummy but well-formed) ARNs and ids, the
 * way CDK's `definitionSubstitutions` replaces them with the real ones.
 */

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_STATE_MACHINE_NAME = 'build-run';

export interface LocalAwsIds {
  region?: string;
  accountId?: string;
}

function ids(opts: LocalAwsIds = {}): { region: string; accountId: string } {
  return { region: opts.region ?? LOCAL_REGION, accountId: opts.accountId ?? LOCAL_ACCOUNT_ID };
}

/** `arn:aws:lambda:us-east-1:000000000000:function:local-PrepareBranch` */
export function localFunctionArn(state: string, opts?: LocalAwsIds): string {
  const { region, accountId } = ids(opts);
  return `arn:aws:lambda:${region}:${accountId}:function:local-${state}`;
}

export function localStateMachineArn(opts?: LocalAwsIds & { name?: string }): string {
  const { region, accountId } = ids(opts);
  return `arn:aws:states:${region}:${accountId}:stateMachine:${opts?.name ?? LOCAL_STATE_MACHINE_NAME}`;
}

/** The local values of the ECS placeholders (`ECS_SUBSTITUTIONS`). */
export function localEcsSubstitutions(opts?: LocalAwsIds): Record<string, string> {
  const { region, accountId } = ids(opts);
  return {
    ClusterArn: `arn:aws:ecs:${region}:${accountId}:cluster/local`,
    WorkerTaskDefinitionArn: `arn:aws:ecs:${region}:${accountId}:task-definition/local-worker:1`,
    WorkerSubnetIds: 'subnet-local',
    WorkerSecurityGroupId: 'sg-local',
  };
}

/** Every placeholder of the build-run ASL with its local value. */
export function localSubstitutions(
  opts?: LocalAwsIds & { tasks?: readonly LambdaTaskDef[] },
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const task of opts?.tasks ?? LAMBDA_TASKS)
    values[task.substitution] = localFunctionArn(task.state, opts);
  const ecs = localEcsSubstitutions(opts);
  for (const name of ECS_SUBSTITUTIONS) {
    const value = ecs[name];
    if (value === undefined) throw new Error(`no local value for the ECS substitution ${name}`);
    values[name] = value;
  }
  return values;
}

const PLACEHOLDER = /\$\{([A-Za-z0-9_]+)\}/g;

/**
 * Replaces `${Name}` in every string of a parsed definition (keys included). Working on parsed
 * strings (not the raw text) means a value can never break the JSON. Throws on a placeholder
 * that has no value, so a new placeholder cannot silently reach the runner.
 */
export function substitute<T>(definition: T, values: Readonly<Record<string, string>>): T {
  const missing = new Set<string>();
  const replace = (text: string): string =>
    text.replace(PLACEHOLDER, (whole, name: string) => {
      const value = values[name];
      if (value === undefined) {
        missing.add(name);
        return whole;
      }
      return value;
    });
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return replace(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [replace(k), walk(v)]));
    }
    return value;
  };
  const result = walk(definition) as T;
  if (missing.size > 0) throw new Error(`unresolved ASL placeholders: ${[...missing].sort().join(', ')}`);
  return result;
}

/** The placeholder names a definition uses. */
export function placeholders(definition: unknown): string[] {
  const found = new Set<string>();
  for (const m of JSON.stringify(definition).matchAll(PLACEHOLDER)) found.add(m[1]!);
  return [...found].sort();
}

export interface LoadDefinitionOptions extends LocalAwsIds {
  /** The ASL file, relative to `root` or absolute. Default: `state-machines/build-run.asl.json`. */
  aslFile?: string;
  /** The Lambda task mapping whose substitutions are provided. Default: `LAMBDA_TASKS`. */
  tasks?: readonly LambdaTaskDef[];
  /** Extra or replacement substitution values. */
  substitutions?: Record<string, string>;
}

/** Reads the ASL file and returns it with every placeholder replaced by its local value. */
export async function loadLocalDefinition(
  root: string,
  opts: LoadDefinitionOptions = {},
): Promise<StateMachineDefinition> {
  const file = opts.aslFile ?? ASL_FILE;
  const raw = JSON.parse(await readFile(isAbsolute(file) ? file : join(root, file), 'utf8')) as unknown;
  const values = { ...localSubstitutions(opts), ...opts.substitutions };
  return substitute(raw, values) as StateMachineDefinition;
}
