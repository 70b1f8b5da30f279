import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import {
  loadLocalDefinition,
  localEcsSubstitutions,
  localFunctionArn,
  localStateMachineArn,
  localSubstitutions,
  placeholders,
  substitute,
} from '../../lib/local/sfn/definition.ts';
import { ASL_FILE, ECS_SUBSTITUTIONS, LAMBDA_TASKS, WORKER_STATE } from '../../state-machines/tasks.ts';

const root = process.cwd();

/** `${Name}`, an ASL placeholder. */
const ph = (name: string) => `\${${name}}`;

type States = Record<string, { Parameters?: Record<string, unknown> } & Record<string, unknown>>;

describe('local build-run definition', () => {
  it('gives every placeholder of the real ASL a local value and leaves none behind', async () => {
    const raw = JSON.parse(await readFile(join(root, ASL_FILE), 'utf8'));
    const used = placeholders(raw);
    expect(used.length).toBeGreaterThan(0);
    expect(Object.keys(localSubstitutions()).sort()).toEqual(used);

    const def = await loadLocalDefinition(root);
    expect(placeholders(def)).toEqual([]);
    const states = def.States as unknown as States;
    for (const task of LAMBDA_TASKS) {
      expect(states[task.state]?.Parameters?.FunctionName).toBe(
        `arn:aws:lambda:us-east-1:000000000000:function:local-${task.state}`,
      );
    }
    const worker = states[WORKER_STATE]!.Parameters!;
    expect(worker.Cluster).toBe('arn:aws:ecs:us-east-1:000000000000:cluster/local');
    expect(worker.TaskDefinition).toBe('arn:aws:ecs:us-east-1:000000000000:task-definition/local-worker:1');
    expect(JSON.stringify(worker)).toContain("States.StringSplit('subnet-local', ',')");
    expect(JSON.stringify(worker)).toContain("States.Array('sg-local')");
    // The ASL stays valid for the runner (ARNs and JSONPaths checked).
    expect(
      () => new StateMachine(def, { validationOptions: { checkArn: true, checkPaths: true } }),
    ).not.toThrow();
  });

  it('builds well-formed local ARNs for another region/account', () => {
    expect(localFunctionArn('Publish', { region: 'eu-north-1', accountId: '123456789012' })).toBe(
      'arn:aws:lambda:eu-north-1:123456789012:function:local-Publish',
    );
    expect(localStateMachineArn()).toBe('arn:aws:states:us-east-1:000000000000:stateMachine:build-run');
    expect(Object.keys(localEcsSubstitutions()).sort()).toEqual([...ECS_SUBSTITUTIONS].sort());
  });

  it('substitutes inside strings only, so a value cannot break the JSON', () => {
    const x = ph('X');
    const out = substitute({ a: x, b: [`x ${x} y`], [`k${x}`]: 1, n: 2, t: true, z: null }, { X: '"},{' });
    expect(out).toEqual({ a: '"},{', b: ['x "},{ y'], 'k"},{': 1, n: 2, t: true, z: null });
  });

  it('refuses a placeholder without a value, and ignores placeholder-like prose in comments', () => {
    expect(() => substitute({ a: ph('Nope'), b: ph('Other') }, {})).toThrow(/Nope, Other/);
    const prose = `${ph('...')} placeholders`;
    expect(substitute({ Comment: prose }, {})).toEqual({ Comment: prose });
  });
});
