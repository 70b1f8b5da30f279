/**
 * The single-table layout, shared by the CDK stack and the local bootstrap.
 *
 * | item            | pk            | sk                 | gsi1pk          | gsi1sk                 |
 * |-----------------|---------------|--------------------|-----------------|------------------------|
 * | run             | RUN#{id}      | RUN                | PHASE#{phase}   | {updatedAt}#{id}       |
 * | chat message    | RUN#{id}      | MSG#{at}#{msgId}   |                 |                        |
 * | event           | RUN#{id}      | EVT#{seq:10}       |                 |                        |
 * | idempotency key | IDEM#{key}    | IDEM               |                 |                        |
 *
 * Idempotency items carry `expiresAt` (epoch seconds), the table's TTL attribute.
 */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  phaseIndex: 'byPhase',
  phaseIndexPartitionKey: 'gsi1pk',
  phaseIndexSortKey: 'gsi1sk',
  ttlAttribute: 'expiresAt',
} as const;

export const DEFAULT_TABLE_NAME = 'bus-build-runs';

/** The CreateTable input for environments without CloudFormation (the local stack, tests). */
export function tableDefinition(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' as const },
      { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' as const },
      { AttributeName: TABLE_KEYS.phaseIndexPartitionKey, AttributeType: 'S' as const },
      { AttributeName: TABLE_KEYS.phaseIndexSortKey, AttributeType: 'S' as const },
    ],
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: TABLE_KEYS.phaseIndex,
        KeySchema: [
          { AttributeName: TABLE_KEYS.phaseIndexPartitionKey, KeyType: 'HASH' as const },
          { AttributeName: TABLE_KEYS.phaseIndexSortKey, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'ALL' as const },
      },
    ],
  };
}
