import { describe, expect, it } from 'vitest';
import { branchName } from '../../lib/domain/branch.ts';
import { isRunId, newRunId } from '../../lib/domain/ids.ts';
import { newBuildRun, transition } from '../../lib/domain/lifecycle.ts';
import {
  assertTransition,
  canTransition,
  IllegalTransitionError,
  PHASES,
  type Phase,
} from '../../lib/domain/phases.ts';
import { BuildRunSchema } from '../../lib/domain/run.ts';

const NOW = '2026-11-24T10:00:00.000Z';
const owner = { sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa', emailVerified: false };

const HAPPY: Phase[] = [
  'drafting',
  'quoted',
  'authorized',
  'repo_ready',
  'worker_running',
  'artifact_pending',
  'artifact_ready',
  'delivered',
];

describe('lifecycle', () => {
  it('has the nine seed phases', () => {
    expect(PHASES).toEqual([...HAPPY.slice(0, 8), 'failed']);
  });

  it('allows the happy path in order and nothing that skips a step', () => {
    for (let i = 0; i < HAPPY.length - 1; i++) {
      expect(canTransition(HAPPY[i]!, HAPPY[i + 1]!)).toBe(true);
      for (let j = i + 2; j < HAPPY.length; j++) expect(canTransition(HAPPY[i]!, HAPPY[j]!)).toBe(false);
    }
  });

  it('reaches failed from every live phase, but not from artifact_ready or delivered', () => {
    for (const p of HAPPY.slice(0, 6)) expect(canTransition(p, 'failed')).toBe(true);
    expect(canTransition('artifact_ready', 'failed')).toBe(false);
    expect(canTransition('delivered', 'failed')).toBe(false);
  });

  it('allows the repair loop and the operator retry', () => {
    expect(canTransition('artifact_pending', 'worker_running')).toBe(true);
    expect(canTransition('failed', 'authorized')).toBe(true);
  });

  it('raises a domain error for an illegal transition', () => {
    expect(() => assertTransition('drafting', 'artifact_ready')).toThrow(IllegalTransitionError);
    const run = newBuildRun(owner, NOW);
    expect(() => transition(run, 'authorized', {}, NOW)).toThrow(/cannot move from drafting to authorized/);
    expect(() => transition(run, 'drafting', {}, NOW)).toThrow(IllegalTransitionError);
  });

  it('bumps the version, stamps updatedAt and endedAt on terminal phases', () => {
    const run = newBuildRun(owner, NOW);
    const q = transition(run, 'quoted', {}, '2026-11-24T10:01:00.000Z');
    expect(q.version).toBe(1);
    expect(q.updatedAt).toBe('2026-11-24T10:01:00.000Z');
    expect(q.endedAt).toBeUndefined();
    const f = transition(q, 'failed', {}, '2026-11-24T10:02:00.000Z');
    expect(f.endedAt).toBe('2026-11-24T10:02:00.000Z');
    expect(BuildRunSchema.parse(f)).toEqual(f);
  });

  it('creates opaque, non-sequential run ids', () => {
    const ids = Array.from({ length: 1000 }, newRunId);
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(isRunId(id)).toBe(true);
    const sorted = [...ids].sort();
    expect(sorted).not.toEqual(ids);
  });

  it('names branches build/{YYYYMMDD}/{run_id} and rejects anything else', () => {
    const id = newRunId();
    expect(branchName(id, '2026-11-24T23:59:59.000Z')).toBe(`build/20261124/${id}`);
    expect(() => branchName('run_../../etc', NOW)).toThrow();
    expect(() => branchName(id, 'not a date')).toThrow();
  });
});
