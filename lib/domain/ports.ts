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
  listMessages(runId: string, limit?: number): Promise<Message[]>;
  /** Appends with the next per-run sequence number (no gaps, no duplicates) and returns it. */
  appendEvent(runId: string, event: NewBuildEvent, at?: string): Promise<BuildEvent>;
  listEvents(runId: string, after: number, limit: number): Promise<{ events: BuildEvent[]; lastSeq: number }>;
  listRunsByPhase(
    phase: Phase,
    opts?: { limit?: number; cursor?: string },
  ): Promise<{ runs: BuildRun[]; cursor?: string }>;
  /** Records a key once; returns false when it already existed. Expires after `ttlSeconds`. */
  claimIdempotencyKey(key: string, ttlSeconds: number, data?: Record<string, string>): Promise<boolean>;
}

/** Publishes domain events to the event bus (EventBridge on AWS; a no-op or log locally). */
export interface EventPublisher {
  publish(events: BuildEvent[]): Promise<void>;
}
