import { describe, expect, it } from 'vitest';
import { verificationTable } from '../../lib/cli/commands/artifacts.ts';
import { AcceptanceCheckSchema } from '../../lib/domain/acceptance.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { quotedRun } from './orchestrator-fakes.ts';

const CHECK = AcceptanceCheckSchema.parse({
  kind: 'cli',
  id: 'km-to-mi',
  title: '10 km is shown as 6.21 miles',
  args: ['10', 'km', 'mi'],
  expect: [{ op: 'number', value: 6.21, tolerance: 0.01 }],
});

describe('bus-build artifacts / show: per-check results', () => {
  it('names each acceptance check of an attempt with its title, result, platform and internal detail', () => {
    const base = quotedRun('binary');
    const run: BuildRun = {
      ...base,
      spec: base.spec && { ...base.spec, checks: [CHECK] },
      verification: [
        {
          attempt: 1,
          passed: false,
          checks: [{ name: 'acceptance.cli', passed: false, detail: 'km-to-mi failed' }],
          internalReason: 'acceptance.cli: "10 km is shown as 6.21 miles" (km-to-mi) failed',
          outcomes: [
            {
              id: 'km-to-mi',
              kind: 'cli',
              passed: false,
              ranOn: 'linux-amd64',
              durationMs: 14,
              detail: 'stdout should show 6.21 (±0.01); saw 10 in "10 Km Mi"',
            },
          ],
          at: '2026-12-07T10:00:00.000Z',
        },
      ],
    };
    const text = verificationTable(run);
    const row = text.split('\n').find((l) => l.includes('check km-to-mi'));
    expect(row).toBeDefined();
    expect(row).toContain('FAIL');
    expect(row).toContain('"10 km is shown as 6.21 miles" on linux-amd64 (14 ms)');
    expect(row).toContain('saw 10 in "10 Km Mi"');
  });
});
