import type { DynamoRunStore } from '../../lib/aws/run-store.ts';
import type { ArtifactType } from '../../lib/domain/build-spec.ts';
import { newEvent, type ProgressStage } from '../../lib/domain/events.ts';

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
}

type AppendEvent = Pick<DynamoRunStore, 'appendEvent'>;

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
): ProgressReporter {
  let last: WorkerStage | undefined;
  return {
    async post(stage, internalDetail) {
      if (stage === last) return;
      last = stage;
      let timer: NodeJS.Timeout | undefined;
      try {
        const data: { stage: WorkerStage; internalDetail?: string } = { stage };
        if (internalDetail) data.internalDetail = internalDetail.slice(0, 500);
        await Promise.race([
          store.appendEvent(runId, newEvent('bus.build.progress.updated', data)),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new ProgressTimeout()), timeoutMs);
          }),
        ]);
        log(`progress: ${stage}`);
      } catch (err) {
        log(`progress: could not record ${stage} (${(err as { name?: string }).name ?? 'Error'})`);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
