import type { BuildEvent, NewBuildEvent } from './events.ts';
import type { Phase } from './phases.ts';
import type { BuildRun, Message } from './run.ts';

/** Persistence of runs, messages and events. Implemented over DynamoDB in `lib/aws/run-store.ts`. */
export interface RunStore {
  createRun(run: BuildRun): Promise<void>;
  getRun(runId: string): Promise<BuildRun | undefined>;
  /**
   * Persists `next` only if the stored run still has `expected.phase` and `expected.version`.
   * Throws ConflictError otherwise: of two concurrent writers exactly one wins.
   */
  saveRun(next: BuildRun, expected: { phase: Phase; version: number }): Promise<void>;
  appendMessage(message: Message): Promise<void>;
  /** The run's newest `limit` messages (default 200), oldest first. */
  listMessages(runId: string, limit?: number): Promise<Message[]>;
  /** Appends with the next per-run sequence number (no gaps, no duplicates) and returns it. */
  appendEvent(runId: string, event: NewBuildEvent, at?: string): Promise<BuildEvent>;
  /**
   * Appends several events in order, each with the next sequence number. With `commit`, each
   * stored event is tagged with it (see `countCommitEvents`).
   */
  appendEvents(runId: string, events: NewBuildEvent[], opts?: { commit?: string }): Promise<BuildEvent[]>;
  /** How many events tagged `commit` the log holds among those stamped at or after `since`. */
  countCommitEvents(runId: string, commit: string, since: string): Promise<number>;
  listEvents(runId: string, after: number, limit: number): Promise<{ events: BuildEvent[]; lastSeq: number }>;
  listRunsByPhase(
    phase: Phase,
    opts?: { limit?: number; cursor?: string },
  ): Promise<{ runs: BuildRun[]; cursor?: string }>;
  /** Records a key once; returns false when it already existed. Expires after `ttlSeconds`. */
  claimIdempotencyKey(key: string, ttlSeconds: number, data?: Record<string, string>): Promise<boolean>;
  /**
   * Claims `key` as an in-progress lease (`processing`, live for `leaseSeconds`) unless it is
   * `done` or someone else holds a live lease. An expired lease (its holder crashed) or an expired
   * record is taken over. The whole record expires after `ttlSeconds`.
   */
  claimIdempotencyLease(
    key: string,
    opts: { leaseSeconds: number; ttlSeconds: number; data?: Record<string, string> },
  ): Promise<IdempotencyLease>;
  /** Marks `key` done (kept for `ttlSeconds`): later claims answer `done`. */
  completeIdempotencyLease(
    key: string,
    opts: { ttlSeconds: number; data?: Record<string, string> },
  ): Promise<void>;
  /**
   * Deletes the lease if it is still `processing` under `token`, so the next claim processes again.
   * Returns false when the lease was no longer this holder's (taken over, or done meanwhile).
   */
  releaseIdempotencyLease(key: string, token: string): Promise<boolean>;
}

/** Outcome of `RunStore.claimIdempotencyLease`. */
export type IdempotencyLease =
  /** This caller holds the lease (`takeover`: it replaced an expired lease of a crashed holder). */
  | { state: 'claimed'; token: string; takeover: boolean }
  /** Another holder's lease is live until `leaseUntilMs`. */
  | { state: 'in_progress'; leaseUntilMs: number }
  /** Already processed. */
  | { state: 'done'; data: Record<string, string> };

/** Publishes domain events to the event bus (EventBridge on AWS; a no-op or log locally). */
export interface EventPublisher {
  publish(events: BuildEvent[]): Promise<void>;
}

/** Who a run-index entry belongs to: a visitor session, or a contact address (by its key). */
export type RunIndexOwner = { kind: 'session'; sessionId: string } | { kind: 'email'; emailKey: string };

/**
 * Lists of run ids per session and per contact address (`SESSION#…` / `EMAIL#…` items in the run
 * table), so a visitor's runs can be listed without a scan or another index.
 */
export interface RunIndex {
  addRun(owner: RunIndexOwner, runId: string, createdAt: string): Promise<void>;
  removeRun(owner: RunIndexOwner, runId: string): Promise<void>;
  /** Newest first. */
  listRunIds(owner: RunIndexOwner, limit: number): Promise<string[]>;
}

/** Stored state of one one-time code: a requester's sign-in code or a run's contact confirmation. */
export interface StoredOtp {
  codeHash: string;
  validUntilMs: number;
  attempts: number;
  used: boolean;
}

/**
 * One-time codes and rate-limit counters (`lib/aws/login-store.ts`). A code is stored under a key
 * (`loginCodeKey` / `contactCodeKey` in `lib/domain/otp.ts`) that never spells an address out.
 */
export interface LoginStore extends RateCounter {
  /** Stores a fresh code under the key, replacing any previous one (attempts 0, unused). */
  putCode(codeKey: string, code: { codeHash: string; validUntilMs: number }): Promise<void>;
  /**
   * Atomically counts one verification attempt and returns the record after counting; undefined
   * when there is no code, it was used, or its attempts are exhausted (nothing is counted then).
   */
  countAttempt(codeKey: string, maxAttempts: number): Promise<StoredOtp | undefined>;
  /** Marks the code used if it is still unused and is `codeHash`; false when someone was first. */
  markUsed(codeKey: string, codeHash: string, nowMs: number): Promise<boolean>;
}

/** Fixed-window counters for quotas and rate limits (DynamoDB `RATE#…` items with TTL). */
export interface RateCounter {
  /**
   * Counts one hit in the fixed window containing `nowMs` unless `limit` hits were already counted
   * there; `allowed: false` then, with the seconds until the window ends.
   */
  hit(
    key: string,
    limit: number,
    windowSeconds: number,
    nowMs: number,
  ): Promise<{ allowed: boolean; retryAfterSeconds: number }>;
}

/** Outgoing email (SES on AWS; an outbox folder plus a console line locally). */
export interface Mailer {
  send(message: { to: string; subject: string; text: string }): Promise<void>;
}
