import { readFileSync } from 'node:fs';
import type { Template } from 'aws-cdk-lib/assertions';
import { Template as T } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INFRA_RETRY } from '../../lib/app/orchestrator/record-worker-failure.ts';
import { BuildStack } from '../../lib/infra/build-stack.ts';
import { repoPath } from '../../lib/infra/paths.ts';
import { EXECUTION_TIMEOUT_MARGIN_SECONDS, executionTimeoutSeconds } from '../../lib/infra/state-machine.ts';
import { ASL_FILE } from '../../state-machines/tasks.ts';
import { logicalIdOf, synthBuildStack, testApp, testStackConfig } from './synth.ts';

const ASL = readFileSync(repoPath(ASL_FILE), 'utf8');

/**
 * The physical-name property of a resource type: `Name`, or `<Type>Name` (LogGroupName,
 * BucketName, TableName, QueueName, TopicName, …).
 */
function nameProperties(type: string, properties: Record<string, unknown>): string[] {
  const suffix = type.split('::').pop()!;
  return Object.keys(properties).filter((k) => k === 'Name' || k === `${suffix}Name`);
}

/** A name CloudFormation would reuse on the next create: a literal, or built from literals only. */
function isFixed(value: unknown): boolean {
  const json = JSON.stringify(value);
  return !/AWS::StackId|"Ref"|Fn::GetAtt/.test(json);
}

const RETAINED = new Set(['Retain', 'RetainExceptOnCreate']);

function retainedWithFixedNames(template: Template): string[] {
  return Object.entries(template.toJSON().Resources as Record<string, Record<string, unknown>>)
    .filter(([, r]) => RETAINED.has(String(r.DeletionPolicy)) || RETAINED.has(String(r.UpdateReplacePolicy)))
    .flatMap(([id, r]) => {
      const props = (r.Properties ?? {}) as Record<string, unknown>;
      return nameProperties(String(r.Type), props)
        .filter((k) => isFixed(props[k]))
        .map((k) => `${id} (${String(r.Type)}) ${k}=${JSON.stringify(props[k])}`);
    });
}

describe('a second deploy after a failed first one', () => {
  let template: Template;
  let stack: BuildStack;
  beforeAll(() => {
    ({ stack, template } = synthBuildStack());
  });

  it('retains resources only under generated names (a rollback leaves nothing a re-create collides with)', () => {
    const retained = Object.values(
      template.toJSON().Resources as Record<string, { DeletionPolicy?: string }>,
    ).filter((r) => RETAINED.has(String(r.DeletionPolicy)));
    // Buckets, the table, EFS, log groups, secrets: the check below has something to look at.
    expect(retained.length).toBeGreaterThan(5);
    expect(retainedWithFixedNames(template)).toEqual([]);
  });

  it('names the retained state machine log group after the stack id', () => {
    const id = logicalIdOf(stack.pipeline.logGroup);
    const group = template.toJSON().Resources[id];
    expect(group.DeletionPolicy).toBe('Retain');
    expect(JSON.stringify(group.Properties.LogGroupName)).toContain('AWS::StackId');
  });

  it('catches a retained resource with a fixed name (the check can fail)', () => {
    const fixed = T.fromJSON({
      Resources: {
        Logs: {
          Type: 'AWS::Logs::LogGroup',
          DeletionPolicy: 'Retain',
          Properties: { LogGroupName: '/aws/vendedlogs/states/bus-build-dev-build-run' },
        },
        Joined: {
          Type: 'AWS::S3::Bucket',
          DeletionPolicy: 'RetainExceptOnCreate',
          Properties: { BucketName: { 'Fn::Join': ['-', ['bus', 'build']] } },
        },
        Gone: { Type: 'AWS::SNS::Topic', DeletionPolicy: 'Delete', Properties: { TopicName: 'x' } },
      },
    });
    expect(retainedWithFixedNames(fixed)).toEqual([
      'Logs (AWS::Logs::LogGroup) LogGroupName="/aws/vendedlogs/states/bus-build-dev-build-run"',
      'Joined (AWS::S3::Bucket) BucketName={"Fn::Join":["-",["bus","build"]]}',
    ]);
  });
});

describe('the execution timeout, derived from the attempt budget', () => {
  const states = JSON.parse(ASL).States as Record<string, { TimeoutSeconds: number }>;
  const t = (s: string) => states[s]!.TimeoutSeconds;

  it('outlasts every attempt at its states’ own bounds, and grows with MAX_ATTEMPTS', () => {
    for (const attempts of [1, 3, 5]) {
      // Infrastructure failures add attempts that use no repair attempt (DEFAULT_INFRA_RETRY.max).
      const allAttempts =
        t('PrepareBranch') +
        (attempts + DEFAULT_INFRA_RETRY.max) * (t('AssignWorker') + t('RunWorker') + t('VerifyArtifacts')) +
        t('Publish') +
        t('FailRun');
      const derived = executionTimeoutSeconds(ASL, attempts);
      expect(derived, `${attempts} attempts`).toBeGreaterThan(allAttempts + EXECUTION_TIMEOUT_MARGIN_SECONDS);
      // Retry back-offs included, but not wildly more than the bounds.
      expect(derived).toBeLessThan((allAttempts + EXECUTION_TIMEOUT_MARGIN_SECONDS) * 1.2);
    }
    expect(executionTimeoutSeconds(ASL, 3)).toBeGreaterThan(JSON.parse(ASL).TimeoutSeconds);
  });

  it('is what the deployed definition says, for the configured attempts', () => {
    const base = testStackConfig();
    const stack = new BuildStack(testApp({ cfnValidation: false }), 'Attempts', {
      config: { ...base, orchestrator: { maxAttempts: 5 } },
    });
    // Tokens (ARNs) render as `${Token[…]}` in the unresolved definition; the timeout is a literal.
    const definition = JSON.parse(stack.pipeline.definition.replace(/\$\{Token\[[^\]]+\]\}/g, 'x'));
    expect(definition.TimeoutSeconds).toBe(executionTimeoutSeconds(ASL, 5));
  });

  it('is the figure the README states for the default budget', () => {
    const readme = readFileSync(repoPath('README.md'), 'utf8');
    const stated = /≈ ([\d.]+) h for 3 attempts/.exec(readme);
    expect(stated, 'README "Execution timeout and attempts" states the hours').not.toBeNull();
    expect(Number(stated![1])).toBeCloseTo(executionTimeoutSeconds(ASL, 3) / 3600, 1);
  });
});
