import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TABLE_KEYS } from '../aws/table-schema.ts';

/** What the handlers do with the table (see lib/aws/run-store.ts): point reads and queries. */
export const TABLE_READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
] as const;

/** Conditional writes of runs, messages, events and idempotency keys. No Scan, no table admin. */
export const TABLE_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
] as const;

/**
 * The single run table (layout in lib/aws/table-schema.ts): on-demand, point-in-time recovery,
 * TTL for idempotency items, encrypted with the AWS-managed key, retained when the stack is
 * deleted. Grants name the table and its one index, never `index/*`.
 */
export class DataTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_KEYS.phaseIndex,
      partitionKey: { name: TABLE_KEYS.phaseIndexPartitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.phaseIndexSortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /** Read items and query the table and its phase index. */
  grantReadData(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, [...TABLE_READ_ACTIONS]);
  }

  /** Read plus item writes (put, update, delete). */
  grantReadWriteData(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS]);
  }

  /**
   * What the worker needs to append progress events to a run's event log (`appendEvent`): Query
   * the run's items and PutItem, on the base table only, and only on items whose partition key is
   * a run (`RUN#…`), never idempotency keys.
   */
  grantRunEventAppend(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query', 'dynamodb:PutItem'],
      resourceArns: [this.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RUN#*'] } },
    });
  }

  /** The table and its one index (what every grant and the DynamoDB endpoint policy name). */
  get resourceArns(): string[] {
    return [this.table.tableArn, `${this.table.tableArn}/index/${TABLE_KEYS.phaseIndex}`];
  }

  private grant(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: this.resourceArns });
  }
}
