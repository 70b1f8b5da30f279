import { z } from 'zod';
import { DomainError } from './errors.ts';

/** The nine lifecycle phases of the seed, in their happy-path order. */
export const PHASES = [
  'drafting',
  'quoted',
  'authorized',
  'repo_ready',
  'worker_running',
  'artifact_pending',
  'artifact_ready',
  'delivered',
  'failed',
] as const;

export const PhaseSchema = z.enum(PHASES);
export type Phase = z.infer<typeof PhaseSchema>;

/**
 * Allowed transitions. `failed` is reachable from every live phase; a failed run can be
 * reopened by an operator (`failed → authorized`, a new attempt and execution).
 * `artifact_pending → worker_running` is the repair loop.
 * `artifact_ready | delivered | failed → quoted` is a change request after delivery (a revision,
 * lib/domain/versions.ts): only a run with a delivered version may take it
 * ({@link REVISION_ENTRIES}, enforced by `transition`), so a failed first build never re-quotes.
 */
export const TRANSITIONS: Readonly<Record<Phase, readonly Phase[]>> = {
  drafting: ['quoted', 'failed'],
  quoted: ['drafting', 'authorized', 'failed'],
  authorized: ['repo_ready', 'failed'],
  repo_ready: ['worker_running', 'failed'],
  worker_running: ['artifact_pending', 'failed'],
  artifact_pending: ['artifact_ready', 'worker_running', 'failed'],
  artifact_ready: ['delivered', 'quoted'],
  delivered: ['quoted'],
  // An operator retry: straight back to `authorized`, or to `quoted` when the visitor must pay
  // again (a card-paid run whose authorization was released). `→ quoted` is also a change request
  // after delivery (a revision).
  failed: ['authorized', 'quoted'],
};

/** Moves that open a revision: allowed only for a run that has a delivered version. */
export const REVISION_ENTRIES: ReadonlyArray<readonly [Phase, Phase]> = [
  ['artifact_ready', 'quoted'],
  ['delivered', 'quoted'],
  ['failed', 'quoted'],
];

export function isRevisionEntry(from: Phase, to: Phase): boolean {
  return REVISION_ENTRIES.some(([f, t]) => f === from && t === to);
}

export const TERMINAL_PHASES: readonly Phase[] = ['delivered', 'failed'];

export function canTransition(from: Phase, to: Phase): boolean {
  return TRANSITIONS[from].includes(to);
}

export class IllegalTransitionError extends DomainError {
  constructor(
    readonly from: Phase,
    readonly to: Phase,
  ) {
    super('illegal_transition', `This build run cannot move from ${from} to ${to}.`, 409);
  }
}

export function assertTransition(from: Phase, to: Phase): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}
