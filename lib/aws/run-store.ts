import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '../domain/errors.ts';
import { type BuildEvent, BuildEventSchema, type NewBuildEvent } from '../domain/events.ts';
import type { Phase } from '../domain/phases.ts';
import type { IdempotencyLease, RunStore } from '../domain/ports.ts';
import { type BuildRun, BuildRunSchema, type Message, MessageSchema } from '../domain/run.ts';
import { TABLE_KEYS } from './table-schema.ts';

const runPk = (runId: string) => `RUN#${runId}`;
const idemKey = (key: string) => ({ pk: `IDEM#${key}`, sk: 'IDEM' });
const seqKey = (seq: number) => `EVT#${String(seq).padStart(10, '0')}`;
/** A conditional write (or transaction) lost: the item changed or already exists. */
export const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err as { name?: string })?.name === 'ConditionalCheckFailedException' ||
  (err as { name?: string })?.name === 'TransactionCanceledException';

const MAX_APPEND_ATTEMPTS = 50;

/** DynamoDB single-table run store (layout in `table-schema.ts`). */
export class DynamoRunStore implements RunStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private runItem(run: BuildRun) {
    return {
      pk: runPk(run.runId),
      sk: 'RUN',
      [TABLE_KEYS.phaseIndexPartitionKey]: `PHASE#${run.phase}`,
      [TABLE_KEYS.phaseIndexSortKey]: `${run.updatedAt}#${run.runId}`,
      phase: run.phase,
      version: run.version,
      run: JSON.stringify(run),
    };
  }

  async createRun(run: BuildRun): Promise<void> {
    const valid = BuildRunSchema.parse(run);
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: this.runItem(valid),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async getRun(runId: string): Promise<BuildRun | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: runPk(runId), sk: 'RUN' },
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    return BuildRunSchema.parse(JSON.parse(out.Item.run as string));
  }

  async saveRun(next: BuildRun, expected: { phase: Phase; version: number }): Promise<void> {
    const valid = BuildRunSchema.parse(next);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.runItem(valid),
          ConditionExpression: 'attribute_exists(pk) AND #phase = :phase AND #version = :version',
          ExpressionAttributeNames: { '#phase': 'phase', '#version': 'version' },
          ExpressionAttributeValues: { ':phase': expected.phase, ':version': expected.version },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) throw new ConflictError();
      throw err;
    }
  }

  async appendMessage(message: Message): Promise<void> {
    const valid = MessageSchema.parse(message);
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: runPk(valid.runId),
          sk: `MSG#${valid.at}#${valid.messageId}`,
          message: JSON.stringify(valid),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** The newest `limit` messages, oldest first (read backwards: `MSG#{at}#{id}` sorts by time). */
  async listMessages(runId: string, limit = 200): Promise<Message[]> {
    const items = await this.queryAll(runId, 'MSG#', limit, { newestFirst: true });
    return items.reverse().map((i) => MessageSchema.parse(JSON.parse(i.message as string)));
  }

  /**
   * Appends an event as `EVT#{n+1}` where n is the highest stored sequence number, with a
   * condition that the key does not exist yet. A concurrent writer that took n+1 first makes this
   * write fail; it then re-reads and retries. The result: strictly increasing, gap-free,
   * duplicate-free sequence numbers per run.
   */
  async appendEvent(runId: string, event: NewBuildEvent, at = new Date().toISOString()): Promise<BuildEvent> {
    return (await this.append(runId, [event], () => at))[0]!;
  }

  /** Appends several events in order; the last sequence number is read once, not per event. */
  appendEvents(
    runId: string,
    events: NewBuildEvent[],
    opts: { commit?: string } = {},
  ): Promise<BuildEvent[]> {
    return this.append(runId, events, () => new Date().toISOString(), opts.commit);
  }

  /** Reads the log backwards, newest first, until the events are older than `since`. */
  async countCommitEvents(runId: string, commit: string, since: string): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': runPk(runId), ':prefix': 'EVT#' },
          ProjectionExpression: '#at, #commit',
          ExpressionAttributeNames: { '#at': 'at', '#commit': 'commit' },
          ScanIndexForward: false,
          Limit: 100,
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of out.Items ?? []) {
        if (typeof item.at === 'string' && item.at < since) return count;
        if (item.commit === commit) count++;
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return count;
  }

  private async append(
    runId: string,
    events: NewBuildEvent[],
    at: () => string,
    commit?: string,
  ): Promise<BuildEvent[]> {
    const appended: BuildEvent[] = [];
    let next: number | undefined;
    for (const event of events) {
      const stamp = at();
      for (let attempt = 0; ; attempt++) {
        if (attempt >= MAX_APPEND_ATTEMPTS) throw new ConflictError('The event log is busy; please retry.');
        const seq = next ?? (await this.lastSeq(runId)) + 1;
        const full = BuildEventSchema.parse({ ...event, runId, seq, at: stamp });
        try {
          await this.db.send(
            new PutCommand({
              TableName: this.tableName,
              Item: {
                pk: runPk(runId),
                sk: seqKey(seq),
                type: full.type,
                at: full.at,
                ...(commit ? { commit } : {}),
                event: JSON.stringify(full),
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
          appended.push(full);
          next = seq + 1;
          break;
        } catch (err) {
          if (!isConditionFailure(err)) throw err;
          next = undefined; // someone else took it: re-read the log's end
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 5 * 2 ** attempt)));
        }
      }
    }
    return appended;
  }

  private async lastSeq(runId: string): Promise<number> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': runPk(runId), ':prefix': 'EVT#' },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const sk = out.Items?.[0]?.sk as string | undefined;
    return sk ? Number(sk.slice(4)) : 0;
  }

  async listEvents(
    runId: string,
    after: number,
    limit: number,
  ): Promise<{ events: BuildEvent[]; lastSeq: number }> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: {
          ':pk': runPk(runId),
          ':from': seqKey(after + 1),
          ':to': 'EVT#9999999999',
        },
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    const events = (out.Items ?? []).map((i) => BuildEventSchema.parse(JSON.parse(i.event as string)));
    return { events, lastSeq: events.length ? events[events.length - 1]!.seq : after };
  }

  async listRunsByPhase(
    phase: Phase,
    opts: { limit?: number; cursor?: string } = {},
  ): Promise<{ runs: BuildRun[]; cursor?: string }> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: TABLE_KEYS.phaseIndex,
        KeyConditionExpression: '#g = :g',
        ExpressionAttributeNames: { '#g': TABLE_KEYS.phaseIndexPartitionKey },
        ExpressionAttributeValues: { ':g': `PHASE#${phase}` },
        ScanIndexForward: false,
        Limit: opts.limit ?? 50,
        ExclusiveStartKey: opts.cursor
          ? JSON.parse(Buffer.from(opts.cursor, 'base64url').toString())
          : undefined,
      }),
    );
    return {
      runs: (out.Items ?? []).map((i) => BuildRunSchema.parse(JSON.parse(i.run as string))),
      cursor: out.LastEvaluatedKey
        ? Buffer.from(JSON.stringify(out.LastEvaluatedKey)).toString('base64url')
        : undefined,
    };
  }

  async claimIdempotencyKey(
    key: string,
    ttlSeconds: number,
    data: Record<string, string> = {},
  ): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...idemKey(key), [TABLE_KEYS.ttlAttribute]: now + ttlSeconds, data },
          // An expired record (TTL deletion is lazy) may be claimed again.
          ConditionExpression: 'attribute_not_exists(pk) OR #exp < :now',
          ExpressionAttributeNames: { '#exp': TABLE_KEYS.ttlAttribute },
          ExpressionAttributeValues: { ':now': now },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * A consistent read tells `done` and a live lease apart (waiting deliveries poll with reads
   * only); otherwise one conditional PutItem takes the lease: the record is absent, past its TTL
   * (deletion is lazy), or a `processing` lease whose `leaseUntil` has passed. Of concurrent
   * claimers exactly one wins; the others read again. Records written by `claimIdempotencyKey`
   * (no status) count as `done`.
   */
  async claimIdempotencyLease(
    key: string,
    opts: { leaseSeconds: number; ttlSeconds: number; data?: Record<string, string> },
  ): Promise<IdempotencyLease> {
    const Key = idemKey(key);
    const ttl = TABLE_KEYS.ttlAttribute;
    for (let attempt = 0; attempt < 5; attempt++) {
      const { Item: item } = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }),
      );
      const nowMs = Date.now();
      const nowS = Math.floor(nowMs / 1000);
      const live = item && !(typeof item[ttl] === 'number' && item[ttl] < nowS);
      if (live && item.status !== 'processing') {
        return { state: 'done', data: (item.data ?? {}) as Record<string, string> };
      }
      if (live && Number(item.leaseUntil) >= nowMs) {
        return { state: 'in_progress', leaseUntilMs: Number(item.leaseUntil) };
      }
      const token = randomUUID();
      try {
        const out = await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              ...Key,
              [ttl]: nowS + opts.ttlSeconds,
              status: 'processing',
              leaseUntil: nowMs + opts.leaseSeconds * 1000,
              token,
              data: opts.data ?? {},
            },
            ConditionExpression:
              'attribute_not_exists(pk) OR #exp < :nowS OR (#status = :processing AND #lease < :nowMs)',
            ExpressionAttributeNames: { '#exp': ttl, '#status': 'status', '#lease': 'leaseUntil' },
            ExpressionAttributeValues: { ':nowS': nowS, ':processing': 'processing', ':nowMs': nowMs },
            ReturnValues: 'ALL_OLD',
          }),
        );
        const old = out.Attributes;
        return { state: 'claimed', token, takeover: old?.status === 'processing' && old[ttl] >= nowS };
      } catch (err) {
        if (!isConditionFailure(err)) throw err; // someone else claimed or completed it: read again
      }
    }
    throw new ConflictError('The idempotency record is busy; please retry.');
  }

  async completeIdempotencyLease(
    key: string,
    opts: { ttlSeconds: number; data?: Record<string, string> },
  ): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...idemKey(key),
          [TABLE_KEYS.ttlAttribute]: Math.floor(Date.now() / 1000) + opts.ttlSeconds,
          status: 'done',
          data: opts.data ?? {},
        },
      }),
    );
  }

  async releaseIdempotencyLease(key: string, token: string): Promise<boolean> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: idemKey(key),
          ConditionExpression: '#status = :processing AND #token = :token',
          ExpressionAttributeNames: { '#status': 'status', '#token': 'token' },
          ExpressionAttributeValues: { ':processing': 'processing', ':token': token },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  private async queryAll(runId: string, prefix: string, limit: number, opts: { newestFirst?: boolean } = {}) {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': runPk(runId), ':prefix': prefix },
          ExclusiveStartKey: start,
          ConsistentRead: true,
          ScanIndexForward: !opts.newestFirst,
          Limit: limit - items.length,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start && items.length < limit);
    return items.slice(0, limit);
  }
}
