import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { tableDefinition } from '../../lib/aws/table-schema.ts';
import { closeDynaliteIterators } from '../../lib/local/dynalite-iterators.ts';

/** A real in-memory dynalite with the run table, for store tests. */
export async function startDynalite(
  tableName = 'test-runs',
  opts: {
    closeIterators?: boolean /** A LevelDB directory (classic-level); default in memory. */;
    path?: string;
  } = {},
) {
  if (opts.closeIterators !== false) closeDynaliteIterators(); // as the local stack does
  const server = dynalite({
    ...(opts.path === undefined ? {} : { path: opts.path }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const raw = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await raw.send(new CreateTableCommand(tableDefinition(tableName)));
  const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  return {
    doc,
    tableName,
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
