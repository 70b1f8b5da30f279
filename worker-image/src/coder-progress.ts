import { FEATURE_DONE_STAGE, type ProgressStage } from '../../lib/domain/events.ts';
import type { CoderProgress } from './coder/progress-report.ts';

/**
 * The coder's progress channel to the visitor: validated reports (an approved feature's number or
 * a fixed stage) become `bus.build.progress.updated` events, at most one per `minIntervalMs` and
 * never the same twice — a feature is announced once per run (features already announced by an
 * earlier attempt are passed in), a stage once per attempt. Reports that arrive sooner are held:
 * the features held are coalesced into one event ("Done: A; B."), of the stages only the latest is
 * kept. On `close` (the coder is done) held features are recorded at once and a held stage is
 * dropped (the worker's own "compiling and testing" follows). Recording is best effort.
 */

export const DEFAULT_CODER_PROGRESS_INTERVAL_MS = 15_000;

export interface ProgressData {
  stage: ProgressStage;
  features?: number[];
}

export interface CoderProgressChannel {
  report(report: CoderProgress): void;
  /** Records the features still held and stops the timer. */
  close(): Promise<void>;
}

export interface CoderProgressChannelOptions {
  /** Records one event (never throws; failures are the caller's to log). */
  append: (data: ProgressData) => Promise<void>;
  minIntervalMs?: number;
  /** Feature numbers this run already announced. */
  alreadyDone?: Iterable<number>;
  now?: () => number;
  log: (line: string) => void;
}

export function coderProgressChannel(opts: CoderProgressChannelOptions): CoderProgressChannel {
  const interval = opts.minIntervalMs ?? DEFAULT_CODER_PROGRESS_INTERVAL_MS;
  const now = opts.now ?? Date.now;
  const announced = new Set<number>(opts.alreadyDone ?? []);
  const stagesSeen = new Set<string>();
  const heldFeatures: number[] = [];
  let heldStage: ProgressStage | undefined;
  let lastAt = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let closed = false;

  const send = (data: ProgressData) => {
    lastAt = now();
    chain = chain.then(() => opts.append(data)).catch(() => undefined);
  };
  const sendOne = () => {
    if (heldFeatures.length > 0) send({ stage: FEATURE_DONE_STAGE, features: heldFeatures.splice(0) });
    else if (heldStage) {
      send({ stage: heldStage });
      heldStage = undefined;
    }
  };
  const pump = () => {
    if (closed || timer) return;
    if (heldFeatures.length === 0 && !heldStage) return;
    const wait = lastAt + interval - now();
    if (wait <= 0) {
      sendOne();
      pump();
      return;
    }
    timer = setTimeout(() => {
      timer = undefined;
      sendOne();
      pump();
    }, wait);
    timer.unref();
  };

  return {
    report(report) {
      if (closed) return;
      if ('feature' in report) {
        if (announced.has(report.feature)) {
          opts.log(`progress: feature ${report.feature} was already announced`);
          return;
        }
        announced.add(report.feature);
        heldFeatures.push(report.feature);
      } else {
        if (stagesSeen.has(report.stage)) return;
        stagesSeen.add(report.stage);
        heldStage = report.stage;
      }
      pump();
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (heldFeatures.length > 0) send({ stage: FEATURE_DONE_STAGE, features: heldFeatures.splice(0) });
      if (heldStage) opts.log(`progress: dropped the held stage ${heldStage} (the coder is done)`);
      heldStage = undefined;
      await chain;
    },
  };
}
