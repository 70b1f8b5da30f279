import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, it } from 'vitest';
import { TABLE_KEYS } from '../../lib/aws/table-schema.ts';
import { synthBuildStack } from './synth.ts';

describe('DataTable', () => {
  let template: ReturnType<typeof synthBuildStack>['template'];
  beforeAll(() => {
    template = synthBuildStack().template;
  });

  it('is one on-demand table keyed pk/sk (strings)', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
        { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
      ]),
    });
  });

  it('has point-in-time recovery, TTL on expiresAt and server-side encryption', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE_KEYS.ttlAttribute, Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('has the byPhase index (gsi1pk/gsi1sk, projection ALL)', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: TABLE_KEYS.phaseIndex,
          KeySchema: [
            { AttributeName: TABLE_KEYS.phaseIndexPartitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE_KEYS.phaseIndexSortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('is retained when the stack is deleted', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});
