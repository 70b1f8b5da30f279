import { Stack, Validations } from 'aws-cdk-lib';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BuildStack } from '../../lib/infra/build-stack.ts';
import { stackConfig } from '../../lib/infra/config.ts';
import { synthBuildStack, testApp } from './synth.ts';

type Synth = ReturnType<typeof synthBuildStack>;

/** Every `Validations.of(x).acknowledge(...)` in the tree: rule id, reason, construct path. */
function acknowledgements(root: IConstruct): { id: string; reason: string; path: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, unknown>).map(([id, reason]) => ({
          id: id.replace(/^annotation::/i, ''),
          reason: String(reason),
          path: c.node.path,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions', () => {
  let synth: Synth;
  beforeAll(() => {
    synth = synthBuildStack();
  });

  it('reports no unacknowledged errors or warnings', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(synth.stack);
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledgement a written reason', () => {
    const acks = acknowledgements(synth.stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.id, ack.path).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThanOrEqual(80);
    }
  });

  it('acknowledges only the expected rules', () => {
    const ids = new Set(acknowledgements(synth.stack).map((a) => a.id));
    expect([...ids].sort()).toEqual([
      'AwsSolutions-APIG4',
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-SMG4',
    ]);
  });

  it('keeps wildcard resources to X-Ray actions only (the reason behind the IAM5 acknowledgement)', () => {
    const policies = Object.values(synth.template.findResources('AWS::IAM::Policy'));
    const wildcard = policies
      .flatMap(
        (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
      )
      .filter((s) => JSON.stringify(s.Resource).includes('*'));
    expect(wildcard.length).toBeGreaterThan(0);
    for (const s of wildcard) {
      expect(s.Resource).toBe('*');
      const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
      for (const a of actions) expect(a).toMatch(/^xray:/);
    }
  });

  it('passes the app-level validation plugin during synthesis (as bin/app.ts runs it)', () => {
    const app = testApp();
    new BuildStack(app, 'BusBuild-test', { config: stackConfig({ stage: 'test' }) });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('does find a violation when there is one (the check is live)', () => {
    const stack = new Stack(testApp(), 'Insecure');
    new Table(stack, 'NoPitr', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.success).toBe(false);
    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-DDB3');
  });

  it('fails synthesis through the app-level plugin when a finding is not acknowledged', () => {
    const app = testApp();
    const stack = new Stack(app, 'Insecure');
    new Table(stack, 'NoPitr', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow();
  });
});
