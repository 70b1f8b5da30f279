import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { TABLE_KEYS } from '../aws/table-schema.ts';
import { log } from '../log.ts';

export interface BootstrapOptions {
  dynamoUrl: string;
  s3Url: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  tableName: string;
  buckets: string[];
  quiet?: boolean;
}

/**
 * Creates the run table (keys, `byPhase` GSI, TTL) and the buckets if they are missing.
 * Idempotent: safe on every start against a persisted data dir.
 */
export async function bootstrapResources(opts: BootstrapOptions): Promise<void> {
  const common = { region: opts.region, credentials: opts.credentials, maxAttempts: 2 };
  const dynamo = new DynamoDBClient({ ...common, endpoint: opts.dynamoUrl });
  const s3 = new S3Client({ ...common, endpoint: opts.s3Url, forcePathStyle: true });
  try {
    await ensureTable(dynamo, opts.tableName, opts.quiet);
    for (const bucket of opts.buckets) await ensureBucket(s3, bucket, opts.quiet);
  } finally {
    dynamo.destroy();
    s3.destroy();
  }
}

async function ensureTable(client: DynamoDBClient, tableName: string, quiet?: boolean): Promise<void> {
  const k = TABLE_KEYS;
  let exists = false;
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: tableName }));
    exists = true;
    const hasIndex = out.Table?.GlobalSecondaryIndexes?.some((i) => i.IndexName === k.phaseIndex);
    if (!hasIndex)
      log.warn('local table exists without the phase index; delete the data dir to recreate it', {
        table: tableName,
        index: k.phaseIndex,
      });
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
  if (!exists) {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: k.partitionKey, AttributeType: 'S' },
            { AttributeName: k.sortKey, AttributeType: 'S' },
            { AttributeName: k.phaseIndexPartitionKey, AttributeType: 'S' },
            { AttributeName: k.phaseIndexSortKey, AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: k.partitionKey, KeyType: 'HASH' },
            { AttributeName: k.sortKey, KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: [
            {
              IndexName: k.phaseIndex,
              KeySchema: [
                { AttributeName: k.phaseIndexPartitionKey, KeyType: 'HASH' },
                { AttributeName: k.phaseIndexSortKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            },
          ],
        }),
      );
      if (!quiet) log.info('local table created', { table: tableName });
    } catch (err) {
      // A concurrent bootstrap won the race: fine.
      if ((err as { name?: string }).name !== 'ResourceInUseException') throw err;
    }
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: k.ttlAttribute, Enabled: true },
      }),
    );
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'UnknownOperationException') {
      if (!quiet && !exists)
        log.info(
          'dynalite has no TTL support; expired items are kept locally (readers must check expiresAt)',
          {
            table: tableName,
            attribute: k.ttlAttribute,
          },
        );
    } else if (name !== 'ValidationException') {
      // ValidationException = TTL already enabled (real DynamoDB, e.g. DynamoDB Local).
      throw err;
    }
  }
}

async function ensureBucket(client: S3Client, bucket: string, quiet?: boolean): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    if (!quiet) log.info('local bucket created', { bucket });
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  }
}
