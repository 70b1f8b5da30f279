import type { DynamoRunStore } from '../../lib/aws/run-store.ts';
import type { ArtifactType } from '../../lib/domain/build-spec.ts';
import { FEATURE_DONE_STAGE, newEvent, type ProgressStage } from '../../lib/domain/events.ts';
import { type CoderProgressChannel, coderProgressChannel, type ProgressData } from './coder-progress.ts';

/**
 * Customer-visible progress. The worker can only choose one of the fixed stages (the projection
 * maps each to one sentence); `internalDetail` stays in the backend. Posting is best effort: a
 * progress write that fails is logged and never fails the build.
 */

/** The stages a worker posts, in order. Everything else belongs to the orchestrator. */
export const WORKER_STAGES = ['implementing_web', 'implementing_binary', 'implementing', 'building'] as const;
export type WorkerStage = (typeof WORKER_STAGES)[number] & ProgressStage;

export function implementingStage(artifactType: ArtifactType): WorkerStage {
  if (artifactType === 'web') return 'implementing_web';
  if (artifactType === 'binary') return 'implementing_binary';
  return 'implementing';
}

export interface ProgressReporter {
  post(stage: WorkerStage, internalDetail?: string): Promise<void>;
  /** The coder's rate-limited, deduplicated channel (coder-progress.ts); absent: reports are dropped. */
  openCoderChannel?(): Promise<CoderProgressChannel>;
}

type AppendEvent = Pick<DynamoRunStore, 'appendEvent'> & Partial<Pick<DynamoRunStore, 'listEvents'>>;

/** How far back the worker looks for features an earlier attempt already announced. */
const MAX_EVENTS_SCANNED = 2000;

class ProgressTimeout extends Error {
  override name = 'ProgressTimeout';
}

/**
 * Progress through the run store's event log. A write that takes longer than `timeoutMs` is
 * abandoned (and logged) so a slow table never stalls the build.
 */
export function runStoreProgress(
  store: AppendEvent,
  runId: string,
  log: (line: string) => void,
  timeoutMs = 10_000,
  /** Minimum interval between coder progress events (coder-progress.ts). */
  coderIntervalMs?: number,
): ProgressReporter {
  let last: WorkerStage | undefined;
  const withTimeout = async <T>(work: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ProgressTimeout()), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  const record = async (data: ProgressData & { internalDetail?: string }, label: string) => {
    try {
      await withTimeout(store.appendEvent(runId, newEvent('bus.build.progress.updated', data)));
      log(`progress: ${label}`);
    } catch (err) {
      log(`progress: could not record ${label} (${(err as { name?: string }).name ?? 'Error'})`);
    }
  };
  /** Feature numbers announced by this run's earlier attempts (best effort). */
  const announced = async (): Promise<number[]> => {
    if (!store.listEvents) return [];
    const out: number[] = [];
    try {
      let after = 0;
      for (let scanned = 0; scanned < MAX_EVENTS_SCANNED; ) {
        const page = await withTimeout(store.listEvents(runId, after, 500));
        for (const e of page.events) {
          if (e.type === 'bus.build.progress.updated' && e.data.stage === FEATURE_DONE_STAGE)
            out.push(...(e.data.features ?? []));
        }
        scanned += page.events.length;
        if (page.events.length < 500) break;
        after = page.lastSeq;
      }
    } catch (err) {
      log(`progress: could not read earlier progress (${(err as { name?: string }).name ?? 'Error'})`);
    }
    return out;
  };
  return {
    async post(stage, internalDetail) {
      if (stage === last) return;
      last = stage;
      const data: { stage: WorkerStage; internalDetail?: string } = { stage };
      if (internalDetail) data.internalDetail = internalDetail.slice(0, 500);
      await record(data, stage);
    },
    async openCoderChannel() {
      return coderProgressChannel({
        append: (data) =>
          record(data, data.features ? `${data.stage} ${data.features.join(',')}` : data.stage),
        alreadyDone: await announced(),
        log,
        ...(coderIntervalMs !== undefined ? { minIntervalMs: coderIntervalMs } : {}),
      });
    },
  };
}
