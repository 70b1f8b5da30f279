import { describe, expect, it } from 'vitest';
import { DEFAULT_RUNS_LIMIT, parseCliArgs, usage } from '../../lib/cli/args.ts';
import { UsageError } from '../../lib/cli/errors.ts';

const RUN = 'run_aaaaaaaaaaaaaaaaaaaaaaaaaa';

describe('parseCliArgs', () => {
  it('parses settle, retry --no-charge <reason> and runs --unsettled', () => {
    const id = 'run_aaaaaaaaaaaaaaaaaaaaaaaaaa';
    expect(parseCliArgs(['settle', id]).command).toEqual({ name: 'settle', runId: id });
    expect(parseCliArgs(['retry', id, '--no-charge', 'goodwill']).command).toEqual({
      name: 'retry',
      runId: id,
      noCharge: 'goodwill',
    });
    expect(parseCliArgs(['retry', id]).command).toEqual({ name: 'retry', runId: id });
    expect(() => parseCliArgs(['retry', id, '--no-charge', ' '])).toThrow(/needs a reason/);
    expect(() => parseCliArgs(['settle', id, '--no-charge', 'x'])).toThrow(/does not take/);
    expect(parseCliArgs(['runs', '--unsettled']).command).toMatchObject({ name: 'runs', unsettled: true });
  });

  it('parses runs with and without a phase, and the global flags anywhere', () => {
    expect(parseCliArgs(['runs'])).toEqual({
      json: false,
      aws: false,
      command: { name: 'runs', limit: DEFAULT_RUNS_LIMIT },
    });
    expect(parseCliArgs(['--json', 'runs', '--phase', 'quoted', '--limit', '5', '--aws'])).toEqual({
      json: true,
      aws: true,
      command: { name: 'runs', phase: 'quoted', limit: 5 },
    });
    expect(parseCliArgs(['runs', '--phase=failed', '--cursor', 'abc', '--data-dir', '/tmp/d'])).toMatchObject(
      {
        dataDir: '/tmp/d',
        command: { name: 'runs', phase: 'failed', cursor: 'abc' },
      },
    );
  });

  it('parses the run-id commands', () => {
    for (const name of ['show', 'approve', 'artifacts', 'retry'] as const) {
      expect(parseCliArgs([name, RUN]).command).toEqual({ name, runId: RUN });
    }
  });

  it('parses prune and status', () => {
    expect(parseCliArgs(['prune']).command).toEqual({ name: 'prune', dryRun: false });
    expect(parseCliArgs(['prune', '--older-than-days', '7', '--dry-run']).command).toEqual({
      name: 'prune',
      olderThanDays: 7,
      dryRun: true,
    });
    expect(parseCliArgs(['prune', '--older-than-days', '0']).command).toMatchObject({ olderThanDays: 0 });
    expect(parseCliArgs(['status', '--json'])).toMatchObject({ json: true, command: { name: 'status' } });
  });

  it('turns --help and help into help commands', () => {
    expect(parseCliArgs(['--help']).command).toEqual({ name: 'help' });
    expect(parseCliArgs(['-h']).command).toEqual({ name: 'help' });
    expect(parseCliArgs(['help', 'prune']).command).toEqual({ name: 'help', topic: 'prune' });
    expect(parseCliArgs(['show', '--help']).command).toEqual({ name: 'help', topic: 'show' });
  });

  it.each([
    [[], /no command/],
    [['bogus'], /unknown command 'bogus'/],
    [['help', 'bogus'], /unknown command/],
    [['runs', '--phase', 'nope'], /--phase must be one of/],
    [['runs', '--limit', '0'], /between 1 and/],
    [['runs', '--limit', 'ten'], /positive whole number/],
    [['runs', '--cursor', 'x'], /needs --phase/],
    [['runs', 'extra'], /takes no arguments/],
    [['show'], /exactly one <run_id>/],
    [['show', RUN, RUN], /exactly one <run_id>/],
    [['show', 'run_x'], /not a build run id/],
    [['show', RUN, '--phase', 'quoted'], /does not take --phase/],
    [['status', '--dry-run'], /does not take --dry-run/],
    [['prune', '--older-than-days', '-1'], /older-than-days/],
    [['prune', '--older-than-days', 'abc'], /non-negative number/],
    [['runs', '--nope'], /Unknown option/],
    [['runs', '--phase'], /argument missing/],
    [['runs', '--data-dir', ''], /must not be empty/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseCliArgs(argv as string[])).toThrow(UsageError);
    expect(() => parseCliArgs(argv as string[])).toThrow(message);
  });

  it('prints usage for every command', () => {
    const all = usage();
    for (const name of ['runs', 'show', 'approve', 'artifacts', 'retry', 'prune', 'status']) {
      expect(all).toContain(name);
      expect(usage(name as 'runs')).toMatch(new RegExp(`^Usage: bus-build ${name}`));
    }
    expect(all).toContain('--json');
  });
});
