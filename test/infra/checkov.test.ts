import { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkovSkips } from '../../lib/infra/checkov.ts';
import { synthBuildStack, testApp } from './synth.ts';

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: { checkov?: { skip?: { id: string; comment: string }[] } };
}

/** The checkov skip ids of a resource. */
const skipIds = (r: Resource) => (r.Metadata?.checkov?.skip ?? []).map((s) => s.id).sort();

describe('checkov findings: fixed or acknowledged with a reason', () => {
  let resources: Record<string, Resource>;
  beforeAll(() => {
    const { template } = synthBuildStack() as { template: Template };
    resources = template.toJSON().Resources;
  });
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  it('versions the artifacts and portal buckets and gives every other bucket a reason (CKV_AWS_21)', () => {
    const buckets = ofType('AWS::S3::Bucket');
    expect(buckets.length).toBeGreaterThanOrEqual(6);
    const versioned = buckets.filter(
      ([, r]) => (r.Properties?.VersioningConfiguration as { Status?: string })?.Status === 'Enabled',
    );
    expect(versioned.map(([id]) => id).sort()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^BucketsArtifacts/),
        expect.stringMatching(/^PortalBucket/),
      ]),
    );
    for (const [id, r] of buckets) {
      const isVersioned = versioned.some(([v]) => v === id);
      expect(skipIds(r).includes('CKV_AWS_21'), id).toBe(!isVersioned);
    }
  });

  it('decides DLQ, reserved concurrency, env encryption and VPC placement for every function', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(20);
    for (const [id, r] of functions) {
      const ids = skipIds(r);
      expect(ids, id).toEqual(expect.arrayContaining(['CKV_AWS_115', 'CKV_AWS_116', 'CKV_AWS_173']));
      // Inside the VPC no CKV_AWS_117 skip is needed; outside it one is.
      expect(ids.includes('CKV_AWS_117'), id).toBe(r.Properties?.VpcConfig === undefined);
    }
    const inVpc = functions.filter(([, r]) => r.Properties?.VpcConfig !== undefined).map(([id]) => id);
    expect(inVpc.length).toBeGreaterThanOrEqual(2);
  });

  it('decides customer-managed keys for log groups, the table and the secrets', () => {
    for (const [type, check] of [
      ['AWS::Logs::LogGroup', 'CKV_AWS_158'],
      ['AWS::DynamoDB::Table', 'CKV_AWS_119'],
      ['AWS::SecretsManager::Secret', 'CKV_AWS_149'],
    ] as const) {
      const found = ofType(type);
      expect(found.length, type).toBeGreaterThan(0);
      for (const [id, r] of found) expect(skipIds(r), id).toContain(check);
    }
  });

  it('writes a real reason for every skip, in checkov’s CloudFormation format', () => {
    const skips = Object.values(resources).flatMap((r) => r.Metadata?.checkov?.skip ?? []);
    expect(skips.length).toBeGreaterThan(50);
    for (const s of skips) {
      expect(s.id).toMatch(/^CKV_AWS_\d+$/);
      expect(s.comment.length, s.id).toBeGreaterThanOrEqual(80);
    }
  });

  it('refuses a new unversioned bucket that has no decision', () => {
    const stack = new Stack(testApp({ cfnValidation: false }), 'NewBucket');
    const bucket = new s3.Bucket(stack, 'Uploads');
    expect(() => checkovSkips(bucket.node.defaultChild as s3.CfnBucket)).toThrow(/no checkov decision/);
    const versioned = new s3.Bucket(stack, 'Kept', { versioned: true });
    expect(checkovSkips(versioned.node.defaultChild as s3.CfnBucket)).toEqual([]);
  });
});
