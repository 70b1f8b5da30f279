import { describe, expect, it } from 'vitest';
import type { BuildRun } from '../../lib/domain/run.ts';
import {
  coderFigures,
  type EvalReport,
  median,
  type RequestResult,
  renderMarkdown,
  renderTable,
  sumFigures,
  summarize,
} from '../eval/report.ts';
import { acceptanceResults } from '../eval/runner.ts';

const base: RequestResult = {
  id: 'x',
  kind: 'web',
  runId: 'run_x',
  outcome: 'verified',
  reason: null,
  questions: 0,
  quoted: null,
  attempts: 1,
  steps: null,
  tokens: null,
  checks: null,
  wallSeconds: 10,
  buildSeconds: 8,
};

describe('eval figures from result.json', () => {
  it('reads steps and tokens by kind from the coder report, whatever it is called', () => {
    expect(
      coderFigures({
        ok: true,
        coder: {
          steps: 8,
          tokens: { input: 9000, cachedInput: 120000, cacheWrite: 0, output: 3000, budget: 1 },
        },
      }),
    ).toEqual({ steps: 8, tokens: { input: 9000, cached: 120000, output: 3000 } });
    expect(
      coderFigures({
        report: { steps: 2, usage: { inputTokens: 10, cacheReadInputTokens: 4, outputTokens: 5 } },
      }),
    ).toEqual({ steps: 2, tokens: { input: 10, cached: 4, output: 5 } });
    expect(coderFigures({ steps: 3 })).toEqual({ steps: 3 });
  });

  it('guesses nothing when the worker recorded no figures', () => {
    expect(coderFigures({ ok: true, summary: 'done' })).toEqual({});
    expect(coderFigures(undefined)).toEqual({});
    expect(coderFigures({ coder: { steps: -1, tokens: { input: 'many' } } })).toEqual({});
    expect(sumFigures([{}, {}])).toEqual({ steps: null, tokens: null });
  });

  it('adds up the attempts', () => {
    expect(
      sumFigures([
        { steps: 4, tokens: { input: 1, cached: 2, output: 3 } },
        {},
        { steps: 1, tokens: { input: 10, cached: 20, output: 30 } },
      ]),
    ).toEqual({ steps: 5, tokens: { input: 11, cached: 22, output: 33 } });
  });
});

describe('eval totals and reports', () => {
  const results: RequestResult[] = [
    { ...base, id: 'a', wallSeconds: 30, steps: 5, tokens: { input: 100, cached: 50, output: 10 } },
    { ...base, id: 'b', wallSeconds: 10, attempts: 3 },
    { ...base, id: 'c', outcome: 'failed', reason: 'tests_failed: TestSum | x', wallSeconds: 99 },
    { ...base, id: 'd', wallSeconds: 20, checks: [{ title: '2 + 2 is 4', passed: true }] },
  ];

  it('computes the verified rate and the median time of the verified ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNull();
    expect(summarize(results)).toEqual({
      requests: 4,
      verified: 3,
      verifiedRate: 0.75,
      medianSecondsToVerified: 20,
      attempts: 6,
      steps: 5,
      tokens: { input: 100, cached: 50, output: 10 },
    });
  });

  it('renders the table and the Markdown with the reason and the checks', () => {
    const report: EvalReport = {
      startedAt: 's',
      finishedAt: 'f',
      config: { intake: 'openai', coder: 'openai' },
      results,
      totals: summarize(results),
    };
    const text = renderTable(report);
    expect(text).toMatch(/^ID +KIND +OUTCOME/);
    expect(text).toMatch(/c +web +failed +1 .*tests_failed: TestSum \| x/);
    expect(text).toMatch(/d +web +verified .* 1\/1 /);
    expect(text).toContain('verified 3/4 (75 %), median time to a verified artifact 20.0 s');
    const md = renderMarkdown(report);
    expect(md).toContain('tests\\_failed: TestSum \\| x');
    expect(md).toContain('- d: passed — 2 + 2 is 4');
  });

  it('takes the acceptance checks from the last verification only, titled from the spec', () => {
    const outcome = (id: string, passed: boolean, detail?: string) => ({
      id,
      kind: 'cli',
      passed,
      ranOn: 'linux-amd64',
      durationMs: 3,
      ...(detail ? { detail } : {}),
    });
    const spec = {
      checks: [
        { id: 'km', title: '10 km is 6.21 miles' },
        { id: 'c', title: '100 C is 212 F' },
      ],
    } as unknown as BuildRun['spec'];
    const verification = [
      { attempt: 1, passed: false, at: 't', checks: [], outcomes: [outcome('km', false, 'got 6')] },
      {
        attempt: 2,
        passed: false,
        at: 't',
        checks: [],
        outcomes: [outcome('km', true), outcome('c', false, 'got 100')],
      },
    ] as unknown as BuildRun['verification'];
    expect(acceptanceResults({ verification, spec })).toEqual([
      { title: '10 km is 6.21 miles', passed: true },
      { title: '100 C is 212 F', passed: false, detail: 'got 100' },
    ]);
    expect(acceptanceResults({ verification: [], spec })).toBeNull();
    expect(
      acceptanceResults({ verification: [{ attempt: 1, passed: true, at: 't', checks: [] }], spec }),
    ).toBeNull();
  });
});
