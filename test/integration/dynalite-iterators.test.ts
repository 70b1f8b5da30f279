import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynaliteAbstractLevel } from '../../lib/local/dynalite-iterators.ts';
import { startDynalite } from '../support/dynalite.ts';

/**
 * The local DynamoDB (dynalite 4) must not keep an iterator per read: every Query and Scan opens a
 * LevelDB iterator, and each one has to be closed (detached from the database) when it is done.
 * Counted through abstract-level's public attach/detach of resources on the database, for both of
 * dynalite's stores: in memory (memory-level) and on disk (classic-level, as the local stack runs).
 */
let open = 0;
const proto = dynaliteAbstractLevel().AbstractLevel.prototype as {
  attachResource(r: unknown): void;
  detachResource(r: unknown): void;
};
const attach = proto.attachResource;
const detach = proto.detachResource;

type Db = Awaited<ReturnType<typeof startDynalite>>;
const diskDir = mkdtempSync(join(tmpdir(), 'dynalite-iterators-'));
const stores: Db[] = [];
beforeAll(() => {
  proto.attachResource = function (r) {
    open++;
    attach.call(this, r);
  };
  proto.detachResource = function (r) {
    open--;
    detach.call(this, r);
  };
});
afterAll(async () => {
  proto.attachResource = attach;
  proto.detachResource = detach;
  await Promise.all(stores.map((s) => s.stop()));
  rmSync(diskDir, { recursive: true, force: true });
});

const settle = () => new Promise((r) => setTimeout(r, 50));

describe.each([
  { store: 'in memory (memory-level)', path: undefined },
  { store: 'on disk (classic-level, as the local stack)', path: join(diskDir, 'dynamodb') },
])('dynalite iterators, $store', ({ path }) => {
  let db: Db;
  beforeAll(async () => {
    db = await startDynalite('iterator-test', path === undefined ? {} : { path }); // with the local stack's fix
    stores.push(db);
    for (let i = 0; i < 5; i++)
      await db.doc.send(new PutCommand({ TableName: db.tableName, Item: { pk: 'RUN#a', sk: `MSG#${i}` } }));
  });

  it('300 queries and scans (to the end, stopped by Limit, backwards) leave no iterator open', async () => {
    await settle();
    const before = open;
    for (let i = 0; i < 100; i++) {
      await db.doc.send(
        new QueryCommand({
          TableName: db.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': 'RUN#a', ':p': 'MSG#' },
          ...(i % 2 ? { Limit: 2 } : {}),
        }),
      );
      await db.doc.send(
        new QueryCommand({
          TableName: db.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': 'RUN#a' },
          ScanIndexForward: false,
          Limit: 1,
        }),
      );
      await db.doc.send(new ScanCommand({ TableName: db.tableName, Limit: 3 }));
    }
    await settle();
    expect(open - before).toBe(0);
  });
});
