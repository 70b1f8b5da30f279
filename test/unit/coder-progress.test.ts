import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BuildEvent, NewBuildEvent } from '../../lib/domain/events.ts';
import { BuildEventSchema, CODER_STAGE_SENTENCES } from '../../lib/domain/events.ts';
import { publicEventsOf, toPublicEvent } from '../../lib/domain/projection.ts';
import { ProgressRefusal, parseProgressLine } from '../../worker-image/src/coder/progress-report.ts';
import { coderProgressChannel, type ProgressData } from '../../worker-image/src/coder-progress.ts';
import { runStoreProgress } from '../../worker-image/src/progress.ts';

const RUN = 'run_abcdefghijklmnopqrstuvwxyz';
const FEATURES = [
  'Split the total between any number of people.',
  'Add an optional tip percentage',
  'Round each share up to whole cents',
];

function progressEvent(seq: number, data: Record<string, unknown>): BuildEvent {
  return BuildEventSchema.parse({
    runId: RUN,
    seq,
    at: '2026-12-07T10:00:00.000Z',
    type: 'bus.build.progress.updated',
    data,
  });
}

describe('projection of coder progress', () => {
  const project = publicEventsOf({ spec: { features: FEATURES } as never });

  it("quotes only the approved spec's own feature titles, by number", () => {
    expect(project(progressEvent(1, { stage: 'feature_done', features: [1] }))?.message).toBe(
      'Done: Split the total between any number of people.',
    );
    expect(project(progressEvent(2, { stage: 'feature_done', features: [2, 3] }))?.message).toBe(
      'Done: Add an optional tip percentage; Round each share up to whole cents.',
    );
  });

  it('an unknown number or a run without a spec falls back to a fixed sentence', () => {
    const unknown = progressEvent(3, { stage: 'feature_done', features: [9] });
    expect(project(unknown)?.message).toBe('The build worker finished a part of your tool.');
    expect(toPublicEvent(progressEvent(4, { stage: 'feature_done', features: [1] }))?.message).toBe(
      'The build worker finished a part of your tool.',
    );
  });

  it('coder stages are fixed sentences; internal detail never shows', () => {
    for (const [stage, sentence] of Object.entries(CODER_STAGE_SENTENCES)) {
      const pub = project(progressEvent(5, { stage, internalDetail: 'tool/tool.go secret-123' }));
      expect(pub?.message).toBe(sentence);
      expect(JSON.stringify(pub)).not.toContain('secret-123');
    }
  });

  it('the event refuses anything but feature numbers', () => {
    for (const features of [['Split the total'], [0], [13], [], [1.5]]) {
      expect(() => progressEvent(6, { stage: 'feature_done', features })).toThrow();
    }
    expect(() => progressEvent(6, { stage: 'feature_done', text: 'hello' })).toThrow();
  });
});

describe('external agent progress lines', () => {
  it('reads BUSDK-PROGRESS lines and refuses anything but a feature number/title or a stage', () => {
    expect(parseProgressLine('BUSDK-PROGRESS {"feature":2}', FEATURES)).toEqual({ feature: 2 });
    expect(parseProgressLine('  BUSDK-PROGRESS {"stage":"testing"}  ', FEATURES)).toEqual({
      stage: 'testing',
    });
    expect(
      parseProgressLine('BUSDK-PROGRESS {"feature":"Add an optional tip percentage"}', FEATURES),
    ).toEqual({
      feature: 2,
    });
    expect(parseProgressLine('compiling…', FEATURES)).toBeUndefined();
    for (const bad of [
      'BUSDK-PROGRESS {"feature":"/tmp/busdk-worker/repo/tool.go"}',
      'BUSDK-PROGRESS {"message":"almost there"}',
      'BUSDK-PROGRESS {"feature":4}',
      'BUSDK-PROGRESS not json',
      'BUSDK-PROGRESS {"stage":"deploying to prod"}',
    ]) {
      expect(parseProgressLine(bad, FEATURES), bad).toBeInstanceOf(ProgressRefusal);
    }
  });
});

describe('coder progress channel', () => {
  let now: number;
  let sent: ProgressData[];
  let lines: string[];
  beforeEach(() => {
    vi.useFakeTimers();
    now = 1_000_000;
    sent = [];
    lines = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const channel = (alreadyDone: number[] = []) =>
    coderProgressChannel({
      append: async (data) => {
        sent.push(data);
      },
      minIntervalMs: 10_000,
      alreadyDone,
      now: () => now,
      log: (l) => lines.push(l),
    });
  const advance = async (ms: number) => {
    now += ms;
    await vi.advanceTimersByTimeAsync(ms);
  };

  it('sends at most one event per interval, coalesces held features and never repeats one', async () => {
    const c = channel();
    c.report({ stage: 'planning' });
    c.report({ feature: 1 });
    c.report({ feature: 1 });
    c.report({ stage: 'planning' });
    c.report({ feature: 3 });
    await advance(0);
    expect(sent).toEqual([{ stage: 'planning' }]);
    await advance(9_999);
    expect(sent).toHaveLength(1);
    await advance(1);
    expect(sent).toEqual([{ stage: 'planning' }, { stage: 'feature_done', features: [1, 3] }]);
    c.report({ stage: 'testing' });
    c.report({ stage: 'fixing' }); // the latest held stage wins
    await advance(10_000);
    expect(sent.slice(2)).toEqual([{ stage: 'fixing' }]);
    c.report({ feature: 2 });
    await c.close();
    expect(sent.slice(3)).toEqual([{ stage: 'feature_done', features: [2] }]);
    c.report({ feature: 2 });
    expect(sent).toHaveLength(4);
  });

  it('skips features an earlier attempt announced; a held stage is dropped on close', async () => {
    const c = channel([1, 2]);
    c.report({ feature: 1 });
    c.report({ feature: 3 });
    await advance(0);
    c.report({ stage: 'final_checks' });
    await c.close();
    await advance(20_000);
    expect(sent).toEqual([{ stage: 'feature_done', features: [3] }]);
    expect(lines).toContain('progress: feature 1 was already announced');
  });
});

describe('run store progress for the coder', () => {
  it("appends the channel's events and reads the features earlier attempts announced", async () => {
    const appended: NewBuildEvent[] = [];
    const store = {
      appendEvent: async (_runId: string, event: NewBuildEvent) => {
        appended.push(event);
        return {} as BuildEvent;
      },
      listEvents: async (runId: string, after: number) => {
        expect(runId).toBe(RUN);
        return after > 0
          ? { events: [], lastSeq: after }
          : {
              events: [
                progressEvent(1, { stage: 'implementing' }),
                progressEvent(2, { stage: 'feature_done', features: [2] }),
              ],
              lastSeq: 2,
            };
      },
    };
    const lines: string[] = [];
    const progress = runStoreProgress(store, RUN, (l) => lines.push(l), 1000, 0);
    const c = await progress.openCoderChannel!();
    c.report({ feature: 2 });
    c.report({ feature: 1 });
    await c.close();
    expect(appended).toEqual([
      { type: 'bus.build.progress.updated', data: { stage: 'feature_done', features: [1] } },
    ]);
    expect(lines).toContain('progress: feature_done 1');
  });
});
