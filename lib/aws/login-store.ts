import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { rateWindow } from '../domain/otp.ts';
import type { LoginStore, RunIndex, RunIndexOwner, StoredOtp } from '../domain/ports.ts';
import { isConditionFailure } from './run-store.ts';
import { TABLE_KEYS } from './table-schema.ts';

/**
 * Email login and run-index items in the run table (single-table; keys never spell an address
 * out, `emailKey` is the SHA-256 of the normalised address):
 *
 * | item              | pk                          | sk            | expiresAt (TTL)        |
 * |-------------------|-----------------------------|---------------|------------------------|
 * | sign-in code      | OTP#login:{emailKey}:{sessionId} | OTP      | code validity + 1 day  |
 * | contact code      | OTP#contact:{runId}         | OTP           | code validity + 1 day  |
 * | rate-limit window | RATE#{key}#{windowStart}    | RATE          | window end             |
 * | runs of a session | SESSION#{sessionId}         | RUN#{runId}   |                        |
 * | runs of an email  | EMAIL#{emailKey}            | RUN#{runId}   | (confirmed contacts)   |
 *
 * Index items carry `createdAt` so listings come out newest first.
 */

const indexPk = (owner: RunIndexOwner) =>
  owner.kind === 'session' ? `SESSION#${owner.sessionId}` : `EMAIL#${owner.emailKey}`;
const otpKey = (codeKey: string) => ({ pk: `OTP#${codeKey}`, sk: 'OTP' });
const TTL = TABLE_KEYS.ttlAttribute;

export class DynamoLoginStore implements LoginStore, RunIndex {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async putCode(codeKey: string, code: { codeHash: string; validUntilMs: number }): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...otpKey(codeKey),
          codeHash: code.codeHash,
          validUntilMs: code.validUntilMs,
          attempts: 0,
          used: false,
          [TTL]: Math.ceil(code.validUntilMs / 1000) + 24 * 3600,
        },
      }),
    );
  }

  async countAttempt(codeKey: string, maxAttempts: number): Promise<StoredOtp | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: otpKey(codeKey),
          UpdateExpression: 'SET attempts = attempts + :one',
          ConditionExpression: 'attribute_exists(pk) AND used = :false AND attempts < :max',
          ExpressionAttributeValues: { ':one': 1, ':false': false, ':max': maxAttempts },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const a = out.Attributes;
      if (!a) return undefined;
      return {
        codeHash: String(a.codeHash),
        validUntilMs: Number(a.validUntilMs),
        attempts: Number(a.attempts),
        used: a.used === true,
      };
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  async markUsed(codeKey: string, codeHash: string, nowMs: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: otpKey(codeKey),
          UpdateExpression: 'SET used = :true',
          ConditionExpression: 'used = :false AND codeHash = :hash AND validUntilMs > :now',
          ExpressionAttributeValues: { ':true': true, ':false': false, ':hash': codeHash, ':now': nowMs },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async hit(
    key: string,
    limit: number,
    windowSeconds: number,
    nowMs: number,
  ): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const { start, retryAfterSeconds } = rateWindow(nowMs, windowSeconds);
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `RATE#${key}#${start}`, sk: 'RATE' },
          UpdateExpression: 'SET #exp = :exp ADD hits :one',
          ConditionExpression: 'attribute_not_exists(hits) OR hits < :limit',
          ExpressionAttributeNames: { '#exp': TTL },
          ExpressionAttributeValues: {
            ':one': 1,
            ':limit': limit,
            ':exp': Math.ceil(start / 1000) + windowSeconds,
          },
        }),
      );
      return { allowed: true, retryAfterSeconds };
    } catch (err) {
      if (isConditionFailure(err)) return { allowed: false, retryAfterSeconds };
      throw err;
    }
  }

  async addRun(owner: RunIndexOwner, runId: string, createdAt: string): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: indexPk(owner), sk: `RUN#${runId}`, runId, createdAt },
      }),
    );
  }

  async removeRun(owner: RunIndexOwner, runId: string): Promise<void> {
    await this.db.send(
      new DeleteCommand({ TableName: this.tableName, Key: { pk: indexPk(owner), sk: `RUN#${runId}` } }),
    );
  }

  async listRunIds(owner: RunIndexOwner, limit: number): Promise<string[]> {
    const items: { runId: string; createdAt: string }[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :run)',
          ExpressionAttributeValues: { ':pk': indexPk(owner), ':run': 'RUN#' },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      for (const i of out.Items ?? []) items.push({ runId: String(i.runId), createdAt: String(i.createdAt) });
      start = out.LastEvaluatedKey;
    } while (start && items.length < 1000);
    items.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    return items.slice(0, limit).map((i) => i.runId);
  }
}
